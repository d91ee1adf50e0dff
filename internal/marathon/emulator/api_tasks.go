package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

func (e *Emulator) tasksJSON(a *app) []any {
	out := make([]any, 0, len(a.tasks))
	for _, t := range a.tasks {
		out = append(out, e.taskJSON(a, t))
	}
	return out
}

func (e *Emulator) taskJSON(a *app, t *task) map[string]any {
	results := []any{}
	if t.alive != nil {
		for range a.healthChecks() {
			results = append(results, map[string]any{
				"alive": *t.alive, "consecutiveFailures": t.consecutiveFailures,
				"firstSuccess": timeOrNil(t.firstSuccess), "lastSuccess": timeOrNil(t.lastSuccess),
				"lastFailure": timeOrNil(t.lastFailure), "lastFailureCause": stringOrNil(t.lastFailureCause),
				"instanceId": t.id, "taskId": t.id,
			})
		}
	}
	out := map[string]any{
		"id": t.id, "appId": t.appID, "host": t.host, "ipAddresses": ipAddresses(t.ip),
		"ports": nonNil(t.ports), "servicePorts": nonNil(t.servicePorts), "slaveId": t.slaveID,
		"state": t.state, "stagedAt": t.stagedAt.Format(versionLayout), "version": t.version,
		"healthCheckResults": results, "localVolumes": []any{}, "role": "*",
	}
	if !t.startedAt.IsZero() {
		out["startedAt"] = t.startedAt.Format(versionLayout)
	}
	return out
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(versionLayout)
}

func stringOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *Emulator) serveAllTasks(w http.ResponseWriter, r *http.Request) {
	status := strings.ToLower(r.URL.Query().Get("status"))
	tasks := []any{}
	for _, id := range sortedKeys(e.apps) {
		a := e.apps[id]
		for _, t := range a.tasks {
			if status != "" && "task_"+status != strings.ToLower(t.state) {
				continue
			}
			tasks = append(tasks, e.taskJSON(a, t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

func (e *Emulator) findTask(taskID string) (*app, *task) {
	for _, a := range e.apps {
		for _, t := range a.tasks {
			if t.id == taskID {
				return a, t
			}
		}
	}
	return nil, nil
}

// killTasks kills the given tasks; with scale the app's instances shrink by
// as many (a new version and a deployment), otherwise Marathon replaces them.
func (e *Emulator) killTasks(w http.ResponseWriter, a *app, tasks []*task, scale, force bool, single bool) {
	if scale {
		def := deepCopy(a.def)
		def["instances"] = json.Number(fmt.Sprint(max(0, a.instances()-len(tasks))))
		target, action := e.newTarget(a.def, def, false)
		d, locking := e.deploy([]appChange{{appID: a.id, action: action, original: a.def, target: target}}, force)
		if d == nil {
			writeLocked(w, locking)
			return
		}
		for _, t := range tasks {
			e.killTask(a, t, stateKilled, "")
		}
		writeJSON(w, http.StatusOK, map[string]any{"deploymentId": d.id, "version": d.version})
		return
	}
	killed := make([]any, 0, len(tasks))
	for _, t := range tasks {
		e.killTask(a, t, stateKilled, "")
		killed = append(killed, e.taskJSON(a, t))
	}
	e.notify()
	if single {
		writeJSON(w, http.StatusOK, map[string]any{"task": killed[0]})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": killed})
}

func (e *Emulator) serveKillTask(w http.ResponseWriter, r *http.Request, appID, taskID string) {
	a := e.findApp(w, appID)
	if a == nil {
		return
	}
	i := slices.IndexFunc(a.tasks, func(t *task) bool { return t.id == taskID })
	if i < 0 {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("Task '%s' does not exist", taskID))
		return
	}
	q := r.URL.Query()
	e.killTasks(w, a, []*task{a.tasks[i]}, q.Get("scale") == "true", q.Get("force") == "true", true)
}

func (e *Emulator) serveKillAppTasks(w http.ResponseWriter, r *http.Request, appID string) {
	a := e.findApp(w, appID)
	if a == nil {
		return
	}
	q := r.URL.Query()
	var tasks []*task
	for _, t := range a.tasks {
		if h := q.Get("host"); h == "" || h == t.host {
			tasks = append(tasks, t)
		}
	}
	e.killTasks(w, a, tasks, q.Get("scale") == "true", q.Get("force") == "true", false)
}

// serveDeleteTasks implements POST /v2/tasks/delete {"ids": [...]}.
func (e *Emulator) serveDeleteTasks(w http.ResponseWriter, r *http.Request) {
	body, ok := e.readObject(w, r)
	if !ok {
		return
	}
	ids, _ := body["ids"].([]any)
	killed := []any{}
	for _, raw := range ids {
		id, _ := raw.(string)
		if a, t := e.findTask(id); t != nil {
			e.killTask(a, t, stateKilled, "")
			killed = append(killed, e.taskJSON(a, t))
		}
	}
	e.notify()
	writeJSON(w, http.StatusOK, map[string]any{"tasks": killed})
}
