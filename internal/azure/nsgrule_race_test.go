package azure_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/vamp-canary/terraform-provider-vamp/internal/azure"
	"github.com/vamp-canary/terraform-provider-vamp/internal/azure/azurefake"
)

// otherProcess is a second writer, as another Terraform run or tool would be: it shares nothing
// with the client under test, not even the in-process lock.
func otherProcess(o *azure.Options) { o.DisableProcessLock = true }

// storedRule reads the fake's allow-sava-9050, the rule the writers race for.
func storedRule(t *testing.T, f *azurefake.Fake) (port, desc string) {
	const name = "allow-sava-9050"
	t.Helper()
	for _, r := range f.SecurityRules(nsgID) {
		if strings.EqualFold(*r.Name, name) {
			return *r.Properties.DestinationPortRange, *r.Properties.Description
		}
	}
	t.Fatalf("rule %q is not on the NSG", name)
	return "", ""
}

func wantConflict412(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ce *azure.ConflictError
	if !errors.As(err, &ce) || ce.Field != "name" || ce.Other != "allow-sava-9050" {
		t.Fatalf("want a *ConflictError on name naming the rule, got %T %v", err, err)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusPreconditionFailed || re.ErrorCode != "PreconditionFailed" {
		t.Fatalf("want Azure's 412 PreconditionFailed as the cause, got %v", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not mention %q:\n%v", p, err)
		}
	}
}

// Writer A checks that the name is free; before A writes, writer B (another process) creates a
// rule of the same name. A's If-None-Match: * write is refused with 412 and A reports B's rule.
func TestNSGRuleCreateRaceLoserGetsConflict(t *testing.T) {
	f := seededFake()
	a := newClient(t, f)
	b := newClient(t, f, otherProcess)
	theirs := gatewayNSGRule()
	theirs.Priority, theirs.DestinationPortRanges, theirs.Description = 300, []string{"9051"}, "written by B"
	var bErr error
	f.AfterNextRuleList(nsgID, func() { _, bErr = b.CreateNSGRule(ctx(t), theirs) })

	_, err := a.CreateNSGRule(ctx(t), gatewayNSGRule())
	if bErr != nil {
		t.Fatalf("writer B: %v", bErr)
	}
	wantConflict412(t, err, `"allow-sava-9050"`, "another writer created", "written by B", "priority 300", "[9051]", "nothing was created or overwritten", "terraform import")
	if port, desc := storedRule(t, f); port != "9051" || desc != "written by B" {
		t.Errorf("B's rule was overwritten: port %s description %q", port, desc)
	}
	if s := f.Stats(); s.RuleIfNoneMatch < 2 || s.PreconditionFailed != 1 {
		t.Errorf("stats: If-None-Match sent %d times (want both creates), 412s %d (want 1)", s.RuleIfNoneMatch, s.PreconditionFailed)
	}
}

// The same race without the conditional headers loses B's rule silently: the headers are what
// protect it, not the name check.
func TestNSGRuleCreateRaceWithoutConditionsOverwrites(t *testing.T) {
	f := seededFake()
	a := newClient(t, f, func(o *azure.Options) { o.DisableIfMatch = true })
	b := newClient(t, f, otherProcess)
	theirs := gatewayNSGRule()
	theirs.Priority, theirs.DestinationPortRanges, theirs.Description = 300, []string{"9051"}, "written by B"
	f.AfterNextRuleList(nsgID, func() {
		if _, err := b.CreateNSGRule(ctx(t), theirs); err != nil {
			t.Errorf("writer B: %v", err)
		}
	})
	if _, err := a.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatalf("unconditional write failed: %v", err)
	}
	if port, desc := storedRule(t, f); port != "9050" || desc != "sava/9050" {
		t.Errorf("want B's rule silently overwritten without the headers; stored port %s description %q", port, desc)
	}
}

// Many writers in separate processes race for one name: exactly one wins, each loser gets a
// *ConflictError naming the rule, and the stored rule is the winner's.
func TestNSGRuleCreateRaceManyWriters(t *testing.T) {
	const n = 4
	f := seededFake()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		c := newClient(t, f, otherProcess)
		spec := gatewayNSGRule()
		spec.Priority, spec.Description = int32(300+i), fmt.Sprintf("writer %d", i)
		spec.DestinationPortRanges = []string{fmt.Sprint(9100 + i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateNSGRule(ctx(t), spec)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		var ce *azure.ConflictError
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both succeeded", winner, i)
			}
			winner = i
		case errors.As(err, &ce) && ce.Field == "name" && strings.Contains(err.Error(), `"allow-sava-9050"`):
		default:
			t.Errorf("writer %d: want a name conflict, got %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer won: %v", errs)
	}
	port, desc := storedRule(t, f)
	if port != fmt.Sprint(9100+winner) || desc != fmt.Sprintf("writer %d", winner) {
		t.Errorf("stored rule (port %s, %q) is not the winner's (writer %d)", port, desc, winner)
	}
	t.Logf("winner %d; stats %+v", winner, f.Stats())
}

// A changes its rule; between A's read and A's write, B changes it too. A's If-Match write is
// refused and reported; B's change stays.
func TestNSGRuleUpdateRaceLoserGetsConflict(t *testing.T) {
	f := seededFake()
	a := newClient(t, f)
	b := newClient(t, f, otherProcess)
	if _, err := a.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatal(err)
	}
	theirs := gatewayNSGRule()
	theirs.Description = "edited by B"
	f.AfterNextRuleList(nsgID, func() {
		if _, err := b.EnsureNSGRule(ctx(t), theirs); err != nil {
			t.Errorf("writer B: %v", err)
		}
	})
	mine := gatewayNSGRule()
	mine.DestinationPortRanges = []string{"9060"}
	_, err := a.EnsureNSGRule(ctx(t), mine)
	wantConflict412(t, err, "changed or removed", "edited by B", "nothing was updated or overwritten", "terraform plan")
	if port, desc := storedRule(t, f); port != "9050" || desc != "edited by B" {
		t.Errorf("B's edit was overwritten: port %s description %q", port, desc)
	}
	// With nobody racing, the update goes through on the etag it reads.
	if _, err := a.EnsureNSGRule(ctx(t), mine); err != nil {
		t.Fatalf("uncontended update: %v", err)
	}
	if port, _ := storedRule(t, f); port != "9060" {
		t.Errorf("update not stored: port %s", port)
	}
	if s := f.Stats(); s.RuleIfMatch < 3 {
		t.Errorf("updates sent If-Match %d times, want at least 3", s.RuleIfMatch)
	}
}

// The fake answers a stale conditional write as ARM does: 412 with an ARM error body.
func TestNSGRuleDeleteSendsIfMatch(t *testing.T) {
	f := seededFake()
	c := newClient(t, f)
	if _, err := c.CreateNSGRule(ctx(t), gatewayNSGRule()); err != nil {
		t.Fatal(err)
	}
	before := f.Stats().RuleIfMatch
	if err := c.DeleteNSGRule(ctx(t), nsgID, "allow-sava-9050"); err != nil {
		t.Fatal(err)
	}
	if got := f.Stats().RuleIfMatch - before; got != 1 {
		t.Errorf("delete sent If-Match %d times, want 1", got)
	}
}
