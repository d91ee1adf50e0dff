// Package azurefake is a stateful stand-in for the Azure network resource provider, built on
// armnetwork's own fake servers so that the real azcore pipeline (retry policy, header policy,
// long-running-operation poller) runs unchanged in tests.
//
// It keeps load balancers and network security groups in memory and behaves like Azure where it
// matters to the provider: every write gets a new etag; a write with a stale If-Match, or a
// security rule write with If-None-Match: * for a name that exists, gets 412 PreconditionFailed
// with an ARM error body ({"error":{"code":"PreconditionFailed","message":...}}), as RFC 9110
// section 13 defines the headers (whether Microsoft.Network honours them on every resource type
// is not verified without a subscription);
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
	RuleIfMatch        int // security rule writes and deletes that carried If-Match
	RuleIfNoneMatch    int // security rule writes that carried If-None-Match: *
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

	listMu    sync.Mutex          // armnetwork's fake tracks pagers by path: one list at a time
	afterList map[string][]func() // NSG key -> hooks run after a rule list was answered
	inner     policy.Transporter
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
		afterList: map[string][]func(){},
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

// conditions are the request's conditional headers, and where a handler that refuses them puts
// the ARM error the transport then answers with (the per-method fake cannot write a body).
type conditions struct {
	ifMatch, ifNoneMatch string
	failed               *armError
}

type armError struct {
	status        int
	code, message string
}

// preconditionFailed records a 412 as ARM words it: code PreconditionFailed and a message saying
// which condition did not hold.
func (c *conditions) preconditionFailed(msg string) {
	c.failed = &armError{http.StatusPreconditionFailed, "PreconditionFailed", msg}
}

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

	conds := &conditions{ifMatch: req.Header.Get("If-Match"), ifNoneMatch: req.Header.Get("If-None-Match")}
	ctx := context.WithValue(req.Context(), ctxKey{}, conds)
	isList := strings.Contains(api, "NewListPager")
	if isList {
		f.listMu.Lock()
	}
	resp, err := f.inner.Do(req.WithContext(ctx))
	if isList {
		f.listMu.Unlock()
	}
	if isWrite || isPoll {
		if err != nil || !inProgress(resp) {
			f.mu.Lock()
			delete(f.inflight, path)
			f.mu.Unlock()
		}
	}
	if conds.failed != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return errorResponse(req, conds.failed.status, conds.failed.code, conds.failed.message), nil
	}
	if isList && err == nil {
		f.runAfterList(path)
	}
	return resp, err
}

// AfterNextRuleList queues fn to run right after the next list of the security group's rules has
// been answered and before the lister's next request: another writer acting between a client's
// "is the name free?" check and its write. fn runs outside the fake's locks and may itself call
// the fake through a client.
func (f *Fake) AfterNextRuleList(nsgID string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := nsgKeyFromID(nsgID)
	f.afterList[k] = append(f.afterList[k], fn)
}

func (f *Fake) runAfterList(path string) {
	// path: .../resourcegroups/<rg>/providers/microsoft.network/networksecuritygroups/<nsg>/securityrules
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 9 || parts[6] != "networksecuritygroups" {
		return
	}
	k := key(parts[3], nsgType, parts[7])
	f.mu.Lock()
	hooks := f.afterList[k]
	var fn func()
	if len(hooks) > 0 {
		fn, f.afterList[k] = hooks[0], hooks[1:]
	}
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
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

// requestConditions returns the conditional headers of the request being served.
func requestConditions(ctx context.Context) *conditions {
	if c, ok := ctx.Value(ctxKey{}).(*conditions); ok {
		return c
	}
	return &conditions{}
}

// errorResponse is an ARM error as it comes off the wire, so azcore's retry policy sees the status.
func errorResponse(req *http.Request, status int, code, msg string) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "details": []any{}}})
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
