// Package discovery is how the gateway learns the instances of a service variant that a runtime
// runs (the local dev runtime, Marathon tasks). Static instances need no discovery.
package discovery

import "errors"

// ErrUnknownService is returned by Resolve for a service the runtime does not know (yet).
var ErrUnknownService = errors.New("unknown service")

// Instance is one running instance of a service variant's named port.
type Instance struct {
	Host string
	Port int
	// Healthy is the runtime's own verdict (Marathon health-check results, the local runner's
	// checks). The gateway only routes to healthy instances.
	Healthy bool
}

// Source is one runtime's view of its services.
type Source interface {
	// Runtime is the name that routes use in "service.runtime": "local" or "marathon".
	Runtime() string
	// Resolve returns the current instances of service id's named port.
	Resolve(id, port string) ([]Instance, error)
	// Subscribe calls fn, from any goroutine, whenever an instance of any service may have
	// changed; the gateway then resolves again. The returned func stops the calls.
	Subscribe(fn func()) (cancel func())
}
