package emulator

import (
	"fmt"
	"net/http"
)

func (e *Emulator) serveDeployments(w http.ResponseWriter) {
	out := []any{}
	for _, d := range e.deployments {
		out = append(out, e.deploymentJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) deploymentJSON(d *deployment) map[string]any {
	steps := make([]any, 0, len(d.steps))
	for _, s := range d.steps {
		steps = append(steps, map[string]any{"actions": s})
	}
	current := []any{}
	if d.currentStep >= 1 && d.currentStep <= len(d.steps) {
		for _, a := range d.steps[d.currentStep-1] {
			current = append(current, map[string]any{"action": a.Action, "app": a.App, "readinessCheckResults": []any{}})
		}
	}
	return map[string]any{
		"id": d.id, "version": d.version, "affectedApps": d.affectedApps(), "affectedPods": []string{},
		"steps": steps, "currentActions": current, "currentStep": d.currentStep, "totalSteps": len(d.steps),
	}
}

// planJSON renders a deployment plan as the deployment_* events carry it.
func (e *Emulator) planJSON(d *deployment) map[string]any {
	var original, target []any
	steps := make([]any, 0, len(d.steps))
	for _, s := range d.steps {
		steps = append(steps, map[string]any{"actions": s})
	}
	for _, c := range d.changes {
		if c.original != nil {
			original = append(original, c.original)
		}
		if c.target != nil {
			target = append(target, c.target)
		}
	}
	return map[string]any{
		"id": d.id, "version": d.version, "steps": steps,
		"original": map[string]any{"id": "/", "apps": nonNilAny(original)},
		"target":   map[string]any{"id": "/", "apps": nonNilAny(target)},
	}
}

func nonNilAny(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// serveCancelDeployment implements DELETE /v2/deployments/{id}: without
// force it rolls the affected apps back to their definitions from before
// the deployment (a new deployment, 200); with force=true it only forgets
// the deployment (202, no body).
func (e *Emulator) serveCancelDeployment(w http.ResponseWriter, r *http.Request, id string) {
	d := e.removeDeployment(id, "deployment_failed")
	if d == nil {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("DeploymentPlan %s does not exist", id))
		return
	}
	if r.URL.Query().Get("force") == "true" {
		e.notify()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var changes []appChange
	for _, c := range d.changes {
		current := e.apps[c.appID]
		var now map[string]any
		if current != nil {
			now = current.def
		}
		action := actionRestart
		switch {
		case c.original == nil:
			action = actionStop
		case now == nil:
			action = actionStart
		}
		changes = append(changes, appChange{appID: c.appID, action: action, original: now, target: c.original})
	}
	rollback, _ := e.deploy(changes, true)
	writeJSON(w, http.StatusOK, map[string]any{"deploymentId": rollback.id, "version": rollback.version})
}
