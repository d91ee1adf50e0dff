package localrt

import (
	"os"
	"os/exec"
	"syscall"
)

// Windows has no process groups to signal nor SIGTERM: a local service is its process alone, and
// stopping it kills that process (the children it spawns are not reached). The local runtime is
// a development aid; on Windows it runs single-process services.

// setProcAttr gives the command a console process group of its own, so that a Ctrl-C meant for
// Terraform does not reach it.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// stillActive is the exit code GetExitCodeProcess reports for a process that still runs.
const stillActive = 259

// groupAlive reports whether the process pid still runs.
func groupAlive(pid int) bool {
	h, err := syscall.OpenProcess(syscall.PROCESS_QUERY_INFORMATION, false, uint32(pid))
	if err != nil {
		return false
	}
	defer syscall.CloseHandle(h)
	var code uint32
	return syscall.GetExitCodeProcess(h, &code) == nil && code == stillActive
}

// stopGroup stops the process pid: Windows has no SIGTERM for it to handle, so it is killed.
func stopGroup(pid int) { killGroupNow(pid) }

// killGroupNow kills the process pid, without waiting.
func killGroupNow(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
