//go:build unix && !linux

package localrt

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the command in its own process group, so that stopping it reaches the
// children it spawns.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// groupAlive reports whether a process of group pgid still exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}
