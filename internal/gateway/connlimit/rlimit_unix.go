//go:build unix

package connlimit

import (
	"math"
	"syscall"
)

// openFilesLimit is the process's soft RLIMIT_NOFILE; false when it has none (RLIM_INFINITY).
func openFilesLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	cur := uint64(rl.Cur) //nolint:gosec,unconvert // int64 on some platforms; RLIM_INFINITY is checked below
	if cur == 0 || cur >= math.MaxInt64 {
		return 0, false
	}
	return cur, true
}
