//go:build unix

package localrt

import "syscall"

// stopGroup asks every process of group pgid to stop (SIGTERM).
func stopGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGTERM) }

// killGroupNow kills every process of group pgid (SIGKILL), without waiting.
func killGroupNow(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
