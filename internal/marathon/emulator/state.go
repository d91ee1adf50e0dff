package emulator

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Mesos task states the emulator uses (strings.MesosTaskState in the RAML).
const (
	stateStaging = "TASK_STAGING"
	stateRunning = "TASK_RUNNING"
	stateKilled  = "TASK_KILLED"
	stateFailed  = "TASK_FAILED"
)

// Deployment action names (deploymentAction.DeploymentActionName).
const (
	actionStart   = "StartApplication"
	actionStop    = "StopApplication"
	actionScale   = "ScaleApplication"
	actionRestart = "RestartApplication"
)

const versionLayout = "2006-01-02T15:04:05.000Z"

// app is Marathon's view of one application: its current definition (which
// is the target every running deployment drives towards), the history of
// definitions, and the tasks that currently exist for it.
type app struct {
	id      string
	def     map[string]any
	history []map[string]any // oldest first, each with its "version"
	tasks   []*task
	// launches counts the tasks ever launched, so TaskAddressFunc can tell
	// a replacement from the task it replaces.
	launches    int
	lastFailure map[string]any
	// testLocked holds every deployment of the app until UnlockApp.
	testLocked bool
	// leftHost is the host a task last died on or moved away from.
	leftHost string
}

func (a *app) configVersion() string { return configVersionOf(a.def) }

func configVersionOf(def map[string]any) string {
	vi, _ := def["versionInfo"].(map[string]any)
	s, _ := vi["lastConfigChangeAt"].(string)
	return s
}

func (a *app) instances() int { return intField(a.def, "instances", 1) }

func (a *app) healthChecks() []map[string]any {
	raw, _ := a.def["healthChecks"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, hc := range raw {
		if m, ok := hc.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

type task struct {
	id, appID     string
	host, slaveID string
	// ip is the task's address in ipAddresses: the agent's on the host network, on a named
	// container network the task's own (the host TaskAddress chose), on Docker's bridge a
	// container address the agent alone can reach (172.17.0.0/16, Docker's default bridge):
	// a client must route to host and host port there.
	ip           string
	ports        []int
	servicePorts []int
	state        string
	stagedAt     time.Time
	startedAt    time.Time
	// version is the app version the task was launched with; configVersion
	// is that version's lastConfigChangeAt, which decides whether a task is
	// "old" (a scaling-only change keeps existing tasks).
	version, configVersion string
	seq                    int
	// moving tasks have a replacement being started elsewhere; they are
	// killed once the replacement is running and healthy.
	moving         bool
	failHealth     bool
	healthOverride *bool
	// alive is nil until the first health check result.
	alive               *bool
	consecutiveFailures int
	firstSuccess        time.Time
	lastSuccess         time.Time
	lastFailure         time.Time
	lastFailureCause    string
}

func (t *task) ready(hasHealthChecks bool) bool {
	if t.state != stateRunning {
		return false
	}
	return !hasHealthChecks || (t.alive != nil && *t.alive)
}

// appChange is one app's part of a deployment plan: nil original means the
// app is created, nil target means it is removed.
type appChange struct {
	appID    string
	action   string
	original map[string]any
	target   map[string]any
}

type deployment struct {
	id          string
	version     string
	changes     []appChange
	steps       [][]deployAction
	currentStep int
}

type deployAction struct {
	Action string `json:"action"`
	App    string `json:"app"`
}

func (d *deployment) affects(appID string) bool {
	return slices.ContainsFunc(d.changes, func(c appChange) bool { return c.appID == appID })
}

func (d *deployment) affectedApps() []string {
	out := make([]string, 0, len(d.changes))
	for _, c := range d.changes {
		out = append(out, c.appID)
	}
	return out
}

// planSteps builds the steps Marathon shows for a plan: a new app is
// started (with 0 instances) and then scaled, the others take one step.
func planSteps(changes []appChange) [][]deployAction {
	var steps [][]deployAction
	for _, c := range changes {
		actions := []string{c.action}
		if c.action == actionStart {
			actions = []string{actionStart, actionScale}
		}
		for i, name := range actions {
			if len(steps) <= i {
				steps = append(steps, nil)
			}
			steps[i] = append(steps[i], deployAction{Action: name, App: c.appID})
		}
	}
	return steps
}

// nextVersion returns a fresh version timestamp, strictly later than the
// previous one so that two changes in the same millisecond stay distinct.
func (e *Emulator) nextVersion() string {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(e.lastVersion) {
		now = e.lastVersion.Add(time.Millisecond)
	}
	e.lastVersion = now
	return now.Format(versionLayout)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// taskIDFor follows Marathon's legacy task id scheme, which go-marathon's
// KillTask relies on: the app path with "/" replaced by "_", a dot, a UUID.
func taskIDFor(appID string) string {
	return strings.ReplaceAll(strings.TrimPrefix(appID, "/"), "/", "_") + "." + newUUID()
}

// deploy applies the changes to the app store and records a deployment that
// drives the tasks towards them. It returns the ids of the deployments that
// lock an affected app when force is false.
func (e *Emulator) deploy(changes []appChange, force bool) (*deployment, []string) {
	var locking []string
	for _, d := range e.deployments {
		for _, c := range changes {
			if d.affects(c.appID) && !slices.Contains(locking, d.id) {
				locking = append(locking, d.id)
			}
		}
	}
	if len(locking) > 0 && !force {
		return nil, locking
	}
	for _, id := range locking {
		e.removeDeployment(id, "deployment_failed")
	}
	version := ""
	for _, c := range changes {
		e.applyTarget(c)
		if c.target != nil {
			version = str(c.target["version"])
		}
	}
	if version == "" {
		version = e.nextVersion()
	}
	d := &deployment{id: newUUID(), version: version, changes: changes, steps: planSteps(changes), currentStep: 1}
	e.deployments = append(e.deployments, d)
	e.publish("deployment_info", map[string]any{
		"plan":        e.planJSON(d),
		"currentStep": map[string]any{"actions": d.steps[0]},
	})
	e.notify()
	return d, nil
}

// applyTarget makes c.target the app's current definition.
func (e *Emulator) applyTarget(c appChange) {
	a := e.apps[c.appID]
	if c.target == nil {
		if a == nil {
			return
		}
		for _, t := range slices.Clone(a.tasks) {
			e.killTask(a, t, stateKilled, "")
		}
		delete(e.apps, c.appID)
		e.publish("app_terminated_event", map[string]any{"appId": c.appID})
		return
	}
	if a == nil {
		a = &app{id: c.appID}
		e.apps[c.appID] = a
	}
	a.def = c.target
	v := str(c.target["version"])
	if !slices.ContainsFunc(a.history, func(h map[string]any) bool { return h["version"] == v }) {
		a.history = append(a.history, deepCopy(c.target))
	}
}

// newTarget prepares def (already validated and defaulted) as the next
// version of the app whose current definition is prev (nil for a new app),
// and tells which deployment action that is.
func (e *Emulator) newTarget(prev, def map[string]any, restart bool) (map[string]any, string) {
	version := e.nextVersion()
	def["version"] = version
	action := actionStart
	configChanged := true
	if prev != nil {
		e.keepServicePorts(prev, def)
		configChanged = restart || !sameConfig(prev, def)
		action = actionScale
		if configChanged {
			action = actionRestart
		}
	}
	e.assignServicePorts(def)
	lastConfig := version
	if !configChanged {
		lastConfig = configVersionOf(prev)
	}
	def["versionInfo"] = map[string]any{"lastScalingAt": version, "lastConfigChangeAt": lastConfig}
	return def, action
}

// sameConfig tells whether two definitions differ only in scale, which
// Marathon deploys without replacing tasks.
func sameConfig(a, b map[string]any) bool {
	strip := func(m map[string]any) map[string]any {
		c := deepCopy(m)
		for _, k := range []string{"instances", "version", "versionInfo"} {
			delete(c, k)
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// tick advances the emulated cluster by one step: staging tasks start,
// health checks report, apps are reconciled with their definitions, and
// finished deployments are removed.
func (e *Emulator) tick() {
	now := time.Now().UTC()
	for _, id := range sortedKeys(e.apps) {
		a := e.apps[id]
		e.progressTasks(a, now)
		e.reconcile(a)
	}
	for _, d := range slices.Clone(e.deployments) {
		if d.currentStep < len(d.steps) {
			d.currentStep++
		}
		if e.deploymentDone(d) {
			e.removeDeployment(d.id, "deployment_success")
		}
	}
	e.notify()
}

func (e *Emulator) progressTasks(a *app, now time.Time) {
	checks := a.healthChecks()
	maxFailures := 3
	if len(checks) > 0 {
		maxFailures = intField(checks[0], "maxConsecutiveFailures", 3)
	}
	for _, t := range slices.Clone(a.tasks) {
		switch {
		case t.state == stateStaging:
			t.state = stateRunning
			t.startedAt = now
			e.publishStatus(t, "")
		case t.state == stateRunning && len(checks) > 0:
			healthy := !t.failHealth
			if t.healthOverride != nil {
				healthy = *t.healthOverride
			}
			if t.alive == nil || *t.alive != healthy {
				t.alive = &healthy
				e.publish("health_status_changed_event", map[string]any{
					"appId": t.appID, "taskId": t.id, "instanceId": t.id, "version": t.version, "alive": healthy,
				})
			}
			if healthy {
				t.consecutiveFailures = 0
				t.lastSuccess = now
				if t.firstSuccess.IsZero() {
					t.firstSuccess = now
				}
				continue
			}
			t.consecutiveFailures++
			t.lastFailure = now
			t.lastFailureCause = healthFailureCause(checks[0])
			if maxFailures > 0 && t.consecutiveFailures >= maxFailures {
				e.killTask(a, t, stateKilled, fmt.Sprintf("Task was killed since health check failed %d times in a row. Reason: %s", t.consecutiveFailures, t.lastFailureCause))
			}
		}
	}
}

func healthFailureCause(hc map[string]any) string {
	switch hc["protocol"] {
	case "TCP", "MESOS_TCP":
		return "ConnectException: Connection refused"
	case "COMMAND":
		return "Command exited with status 1"
	default:
		return "HTTP health check responded with status 503 Service Unavailable (emulated)"
	}
}

// reconcile starts and stops tasks so that the app converges on its
// definition the way Marathon's default upgrade strategy does
// (minimumHealthCapacity 1, maximumOverCapacity 1): new tasks first, old
// ones killed only when all new ones are running and healthy.
func (e *Emulator) reconcile(a *app) {
	want := a.instances()
	current := e.currentTasks(a)
	for len(current) < want {
		current = append(current, e.launch(a))
	}
	if len(current) > want {
		// killSelection YOUNGEST_FIRST
		slices.SortFunc(current, func(x, y *task) int { return y.seq - x.seq })
		for _, t := range current[:len(current)-want] {
			e.killTask(a, t, stateKilled, "")
		}
		current = current[len(current)-want:]
	}
	hasChecks := len(a.healthChecks()) > 0
	for _, t := range current {
		if !t.ready(hasChecks) {
			return
		}
	}
	for _, t := range slices.Clone(a.tasks) {
		if !slices.Contains(current, t) {
			e.killTask(a, t, stateKilled, "")
		}
	}
}

func (e *Emulator) currentTasks(a *app) []*task {
	cv := a.configVersion()
	var out []*task
	for _, t := range a.tasks {
		if t.configVersion == cv && !t.moving {
			out = append(out, t)
		}
	}
	return out
}

// settled: exactly the wanted tasks exist, all of the current
// configuration, running, and healthy where the app has health checks.
func (e *Emulator) settled(a *app) bool {
	current := e.currentTasks(a)
	if len(current) != a.instances() || len(current) != len(a.tasks) {
		return false
	}
	hasChecks := len(a.healthChecks()) > 0
	for _, t := range current {
		if !t.ready(hasChecks) {
			return false
		}
	}
	return true
}

func (e *Emulator) deploymentDone(d *deployment) bool {
	for _, c := range d.changes {
		a := e.apps[c.appID]
		if c.target == nil {
			if a != nil {
				return false
			}
			continue
		}
		if a == nil || a.testLocked || !e.settled(a) {
			return false
		}
	}
	return true
}

func (e *Emulator) removeDeployment(id, event string) *deployment {
	i := slices.IndexFunc(e.deployments, func(d *deployment) bool { return d.id == id })
	if i < 0 {
		return nil
	}
	d := e.deployments[i]
	e.deployments = slices.Delete(e.deployments, i, i+1)
	e.publish(event, map[string]any{"id": d.id, "plan": e.planJSON(d)})
	return d
}

func (e *Emulator) launch(a *app) *task {
	seq := a.launches
	a.launches++
	agent := e.pickAgent(a)
	t := &task{
		id:            taskIDFor(a.id),
		appID:         a.id,
		host:          agent,
		slaveID:       "emulator-agent-" + agent,
		ports:         e.hostPorts(a.def),
		servicePorts:  servicePorts(a.def),
		state:         stateStaging,
		stagedAt:      time.Now().UTC(),
		version:       str(a.def["version"]),
		configVersion: a.configVersion(),
		seq:           seq,
		failHealth:    e.failHealth[a.id],
	}
	if f := e.taskAddress; f != nil {
		host, ports := f(a.id, seq)
		if host != "" {
			t.host = host
		}
		if ports != nil {
			t.ports = slices.Clone(ports)
		}
	}
	t.ip = t.host
	if networkMode(a.def) == "bridge" {
		e.bridgeSeq++
		t.ip = fmt.Sprintf("172.17.%d.%d", e.bridgeSeq/250%256, e.bridgeSeq%250+2)
	}
	a.tasks = append(a.tasks, t)
	e.publishStatus(t, "")
	return t
}

// pickAgent spreads tasks round robin over the agents, preferring an agent
// that runs no task of the app and is not where a task just died or moved
// from, so that replacements visibly land elsewhere.
func (e *Emulator) pickAgent(a *app) string {
	n := len(e.opts.Agents)
	first := e.opts.Agents[e.agentSeq%n]
	for i := range n {
		candidate := e.opts.Agents[(e.agentSeq+i)%n]
		busy := candidate == a.leftHost || slices.ContainsFunc(a.tasks, func(t *task) bool { return t.host == candidate })
		if !busy {
			e.agentSeq += i + 1
			return candidate
		}
	}
	e.agentSeq++
	return first
}

// killTask removes a task. A non-empty failure message records it as the
// app's lastTaskFailure, as Marathon does for tasks that died.
func (e *Emulator) killTask(a *app, t *task, state, failure string) {
	i := slices.Index(a.tasks, t)
	if i < 0 {
		return
	}
	a.tasks = slices.Delete(a.tasks, i, i+1)
	t.state = state
	if failure != "" {
		a.lastFailure = map[string]any{
			"appId": a.id, "host": t.host, "message": failure, "state": state, "taskId": t.id,
			"timestamp": time.Now().UTC().Format(versionLayout), "version": t.version, "slaveId": t.slaveID,
		}
	}
	e.publishStatus(t, failure)
}

func (e *Emulator) publishStatus(t *task, message string) {
	e.publish("status_update_event", map[string]any{
		"slaveId": t.slaveID, "taskId": t.id, "taskStatus": t.state, "message": message, "appId": t.appID,
		"host": t.host, "ipAddresses": ipAddresses(t.ip), "ports": nonNil(t.ports), "version": t.version,
	})
}

// networkMode reads how the app is networked: "host" (portDefinitions give
// host ports), "bridge" (every port mapping gets a host port) or
// "container" (only mappings with a hostPort get one).
func networkMode(def map[string]any) string {
	if nets, ok := def["networks"].([]any); ok && len(nets) > 0 {
		n, _ := nets[0].(map[string]any)
		switch n["mode"] {
		case "container/bridge":
			return "bridge"
		case "container":
			return "container"
		}
		return "host"
	}
	c, _ := def["container"].(map[string]any)
	d, _ := c["docker"].(map[string]any)
	switch d["network"] {
	case "BRIDGE":
		return "bridge"
	case "USER":
		return "container"
	}
	return "host"
}

// portMappings returns container.portMappings or the deprecated
// container.docker.portMappings.
func portMappings(def map[string]any) []map[string]any {
	c, _ := def["container"].(map[string]any)
	raw, ok := c["portMappings"].([]any)
	if !ok {
		d, _ := c["docker"].(map[string]any)
		raw, _ = d["portMappings"].([]any)
	}
	return objects(raw)
}

func portDefinitions(def map[string]any) []map[string]any {
	raw, _ := def["portDefinitions"].([]any)
	return objects(raw)
}

func (e *Emulator) hostPorts(def map[string]any) []int {
	requirePorts, _ := def["requirePorts"].(bool)
	var out []int
	pick := func(fixed int) {
		if fixed == 0 {
			out = append(out, e.nextHostPort())
			return
		}
		out = append(out, fixed)
	}
	switch networkMode(def) {
	case "bridge":
		for _, m := range portMappings(def) {
			pick(intField(m, "hostPort", 0))
		}
	case "container":
		for _, m := range portMappings(def) {
			if _, ok := m["hostPort"]; ok {
				pick(intField(m, "hostPort", 0))
			}
		}
	default:
		for _, p := range portDefinitions(def) {
			if requirePorts {
				pick(intField(p, "port", 0))
			} else {
				pick(0)
			}
		}
	}
	return out
}

func (e *Emulator) nextHostPort() int {
	p := e.hostPortNext
	e.hostPortNext++
	if e.hostPortNext > e.opts.HostPortMax {
		e.hostPortNext = e.opts.HostPortMin
	}
	return p
}

func servicePorts(def map[string]any) []int {
	var out []int
	if networkMode(def) == "host" {
		for _, p := range portDefinitions(def) {
			out = append(out, intField(p, "port", 0))
		}
		return out
	}
	for _, m := range portMappings(def) {
		out = append(out, intField(m, "servicePort", 0))
	}
	return out
}

// servicePortFields lists the objects and keys that hold service ports.
func servicePortFields(def map[string]any) ([]map[string]any, string) {
	if networkMode(def) == "host" {
		return portDefinitions(def), "port"
	}
	return portMappings(def), "servicePort"
}

// keepServicePorts carries service ports Marathon assigned earlier over to
// an update that leaves them at 0, so that re-posting a definition is not a
// configuration change.
func (e *Emulator) keepServicePorts(prev, def map[string]any) {
	oldObjs, key := servicePortFields(prev)
	newObjs, newKey := servicePortFields(def)
	if key != newKey {
		return
	}
	for i, m := range newObjs {
		if i < len(oldObjs) && intField(m, key, 0) == 0 {
			m[key] = json.Number(fmt.Sprint(intField(oldObjs[i], key, 0)))
		}
	}
}

// assignServicePorts gives every zero service port a cluster-unique port
// from [10000, 20000], as Marathon does (local_port_min/max).
func (e *Emulator) assignServicePorts(def map[string]any) {
	objs, key := servicePortFields(def)
	requirePorts, _ := def["requirePorts"].(bool)
	for _, m := range objs {
		if intField(m, key, 0) != 0 {
			continue
		}
		if key == "port" && requirePorts {
			continue
		}
		m[key] = json.Number(fmt.Sprint(e.nextServicePort()))
	}
}

func (e *Emulator) nextServicePort() int {
	used := map[int]bool{}
	for _, a := range e.apps {
		for _, p := range servicePorts(a.def) {
			used[p] = true
		}
	}
	for range 10001 {
		p := e.servicePortNext
		e.servicePortNext++
		if e.servicePortNext > 20000 {
			e.servicePortNext = 10000
		}
		if !used[p] {
			return p
		}
	}
	return 0
}

func ipAddresses(host string) []map[string]any {
	ip := net.ParseIP(host)
	if ip == nil {
		return []map[string]any{}
	}
	proto := "IPv4"
	if ip.To4() == nil {
		proto = "IPv6"
	}
	return []map[string]any{{"ipAddress": host, "protocol": proto}}
}

func objects(raw []any) []map[string]any {
	out := make([]map[string]any, 0, len(raw))
	for _, item := range raw {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// str is the string a decoded JSON value holds, or "" when it holds none. Definitions are
// validated before they are stored, so their ids, versions and network modes are strings.
func str(v any) string {
	s, _ := v.(string)
	return s
}

func intField(m map[string]any, key string, def int) int {
	switch v := m[key].(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return int(i)
		}
		if f, err := v.Float64(); err == nil {
			return int(f)
		}
	case float64:
		return int(v)
	case int:
		return v
	}
	return def
}

func nonNil(p []int) []int {
	if p == nil {
		return []int{}
	}
	return p
}

// deepCopy copies a decoded JSON value so that stored definitions never
// share maps with a request or a response.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, _ := copyValue(m).(map[string]any) // a map's copy is a map
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, val := range x {
			c[k] = copyValue(val)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, val := range x {
			c[i] = copyValue(val)
		}
		return c
	default:
		return v
	}
}
