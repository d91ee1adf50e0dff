// Package azurefake is a stateful stand-in for the Azure network resource provider, built on
// armnetwork's own fake servers so that the real azcore pipeline (retry policy, header policy,
// long-running-operation poller) runs unchanged in tests.
//
// It keeps load balancers and network security groups in memory and behaves like Azure where it
// matters to the provider: every write gets a new etag, a write with a stale If-Match gets 412,
// writes answer as long-running operations that must be polled, references inside a load balancer
// are checked (400 InvalidResourceReference), a second write while one is in progress gets 429
// AnotherOperationInProgress, and priorities are unique per NSG direction (400 SecurityRuleConflict).
// Knobs let a test throttle requests, race an out-of-band write against a read-modify-write, hold
// concurrent reads at a barrier, and remove rules behind the provider's back.
//
// Resources are keyed by resource group and name: the fake stands for one subscription.
package azurefake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
)

// Stats counts what the fake saw. Requests is keyed by azcore API name, e.g.
// "LoadBalancersClient.Get", and counts every attempt, including throttled ones and polls.
type Stats struct {
	Requests           map[string]int
	Throttled          int // 429s injected by InjectThrottles
	Busy               int // 429 AnotherOperationInProgress for a write while one was in progress
	PreconditionFailed int // 412s for a stale If-Match
	Polls              int // status polls of long-running operations
	LBWrites           int // accepted load balancer writes
	IfMatchSent        int // load balancer writes that carried If-Match
}

// Fake is the in-memory Azure. Create it with New; hand Transport() to the client under test.
type Fake struct {
	mu        sync.Mutex
	lbs       map[string]*armnetwork.LoadBalancer
	nsgs      map[string]*nsg
	etag      int
	stats     Stats
	throttles map[string]int // API name ("" = any) -> 429s still to send
	afterGet  map[string][]func(*armnetwork.LoadBalancer)
	barriers  map[string]*barrier
	inflight  map[string]bool // LRO paths with an operation in progress
	polls     int             // in-progress answers per operation before the terminal one

	listMu sync.Mutex // armnetwork's fake tracks pagers by path: one list at a time
	inner  policy.Transporter
}

type nsg struct {
	id    string
	etag  string
	rules []*armnetwork.SecurityRule
}

// New returns an empty fake whose operations answer "in progress" twice before completing, so
// that the client's poller really polls.
func New() *Fake {
	f := &Fake{
		lbs:       map[string]*armnetwork.LoadBalancer{},
		nsgs:      map[string]*nsg{},
		throttles: map[string]int{},
		afterGet:  map[string][]func(*armnetwork.LoadBalancer){},
		barriers:  map[string]*barrier{},
		inflight:  map[string]bool{},
		polls:     2,
	}
	f.stats.Requests = map[string]int{}
	f.inner = fake.NewServerFactoryTransport(&fake.ServerFactory{
		LoadBalancersServer: fake.LoadBalancersServer{
			Get:                 f.getLB,
			BeginCreateOrUpdate: f.putLB,
		},
		SecurityRulesServer: fake.SecurityRulesServer{
			Get:                 f.getRule,
			BeginCreateOrUpdate: f.putRule,
			BeginDelete:         f.deleteRule,
			NewListPager:        f.listRules,
		},
	})
	return f
}

// Transport is the policy.Transporter to put in the client options.
func (f *Fake) Transport() policy.Transporter { return transport{f} }

// Stats returns a snapshot of the counters.
func (f *Fake) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Requests = map[string]int{}
	for k, v := range f.stats.Requests {
		s.Requests[k] = v
	}
	return s
}

// InjectThrottles makes the next n requests to api (an azcore API name such as
// "LoadBalancersClient.Get"; "" for any) answer 429 Too Many Requests.
func (f *Fake) InjectThrottles(api string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttles[api] += n
}

type ctxKey struct{}

// transport wraps armnetwork's fake server with what a per-method fake cannot see: headers,
// throttling, and one operation at a time per resource.
type transport struct{ f *Fake }

const fakePollSuffix = "/get/fake/status"

func (t transport) Do(req *http.Request) (*http.Response, error) {
	f := t.f
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	path := strings.ToLower(strings.TrimSuffix(req.URL.Path, fakePollSuffix))
	isPoll := strings.HasSuffix(req.URL.Path, fakePollSuffix)
	isWrite := !isPoll && (req.Method == http.MethodPut || req.Method == http.MethodDelete)

	f.mu.Lock()
	f.stats.Requests[api]++
	if isPoll {
		f.stats.Polls++
	}
	if f.takeThrottle(api) {
		f.stats.Throttled++
		f.mu.Unlock()
		return errorResponse(req, http.StatusTooManyRequests, "TooManyRequests", "the fake was told to throttle this request"), nil
	}
	if isWrite {
		if f.inflight[path] {
			f.stats.Busy++
			f.mu.Unlock()
			return errorResponse(req, http.StatusTooManyRequests, "AnotherOperationInProgress", "another operation on this resource is in progress"), nil
		}
		f.inflight[path] = true
	}
	f.mu.Unlock()

	if strings.Contains(api, "NewListPager") {
		f.listMu.Lock()
		defer f.listMu.Unlock()
	}
	ctx := context.WithValue(req.Context(), ctxKey{}, req.Header.Get("If-Match"))
	resp, err := f.inner.Do(req.WithContext(ctx))
	if isWrite || isPoll {
		if err != nil || !inProgress(resp) {
			f.mu.Lock()
			delete(f.inflight, path)
			f.mu.Unlock()
		}
	}
	return resp, err
}

func (f *Fake) takeThrottle(api string) bool {
	for _, k := range []string{api, ""} {
		if f.throttles[k] > 0 {
			f.throttles[k]--
			return true
		}
	}
	return false
}

func inProgress(resp *http.Response) bool {
	s := resp.Header.Get("Fake-Poller-Status")
	return s != "" && !strings.EqualFold(s, "Succeeded") && !strings.EqualFold(s, "Failed") && !strings.EqualFold(s, "Canceled")
}

func ifMatch(ctx context.Context) string { s, _ := ctx.Value(ctxKey{}).(string); return s }

// errorResponse is an ARM error as it comes off the wire, so azcore's retry policy sees the status.
func errorResponse(req *http.Request, status int, code, msg string) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header:        http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {code}},
		Body:          io.NopCloser(strings.NewReader(string(body))),
		ContentLength: int64(len(body)),
	}
}

func (f *Fake) nextEtag() string {
	f.etag++
	return fmt.Sprintf(`W/"%08d-fake"`, f.etag)
}

func key(resourceGroup, typ, name string) string {
	return strings.ToLower(resourceGroup + "/" + typ + "/" + name)
}

// clone deep-copies an armnetwork model through its JSON form, as the wire would.
func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}
