//go:build !unix

package connlimit

// openFilesLimit: the platform has no RLIMIT_NOFILE.
func openFilesLimit() (uint64, bool) { return 0, false }
