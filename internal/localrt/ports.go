package localrt

import (
	"fmt"
	"net"
)

// freePorts picks a free TCP port on 127.0.0.1 for each named port: the kernel chooses one for a
// listener on port 0, which is closed again for the process to take. All listeners of one call
// stay open until every port is chosen, so the ports of one instance differ.
func freePorts(ports []Port) (map[string]int, error) {
	out := make(map[string]int, len(ports))
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("no free port on %s for %q: %w", loopback, p.Name, err)
		}
		listeners = append(listeners, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("a TCP listener on %s for %q has the address %v, not a TCP address", loopback, p.Name, l.Addr())
		}
		out[p.Name] = addr.Port
	}
	return out, nil
}
