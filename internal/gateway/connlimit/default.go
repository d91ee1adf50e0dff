package connlimit

import (
	"fmt"
	"math"
)

// Reserve is how many of the process's file descriptors DefaultMax leaves to everything that is
// not a proxied connection: the admin API's listener and clients, the gateways' listeners, health
// checks, the etcd client, logs and the state file, the runtime's and the front end's epoll sets.
// (Instance connections, in use and idle, are the other half of the pairs: the proxy's pool keeps
// at most the limit of them open, proxy.poolBound.) It is ReserveMin descriptors, or
// 1/ReserveFraction of the open-files limit where that is more.
const (
	ReserveMin      = 256
	ReserveFraction = 64
)

// FallbackMax is the default where the platform reports no open-files limit (Windows).
const FallbackMax = 10000

// DefaultFor is the default limit for an open-files limit of nofile descriptors, HAProxy's rule
// for its maxconn: every proxied connection holds two descriptors (the client's and the
// instance's), after a reserve (Reserve). At least 1.
func DefaultFor(nofile uint64) int {
	reserve := max(uint64(ReserveMin), nofile/ReserveFraction)
	if nofile <= reserve+2 {
		return 1
	}
	return int(min((nofile-reserve)/2, math.MaxInt32))
}

// Default is the limit of this process: DefaultFor its open-files limit (RLIMIT_NOFILE, which
// the Go runtime raised to the hard limit at start), or FallbackMax where there is none.
// nofile is the limit read (0: none).
func Default() (limit int, nofile uint64) {
	nofile, ok := openFilesLimit()
	if !ok {
		return FallbackMax, 0
	}
	return DefaultFor(nofile), nofile
}

// Resolve is the limit for the --max-conns setting: 0 takes Default; a positive number is used as
// it is; a negative one is an error. warn, when not empty, says why the setting is risky (it
// asks for more connections than the descriptors allow).
func Resolve(setting int) (limit int, nofile uint64, warn string, err error) {
	if setting < 0 {
		return 0, 0, "", fmt.Errorf("--max-conns %d: use a positive number of client connections, or 0 for the default derived from the open-files limit (ulimit -n)", setting)
	}
	def, nofile := Default()
	if setting == 0 {
		return def, nofile, "", nil
	}
	if nofile != 0 && setting > def {
		warn = fmt.Sprintf("--max-conns %d exceeds what the open-files limit %d allows (%d: two descriptors per proxied connection, after a reserve); dials that find no descriptor are answered 503", setting, nofile, def)
	}
	return setting, nofile, warn, nil
}
