package gateway_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/vamp-canary/terraform-provider-vamp/internal/discovery"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// runtimeStub is a runtime whose instances the test moves, as the dev runtime or Marathon would.
type runtimeStub struct {
	mu        sync.Mutex
	instances map[string][]discovery.Instance // by "id/port"
	subs      []func()
}

func (r *runtimeStub) Runtime() string { return "local" }

func (r *runtimeStub) Resolve(id, port string) ([]discovery.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, ok := r.instances[id+"/"+port]
	if !ok {
		return nil, discovery.ErrUnknownService
	}
	return append([]discovery.Instance(nil), in...), nil
}

func (r *runtimeStub) Subscribe(fn func()) func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, fn)
	return func() {}
}

// set replaces a service's instances and notifies while holding the runtime's lock, as a
// runtime may: the gateway must not call back into Resolve from the callback.
func (r *runtimeStub) set(key string, in ...discovery.Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instances[key] = in
	for _, fn := range r.subs {
		fn()
	}
}

func TestServiceRouteFollowsMovedInstances(t *testing.T) {
	rt := &runtimeStub{instances: map[string][]discovery.Instance{}}
	first, second := newBackend(t, "first"), newBackend(t, "second")
	asInstance := func(b *backend, healthy bool) discovery.Instance {
		in := b.instance()
		return discovery.Instance{Host: in.Host, Port: in.Port, Healthy: healthy}
	}
	rt.set("sava:1.0.0/webport", asInstance(first, true), asInstance(second, false))
	h := startGateway(t, func(c *gateway.Config) { c.Sources = []discovery.Source{rt} })
	port := freePort(t)
	h.put("sava/9050", gatewayapi.Gateway{Port: port, Routes: []gatewayapi.Route{{
		Name: "sava:1.0.0", Weight: 100,
		Service: &gatewayapi.ServiceRef{Runtime: "local", ID: "sava:1.0.0", Port: "webport"},
	}}})
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 10); got["first"] != 10 {
		t.Errorf("only the healthy instance is routed to: got %v", got)
	}

	rt.set("sava:1.0.0/webport", asInstance(second, true))
	eventually(t, "the gateway follows the moved instance", func() bool {
		_, body, _ := newBrowser(chromeUA).get(gatewayURL(port))
		return body == "second"
	})
	if got := newBrowser(chromeUA).count(t, gatewayURL(port), 10); got["second"] != 10 {
		t.Errorf("after the move: got %v", got)
	}

	// A service the runtime does not know is refused at PUT with the path of the fault.
	apiErr := h.putErr("other/1", gatewayapi.Gateway{Routes: []gatewayapi.Route{{
		Name: "x", Weight: 100, Service: &gatewayapi.ServiceRef{Runtime: "local", ID: "nope", Port: "webport"},
	}}}, http.StatusBadRequest)
	if apiErr.Body.Path != "routes[0].service" {
		t.Errorf("unknown service: want path routes[0].service, got %+v", apiErr.Body)
	}
}
