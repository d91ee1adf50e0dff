package localrt

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const loopback = "127.0.0.1"

// Restart backoff: doubles from minBackoff to maxBackoff; back to minBackoff after a process
// that ran for backoffReset.
const (
	minBackoff   = 200 * time.Millisecond
	maxBackoff   = 10 * time.Second
	backoffReset = 30 * time.Second
)

// secretEnv are variables of the runner's own environment that its processes must not inherit.
var secretEnv = []string{"VAMP_GATEWAY_TOKEN"}

// instance is one supervised process of a generation, with its ports fixed for its lifetime.
type instance struct {
	r     *Runner
	def   *Service
	index int
	ports map[string]int
	out   *lineRing

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}

	// guarded by r.mu
	pid       int
	healthy   bool
	restarts  int
	lastError string
}

func newInstance(r *Runner, def *Service, index int, ports map[string]int) *instance {
	var prefix string
	if r.opts.Output != nil {
		prefix = fmt.Sprintf("[%s#%d] ", def.ID, index)
	}
	return &instance{
		r: r, def: def, index: index, ports: ports,
		out:    newLineRing(r.opts.OutputLines, r.opts.Output, prefix),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// update changes the instance's state under the runner's lock and tells the subscribers.
func (in *instance) update(f func()) {
	in.r.mu.Lock()
	f()
	in.r.bumpLocked()
	in.r.mu.Unlock()
	in.r.notify()
}

// stop ends the supervision: the process gets SIGTERM (SIGKILL after the grace period) and stop
// returns when it and its process group are gone. Safe to call more than once.
func (in *instance) stop() {
	in.stopOnce.Do(func() { close(in.stopCh) })
	<-in.done
}

// run supervises the process until stop: start it, watch it, restart it with backoff.
func (in *instance) run() {
	defer close(in.done)
	backoff := minBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			in.update(func() { in.restarts++ })
		}
		started := time.Now()
		reason, stopped := in.runOnce()
		if stopped {
			return
		}
		if time.Since(started) >= backoffReset {
			backoff = minBackoff
		}
		in.r.log.Warn("local process ended; restarting", "id", in.def.ID, "instance", in.index, "reason", reason, "in", backoff)
		in.out.Mark(fmt.Sprintf("%s; restarting in %s", reason, backoff))
		select {
		case <-time.After(backoff):
		case <-in.stopCh:
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// runOnce runs the process once: until it exits, fails its health checks, or stop is called
// (stopped is true then). reason says why it ended.
func (in *instance) runOnce() (reason string, stopped bool) {
	cmd := exec.Command("/bin/sh", "-c", strings.TrimPrefix(in.def.Deployable, CmdPrefix))
	cmd.Dir = in.r.opts.Dir
	cmd.Env = in.environ()
	cmd.Stdout = in.out
	cmd.Stderr = in.out
	setProcAttr(cmd)
	// A child that keeps the output pipes open must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		reason = "cannot start: " + err.Error()
		in.update(func() { in.lastError = reason })
		return reason, false
	}
	pid := cmd.Process.Pid
	in.r.log.Info("local process started", "id", in.def.ID, "instance", in.index, "pid", pid, "ports", in.ports)
	in.update(func() { in.pid, in.healthy = pid, false })

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	failing := make(chan string, 1)
	checksStop := make(chan struct{})
	checksDone := make(chan struct{})
	go func() {
		defer close(checksDone)
		in.watchHealth(time.Now(), checksStop, failing)
	}()

	select {
	case err := <-exited:
		reason = exitReason(err)
	case why := <-failing:
		reason = why
		in.terminate(pid, exited)
	case <-in.stopCh:
		reason, stopped = "stopped", true
		in.terminate(pid, exited)
	}
	close(checksStop)
	<-checksDone
	// Whatever the command left behind in its group goes too (it would hold the ports).
	killGroup(pid)
	in.update(func() { in.pid, in.healthy, in.lastError = 0, false, reason })
	return reason, stopped
}

// terminate asks the process group to stop (SIGTERM), kills it after the grace period, and
// waits for the process to exit.
func (in *instance) terminate(pid int, exited <-chan error) {
	stopGroup(pid)
	grace := time.NewTimer(in.r.opts.StopGrace)
	defer grace.Stop()
	var err error
	select {
	case err = <-exited:
	case <-grace.C:
		in.r.log.Warn("local process ignored SIGTERM; killing it", "id", in.def.ID, "instance", in.index, "pid", pid)
		killGroupNow(pid)
		err = <-exited
	}
	// The process was told to stop, so a signal's exit status is expected: logged, not returned.
	in.r.log.Debug("local process stopped", "id", in.def.ID, "instance", in.index, "pid", pid, "wait", err)
}

// killGroup sends SIGKILL to what is left of process group pgid and waits (a bounded time) until
// none of it runs, so that a restarted process finds its ports free and Delete means gone.
func killGroup(pgid int) {
	killGroupNow(pgid)
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the kernel delivers SIGKILL asynchronously
	}
}

func exitReason(err error) string {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "process killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("process exited with status %d", exitErr.ExitCode())
	}
	if err != nil {
		return "process ended: " + err.Error()
	}
	return "process exited with status 0"
}

// environ is the runner's environment without its secrets, plus HOST=127.0.0.1, plus the
// service's env, plus the assigned ports (which win): PORT (the first port), PORT_<NAME> and
// VAMP_PORT_<NAME>, and VAMP_SERVICE_ID, VAMP_INSTANCE (the instance's index).
func (in *instance) environ() []string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range secretEnv {
		delete(env, k)
	}
	// HOST tells a process where to listen; the service's env may say otherwise.
	env["HOST"] = loopback
	for k, v := range in.def.Env {
		env[k] = v
	}
	for i, p := range in.def.Ports {
		port := strconv.Itoa(in.ports[p.Name])
		if i == 0 {
			env["PORT"] = port
		}
		env["PORT_"+EnvName(p.Name)] = port
		env["VAMP_PORT_"+EnvName(p.Name)] = port
	}
	env["VAMP_SERVICE_ID"] = in.def.ID
	env["VAMP_INSTANCE"] = strconv.Itoa(in.index)
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// EnvName is a port name as it appears in environment variable names: upper case, every
// character other than a letter or digit replaced by "_" ("admin-port" → "ADMIN_PORT").
func EnvName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (in *instance) statusLocked() InstanceStatus {
	st := InstanceStatus{
		Index: in.index, Host: loopback, Ports: maps.Clone(in.ports),
		Healthy: in.healthy, PID: in.pid, Restarts: in.restarts,
	}
	if !in.healthy {
		st.LastError = in.lastError
		st.Output = in.out.Lines()
	}
	return st
}
