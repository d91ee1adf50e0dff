package rollout

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every kind of webhook is called with its payload, on real HTTP servers; the pre-rollout one
// before any weight changes, the others after the weights took effect.
func TestWebhooksGetTheRightPayloads(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	pre, step, promo, rb := newHookServer(t, 200, ""), newHookServer(t, 204, ""), newHookServer(t, 202, ""), newHookServer(t, 200, "")
	var weightsAtPre, weightsAtStep []map[string]int
	pre.onCall = func(Payload) { weightsAtPre = append(weightsAtPre, c.weights) }
	step.onCall = func(Payload) { weightsAtStep = append(weightsAtStep, c.weights) }
	p := basePolicy()
	p.Steps = []int{50, 100}
	meta := map[string]string{"ticket": "REL-42"}
	p.Webhooks = []Webhook{
		{Name: "load-test-ready", Type: HookPreRollout, URL: pre.URL, Metadata: meta},
		{Name: "chat", Type: HookStep, URL: step.URL},
		{Name: "release-notes", Type: HookPromotion, URL: promo.URL, Timeout: time.Second},
		{Name: "pager", Type: HookRollback, URL: rb.URL},
	}
	e := mustNew(t, p, c.weights)
	r := c.runner()
	c.tick(r, e, 0, 0, 0)
	for e.State().Phase == PhaseProgressing {
		c.tick(r, e, 30*time.Second, 1000, 0)
	}

	sum := p.Fingerprint()
	gotPre := pre.got()
	if len(gotPre) != 1 {
		t.Fatalf("pre-rollout calls: %d", len(gotPre))
	}
	if g := gotPre[0]; g.Name != "load-test-ready" || g.Type != HookPreRollout || g.Phase != PhasePending || g.Step != 0 ||
		g.Steps != 2 || g.Weight != 0 || g.Gateway != gw || g.Canary != canary || !reflect.DeepEqual(g.Stable, []string{stable}) ||
		g.Checksum != sum || !reflect.DeepEqual(g.Metadata, meta) || !g.Timestamp.Equal(t0) {
		t.Errorf("pre-rollout payload %+v", g)
	}
	if weightsAtPre[0][canary] != 0 {
		t.Errorf("pre-rollout webhook called after the canary got weight: %v", weightsAtPre[0])
	}

	gotStep := step.got()
	if len(gotStep) != 2 {
		t.Fatalf("step calls: %+v", gotStep)
	}
	for i, want := range []struct{ step, weight int }{{1, 50}, {2, 100}} {
		g := gotStep[i]
		if g.Type != HookStep || g.Step != want.step || g.Weight != want.weight || g.Weights[stable] != 100-want.weight || g.Phase != PhaseProgressing {
			t.Errorf("step call %d: %+v", i, g)
		}
		if weightsAtStep[i][canary] != want.weight {
			t.Errorf("step webhook %d called before its weights took effect: %v", i, weightsAtStep[i])
		}
	}
	if !gotStep[1].Timestamp.Equal(t0.Add(time.Minute)) {
		t.Errorf("second step at %v", gotStep[1].Timestamp)
	}

	gotPromo := promo.got()
	if len(gotPromo) != 1 || gotPromo[0].Phase != PhasePromoted || gotPromo[0].Weight != 100 ||
		!strings.HasPrefix(gotPromo[0].Reason, "promoted after 2 steps (50, 100)") || !gotPromo[0].Timestamp.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("promotion calls %+v", gotPromo)
	}
	if n := len(rb.got()); n != 0 {
		t.Errorf("roll-back webhook called %d times for a promoted canary", n)
	}
}

func TestFailingPreRolloutWebhookBlocksTheStart(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	freeze := newHookServer(t, http.StatusServiceUnavailable, "change freeze until Monday\n")
	step := newHookServer(t, 200, "")
	p := basePolicy()
	p.Webhooks = []Webhook{
		{Name: "change-freeze", Type: HookPreRollout, URL: freeze.URL + "/gate?token=s3cret"},
		{Name: "chat", Type: HookStep, URL: step.URL},
	}
	e := mustNew(t, p, c.weights)
	r := c.runner()
	d := c.tick(r, e, 0, 0, 0)
	if d.Phase != PhaseFailed || d.WeightsChanged || c.weights[canary] != 0 || len(c.applied) != 0 {
		t.Fatalf("got %+v with weights %v; want failed, weights untouched", d, c.weights)
	}
	want := `pre-rollout check refused the start: webhook "change-freeze" (` + freeze.URL + `/gate) answered 503 Service Unavailable: "change freeze until Monday"`
	if d.Reason != want {
		t.Errorf("reason\n %q\nwant\n %q", d.Reason, want)
	}
	if strings.Contains(d.Reason, "s3cret") {
		t.Error("the reason shows the webhook URL's token")
	}
	if st := c.saved[len(c.saved)-1]; st.Phase != PhaseFailed {
		t.Errorf("persisted phase %s", st.Phase)
	}
	if d := c.tick(r, e, time.Minute, 1000, 0); d.Phase != PhaseFailed || len(step.got()) != 0 || len(freeze.got()) != 1 {
		t.Errorf("after failing: %+v; step hooks %d, gate calls %d", d, len(step.got()), len(freeze.got()))
	}
}

func TestWebhookTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// After the body, the server notices the caller hanging up (a body cut short: the
		// same).
		_, _ = io.Copy(io.Discard, r.Body)
		select { // answers only when the caller gave up (or the test ends)
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	n := &Notifier{}
	err := n.Call(context.Background(), WebhookCall{Hook: Webhook{Name: "slow", Type: HookPreRollout, URL: hang.URL, Timeout: 50 * time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), `webhook "slow"`) || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("timeout: %v", err)
	}
	err = n.Call(context.Background(), WebhookCall{Hook: Webhook{Name: "gone", Type: HookStep, URL: deadURL}})
	if err == nil || !strings.Contains(err.Error(), `webhook "gone"`) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("unreachable: %v", err)
	}
}

// A best-effort webhook that fails does not stop the roll-out.
func TestFailingBestEffortWebhookDoesNotStopTheRollout(t *testing.T) {
	c := newCluster(t, map[string]int{stable: 100, canary: 0})
	broken := newHookServer(t, 500, "oops")
	p := basePolicy()
	p.Webhooks = []Webhook{{Name: "chat", Type: HookStep, URL: broken.URL}}
	e := mustNew(t, p, c.weights)
	r := c.runner()
	var failed []string
	r.HookFailed = func(call WebhookCall, err error) { failed = append(failed, err.Error()) }
	c.tick(r, e, 0, 0, 0)
	for e.State().Phase == PhaseProgressing {
		c.tick(r, e, 30*time.Second, 1000, 0)
	}
	if e.State().Phase != PhasePromoted || len(failed) != 4 || !strings.Contains(failed[0], `answered 500 Internal Server Error: "oops"`) {
		t.Errorf("phase %s, failures %q", e.State().Phase, failed)
	}
}
