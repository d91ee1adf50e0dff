package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// App is a snapshot of an emulated app, for assertions in tests.
type App struct {
	ID        string
	Version   string
	Instances int
	// Definition is the app as GET /v2/apps/{id}/versions/{version} returns
	// it (a deep copy, with Marathon's defaults filled in).
	Definition map[string]any
	Tasks      []Task
	// Deployments are the ids of the running deployments affecting the app.
	Deployments []string
	// LastTaskFailure is the message of the last task failure, if any.
	LastTaskFailure string
}

// Task is a snapshot of an emulated task.
type Task struct {
	ID      string
	AppID   string
	Host    string
	Ports   []int
	State   string
	Version string
	// Healthy is nil until the first health-check result (and for apps
	// without health checks).
	Healthy *bool
	// Moving is set for a task being moved (MoveTask) whose replacement is
	// not ready yet.
	Moving bool
}

// Deployment is a snapshot of a running deployment.
type Deployment struct {
	ID           string
	Version      string
	AffectedApps []string
	CurrentStep  int
	TotalSteps   int
}

// Apps returns snapshots of all apps, ordered by id.
func (e *Emulator) Apps() []App {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]App, 0, len(e.apps))
	for _, id := range sortedKeys(e.apps) {
		out = append(out, e.snapshot(e.apps[id]))
	}
	return out
}

// App returns a snapshot of one app.
func (e *Emulator) App(appID string) (App, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, _ := canonicalAppID(appID)
	a := e.apps[id]
	if a == nil {
		return App{}, false
	}
	return e.snapshot(a), true
}

// Deployments returns snapshots of the running deployments, oldest first.
func (e *Emulator) Deployments() []Deployment {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Deployment, 0, len(e.deployments))
	for _, d := range e.deployments {
		out = append(out, Deployment{
			ID: d.id, Version: d.version, AffectedApps: d.affectedApps(),
			CurrentStep: d.currentStep, TotalSteps: len(d.steps),
		})
	}
	return out
}

func (e *Emulator) snapshot(a *app) App {
	s := App{ID: a.id, Version: str(a.def["version"]), Instances: a.instances(), Definition: deepCopy(a.def)}
	for _, t := range a.tasks {
		var healthy *bool
		if t.alive != nil {
			h := *t.alive
			healthy = &h
		}
		s.Tasks = append(s.Tasks, Task{
			ID: t.id, AppID: t.appID, Host: t.host, Ports: slices.Clone(t.ports), State: t.state,
			Version: t.version, Healthy: healthy, Moving: t.moving,
		})
	}
	for _, d := range e.deployments {
		if d.affects(a.id) {
			s.Deployments = append(s.Deployments, d.id)
		}
	}
	if a.lastFailure != nil {
		s.LastTaskFailure, _ = a.lastFailure["message"].(string)
	}
	return s
}

// withTask runs f on the task under the lock, or reports that it is unknown.
func (e *Emulator) withTask(appID, taskID string, f func(*app, *task)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, _ := canonicalAppID(appID)
	a := e.apps[id]
	if a == nil {
		return fmt.Errorf("emulator: app %q does not exist", appID)
	}
	i := slices.IndexFunc(a.tasks, func(t *task) bool { return t.id == taskID })
	if i < 0 {
		return fmt.Errorf("emulator: app %q has no task %q", id, taskID)
	}
	f(a, a.tasks[i])
	e.notify()
	return nil
}

func (e *Emulator) withApp(appID string, f func(*app)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, _ := canonicalAppID(appID)
	a := e.apps[id]
	if a == nil {
		return fmt.Errorf("emulator: app %q does not exist", appID)
	}
	f(a)
	e.notify()
	return nil
}

// SetTaskHealth fixes the result of the task's health checks from the next
// tick on. An unhealthy task is killed after the health check's
// maxConsecutiveFailures ticks (default 3; 0 never) and replaced, as
// Marathon does.
func (e *Emulator) SetTaskHealth(appID, taskID string, healthy bool) error {
	return e.withTask(appID, taskID, func(_ *app, t *task) { t.healthOverride = &healthy })
}

// FailHealthChecks makes the app's tasks launched from now on (fail=true)
// never pass their health checks, so a deployment that needs them never
// finishes; the failing tasks are killed and relaunched like in Marathon,
// which records lastTaskFailure. Tasks already running are not affected.
// The app need not exist yet (a new service variant that never gets
// healthy).
func (e *Emulator) FailHealthChecks(appID string, fail bool) error {
	id, errs := canonicalAppID(appID)
	if len(errs) > 0 {
		return fmt.Errorf("emulator: app id %q: %s", appID, strings.Join(errs, "; "))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failHealth[id] = fail
	return nil
}

// KillTask makes a task die (TASK_FAILED, recorded as lastTaskFailure).
// Marathon launches a replacement on the next tick, on another agent and
// port.
func (e *Emulator) KillTask(appID, taskID string) error {
	return e.withTask(appID, taskID, func(a *app, t *task) {
		a.leftHost = t.host
		e.killTask(a, t, stateFailed, "Container exited with status 137 (killed by the emulator's KillTask)")
	})
}

// MoveTask moves a task to another agent the way a drained agent does: a
// replacement is launched elsewhere and the original is killed once the
// replacement is running and healthy.
func (e *Emulator) MoveTask(appID, taskID string) error {
	return e.withTask(appID, taskID, func(a *app, t *task) {
		a.leftHost = t.host
		t.moving = true
	})
}

// LockApp holds the app's deployments: the running one, or a new no-op one
// started here, does not finish until UnlockApp. Changes to the app get 409
// unless forced. It returns the id of the holding deployment.
func (e *Emulator) LockApp(appID string) (string, error) {
	var id string
	err := e.withApp(appID, func(a *app) {
		a.testLocked = true
		for _, d := range e.deployments {
			if d.affects(a.id) {
				id = d.id
				return
			}
		}
		d, _ := e.deploy([]appChange{{appID: a.id, action: actionScale, original: a.def, target: a.def}}, true)
		id = d.id
	})
	return id, err
}

// UnlockApp releases LockApp; the held deployment finishes on a later tick.
func (e *Emulator) UnlockApp(appID string) error {
	return e.withApp(appID, func(a *app) { a.testLocked = false })
}

// SetTaskAddressFunc replaces Options.TaskAddress for later launches.
func (e *Emulator) SetTaskAddressFunc(f TaskAddressFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.taskAddress = f
}

// ScaleApp changes the instance count outside any client, like an operator
// using the Marathon UI, so drift detection can be tested.
func (e *Emulator) ScaleApp(appID string, instances int) error {
	return e.withApp(appID, func(a *app) {
		def := deepCopy(a.def)
		def["instances"] = json.Number(fmt.Sprint(instances))
		target, action := e.newTarget(a.def, def, false)
		e.deploy([]appChange{{appID: a.id, action: action, original: a.def, target: target}}, true)
	})
}
