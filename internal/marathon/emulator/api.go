package emulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

var (
	appTaskRoute    = regexp.MustCompile(`^/v2/apps(/.+)/tasks/([^/]+)$`)
	appTasksRoute   = regexp.MustCompile(`^/v2/apps(/.+)/tasks$`)
	appVersionRoute = regexp.MustCompile(`^/v2/apps(/.+)/versions/([^/]+)$`)
	appVersions     = regexp.MustCompile(`^/v2/apps(/.+)/versions$`)
	appRestartRoute = regexp.MustCompile(`^/v2/apps(/.+)/restart$`)
	appRoute        = regexp.MustCompile(`^/v2/apps(/.+)$`)
	deploymentRoute = regexp.MustCompile(`^/v2/deployments/([^/]+)$`)
)

// ServeHTTP serves Marathon's REST API. Paths may carry the "/marathon"
// prefix that DC/OS's admin router (and go-marathon with a DC/OS token) adds.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/marathon")
	if path == "" {
		path = "/"
	}
	if !e.authorized(w, r) {
		return
	}
	if path == "/v2/events" {
		e.serveEvents(w, r)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch m := r.Method; {
	case path == "/ping":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "pong\n")
	case path == "/v2/info" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, e.info())
	case path == "/v2/leader" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"leader": strings.TrimPrefix(e.url, "http://")})
	case path == "/v2/queue" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"queue": []any{}})
	case path == "/v2/apps" || path == "/v2/apps/":
		e.serveApps(w, r)
	case path == "/v2/tasks" && m == http.MethodGet:
		e.serveAllTasks(w, r)
	case path == "/v2/tasks/delete" && m == http.MethodPost:
		e.serveDeleteTasks(w, r)
	case path == "/v2/deployments" && m == http.MethodGet:
		e.serveDeployments(w)
	case deploymentRoute.MatchString(path) && m == http.MethodDelete:
		e.serveCancelDeployment(w, r, deploymentRoute.FindStringSubmatch(path)[1])
	case path == "/v2/groups" || strings.HasPrefix(path, "/v2/groups/"):
		e.serveGroups(w, r, strings.TrimPrefix(path, "/v2/groups"))
	case strings.HasPrefix(path, "/v2/apps/"):
		e.serveApp(w, r, path)
	default:
		writeMessage(w, http.StatusNotFound, "The requested resource "+path+" is not emulated (see internal/marathon/emulator/README.md)")
	}
}

func (e *Emulator) authorized(w http.ResponseWriter, r *http.Request) bool {
	if e.opts.Username == "" && e.opts.Token == "" {
		return true
	}
	if e.opts.Token != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("token="+e.opts.Token)) == 1 {
			return true
		}
	}
	if e.opts.Username != "" {
		user, pass, ok := r.BasicAuth()
		if ok && subtle.ConstantTimeCompare([]byte(user), []byte(e.opts.Username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(pass), []byte(e.opts.Password)) == 1 {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Mesosphere"`)
		writeMessage(w, http.StatusUnauthorized, "Invalid username or password.")
		return false
	}
	w.Header().Set("WWW-Authenticate", "acsjwt")
	writeMessage(w, http.StatusUnauthorized, "Authentication required: send the header 'Authorization: token=<DC/OS token>'.")
	return false
}

func (e *Emulator) serveApps(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		e.serveListApps(w, r)
	case http.MethodPost:
		e.serveCreateApp(w, r)
	case http.MethodPut:
		e.serveUpdateApps(w, r)
	default:
		writeMessage(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported on /v2/apps")
	}
}

func (e *Emulator) serveApp(w http.ResponseWriter, r *http.Request, path string) {
	q := r.URL.Query()
	force := q.Get("force") == "true"
	switch {
	case appTaskRoute.MatchString(path) && r.Method == http.MethodDelete:
		m := appTaskRoute.FindStringSubmatch(path)
		e.serveKillTask(w, r, m[1], m[2])
	case appTasksRoute.MatchString(path) && r.Method == http.MethodGet:
		if a := e.findApp(w, appTasksRoute.FindStringSubmatch(path)[1]); a != nil {
			writeJSON(w, http.StatusOK, map[string]any{"tasks": e.tasksJSON(a)})
		}
	case appTasksRoute.MatchString(path) && r.Method == http.MethodDelete:
		e.serveKillAppTasks(w, r, appTasksRoute.FindStringSubmatch(path)[1])
	case appVersionRoute.MatchString(path) && r.Method == http.MethodGet:
		m := appVersionRoute.FindStringSubmatch(path)
		if a := e.findApp(w, m[1]); a != nil {
			i := slices.IndexFunc(a.history, func(h map[string]any) bool { return h["version"] == m[2] })
			if i < 0 {
				writeMessage(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist in version %s", a.id, m[2]))
				return
			}
			writeJSON(w, http.StatusOK, a.history[i])
		}
	case appVersions.MatchString(path) && r.Method == http.MethodGet:
		if a := e.findApp(w, appVersions.FindStringSubmatch(path)[1]); a != nil {
			versions := []string{}
			for i := len(a.history) - 1; i >= 0; i-- {
				versions = append(versions, str(a.history[i]["version"]))
			}
			writeJSON(w, http.StatusOK, map[string]any{"versions": versions})
		}
	case appRestartRoute.MatchString(path) && r.Method == http.MethodPost:
		if a := e.findApp(w, appRestartRoute.FindStringSubmatch(path)[1]); a != nil {
			target, action := e.newTarget(a.def, deepCopy(a.def), true)
			e.respondDeployment(w, []appChange{{appID: a.id, action: action, original: a.def, target: target}}, force, http.StatusOK)
		}
	case appRoute.MatchString(path):
		id, errs := canonicalAppID(appRoute.FindStringSubmatch(path)[1])
		switch r.Method {
		case http.MethodGet:
			if a := e.findApp(w, id); a != nil {
				writeJSON(w, http.StatusOK, map[string]any{"app": e.appJSON(a, appEmbeds(q["embed"], true))})
			}
		case http.MethodPut, http.MethodPatch:
			if len(errs) > 0 {
				writeInvalid(w, []fieldError{{Path: "/id", Errors: errs}})
				return
			}
			e.serveUpdateApp(w, r, id, force)
		case http.MethodDelete:
			if a := e.findApp(w, id); a != nil {
				e.respondDeployment(w, []appChange{{appID: a.id, action: actionStop, original: a.def}}, force, http.StatusOK)
			}
		default:
			writeMessage(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported on "+path)
		}
	default:
		writeMessage(w, http.StatusNotFound, "The requested resource "+path+" is not emulated")
	}
}

// findApp looks the app up or writes Marathon's 404.
func (e *Emulator) findApp(w http.ResponseWriter, rawID string) *app {
	id, _ := canonicalAppID(rawID)
	if a := e.apps[id]; a != nil {
		return a
	}
	writeMessage(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist", "/"+strings.Trim(rawID, "/")))
	return nil
}

// readJSON decodes a JSON request body, keeping numbers exact (json.Number).
func (e *Emulator) readJSON(w http.ResponseWriter, r *http.Request) (any, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "cannot read the request body: "+err.Error())
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// Not JSON at all: 400. Marathon 1.5+ gives the parser's message as a string
		// (MarathonExceptionMapper, JsonParseException); 1.4 gave a details list.
		var details any = err.Error()
		if e.legacy {
			details = []fieldError{{Path: "/", Errors: []string{"error.expected.jsvalue: " + err.Error()}}}
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid JSON", "details": details})
		return nil, false
	}
	return v, true
}

func (e *Emulator) readObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	v, ok := e.readJSON(w, r)
	if !ok {
		return nil, false
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"message": "Invalid JSON", "details": []fieldError{{Path: "/", Errors: []string{"error.expected.jsobject"}}},
		})
		return nil, false
	}
	return withoutNulls(obj), true
}

// admit prepares a request body (a whole definition or a partial update) as the emulated
// version reads it, before it is merged with the current definition: Marathon 1.5+ translates
// the deprecated networking fields first (AppNormalization.forDeprecated[Updates]); Marathon
// 1.4 does not know "networks" and "container.portMappings" and ignores them (its JSON reader,
// api/v2/json/Formats.scala, reads container{type, volumes, docker, appc} only). It writes
// Marathon's 422 and returns false when the body mixes both APIs.
func (e *Emulator) admit(w http.ResponseWriter, body map[string]any, pathPrefix string) bool {
	if e.legacy {
		delete(body, "networks")
		if c, ok := body["container"].(map[string]any); ok {
			delete(c, "portMappings")
		}
		return true
	}
	if errs := translateDeprecated(body); len(errs) > 0 {
		writeInvalid(w, prefixed(errs, pathPrefix))
		return false
	}
	return true
}

func prefixed(errs []fieldError, pathPrefix string) []fieldError {
	for i := range errs {
		errs[i].Path = pathPrefix + errs[i].Path
	}
	return errs
}

// checkApp validates a definition and writes Marathon's 400 or 422 when it
// is invalid. On success the id is canonical, the networking is in the
// emulated version's form and the defaults are filled in.
func (e *Emulator) checkApp(w http.ResponseWriter, def map[string]any, pathPrefix string) bool {
	v := validateApp(def)
	if len(v.typeErrs) > 0 {
		// A value of the wrong JSON type: Marathon 1.5+ answers 422 when every error is a
		// validation error (api/MarathonExceptionMapper.scala, JsResultException; its test
		// "Render js result exception correctly" expects 422 for {"id": 123}), 1.4 answered 400.
		status := http.StatusUnprocessableEntity
		if e.legacy {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, map[string]any{"message": "Invalid JSON", "details": prefixed(v.typeErrs, pathPrefix)})
		return false
	}
	if len(v.valueErrs) > 0 {
		writeInvalid(w, prefixed(v.valueErrs, pathPrefix))
		return false
	}
	def["id"], _ = canonicalAppID(str(def["id"]))
	if !e.legacy {
		if errs := canonicalNetworking(def); len(errs) > 0 {
			writeInvalid(w, prefixed(errs, pathPrefix))
			return false
		}
	}
	applyDefaults(def, !e.legacy)
	return true
}

func writeInvalid(w http.ResponseWriter, details []fieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Object is not valid", "details": details})
}

func (e *Emulator) serveCreateApp(w http.ResponseWriter, r *http.Request) {
	def, ok := e.readObject(w, r)
	if !ok || !e.admit(w, def, "") || !e.checkApp(w, def, "") {
		return
	}
	id := str(def["id"])
	if e.apps[id] != nil {
		writeMessage(w, http.StatusConflict, fmt.Sprintf("An app with id [%s] already exists.", id))
		return
	}
	target, action := e.newTarget(nil, def, false)
	d, _ := e.deploy([]appChange{{appID: id, action: action, target: target}}, true)
	w.Header().Set("Location", "/v2/apps"+id)
	body := e.appJSON(e.apps[id], map[string]bool{"counts": true, "deployments": true})
	body["deployments"] = []any{map[string]any{"id": d.id}}
	writeJSON(w, http.StatusCreated, body)
}

// serveUpdateApp implements PUT /v2/apps/{id}: a partial update by default
// (partialUpdate=true), a rollback when the body is only {"version": ...}.
func (e *Emulator) serveUpdateApp(w http.ResponseWriter, r *http.Request, id string, force bool) {
	body, ok := e.readObject(w, r)
	if !ok {
		return
	}
	current := e.apps[id]
	if v, isRollback := body["version"].(string); isRollback && onlyKeys(body, "version", "id") {
		if current == nil {
			writeMessage(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist", id))
			return
		}
		i := slices.IndexFunc(current.history, func(h map[string]any) bool { return h["version"] == v })
		if i < 0 {
			writeMessage(w, http.StatusNotFound, fmt.Sprintf("Version %s of app '%s' does not exist", v, id))
			return
		}
		target, action := e.newTarget(current.def, withoutVersion(current.history[i]), false)
		e.respondDeployment(w, []appChange{{appID: id, action: action, original: current.def, target: target}}, force, http.StatusOK)
		return
	}
	if !e.admit(w, body, "") {
		return
	}
	def := body
	if current != nil && r.URL.Query().Get("partialUpdate") != "false" {
		def = mergePatch(current.def, body)
	}
	def["id"] = id
	if !e.checkApp(w, def, "") {
		return
	}
	status := http.StatusOK
	var original map[string]any
	if current != nil {
		original = current.def
	} else {
		status = http.StatusCreated
		w.Header().Set("Location", "/v2/apps"+id)
	}
	target, action := e.newTarget(original, def, false)
	e.respondDeployment(w, []appChange{{appID: id, action: action, original: original, target: target}}, force, status)
}

// serveUpdateApps implements PUT /v2/apps with an array of definitions: one
// deployment for all of them (apps_create.json).
func (e *Emulator) serveUpdateApps(w http.ResponseWriter, r *http.Request) {
	v, ok := e.readJSON(w, r)
	if !ok {
		return
	}
	items, isArr := v.([]any)
	if !isArr {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"message": "Invalid JSON", "details": []fieldError{{Path: "/", Errors: []string{"error.expected.jsarray"}}},
		})
		return
	}
	force := r.URL.Query().Get("force") == "true"
	var changes []appChange
	pending := map[string]map[string]any{}
	for i, item := range items {
		body, isObj := item.(map[string]any)
		if !isObj {
			writeJSON(w, http.StatusBadRequest, map[string]any{
				"message": "Invalid JSON", "details": []fieldError{{Path: fmt.Sprintf("(%d)", i), Errors: []string{"error.expected.jsobject"}}},
			})
			return
		}
		body = withoutNulls(body)
		if !e.admit(w, body, fmt.Sprintf("(%d)", i)) {
			return
		}
		def := body
		rawID, _ := body["id"].(string)
		id, _ := canonicalAppID(rawID)
		if a := e.apps[id]; a != nil && r.URL.Query().Get("partialUpdate") != "false" {
			def = mergePatch(a.def, body)
		}
		if !e.checkApp(w, def, fmt.Sprintf("(%d)", i)) {
			return
		}
		pending[str(def["id"])] = def
	}
	for _, item := range items {
		obj, _ := item.(map[string]any) // each item passed admit above, which wants an object
		id, _ := canonicalAppID(str(obj["id"]))
		var original map[string]any
		if a := e.apps[id]; a != nil {
			original = a.def
		}
		target, action := e.newTarget(original, pending[id], false)
		changes = append(changes, appChange{appID: id, action: action, original: original, target: target})
	}
	e.respondDeployment(w, changes, force, http.StatusOK)
}

// respondDeployment starts a deployment and writes {deploymentId, version},
// or Marathon's 409 when an affected app is locked and force is not set.
func (e *Emulator) respondDeployment(w http.ResponseWriter, changes []appChange, force bool, status int) {
	d, locking := e.deploy(changes, force)
	if d == nil {
		writeLocked(w, locking)
		return
	}
	writeJSON(w, status, map[string]any{"deploymentId": d.id, "version": d.version})
}

// writeLocked writes Marathon's 409 for an app locked by deployments.
func writeLocked(w http.ResponseWriter, deploymentIDs []string) {
	deps := make([]map[string]any, 0, len(deploymentIDs))
	for _, id := range deploymentIDs {
		deps = append(deps, map[string]any{"id": id})
	}
	writeJSON(w, http.StatusConflict, map[string]any{
		"message":     "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
		"deployments": deps,
	})
}

func (e *Emulator) serveListApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	selector, err := parseLabelSelector(q.Get("label"))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Invalid label selector: "+err.Error())
		return
	}
	embeds := appEmbeds(q["embed"], false)
	apps := []any{}
	for _, id := range sortedKeys(e.apps) {
		a := e.apps[id]
		if f := q.Get("id"); f != "" && !strings.Contains(a.id, f) {
			continue
		}
		if f := q.Get("cmd"); f != "" {
			if cmd, _ := a.def["cmd"].(string); !strings.Contains(cmd, f) {
				continue
			}
		}
		labels, _ := a.def["labels"].(map[string]any)
		if !selector.matches(labels) {
			continue
		}
		apps = append(apps, e.appJSON(a, embeds))
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps})
}

// appEmbeds reads embed=app.tasks / apps.tasks style parameters. Counts are
// always embedded (Marathon's current default); GET of a single app without
// embed parameters embeds tasks, deployments and lastTaskFailure too, which
// go-marathon's ApplicationOK relies on.
func appEmbeds(params []string, single bool) map[string]bool {
	out := map[string]bool{"counts": true}
	if single && len(params) == 0 {
		params = []string{"app.tasks", "app.deployments", "app.lastTaskFailure"}
	}
	for _, p := range params {
		_, name, _ := strings.Cut(p, ".")
		switch name {
		case "tasks":
			out["tasks"], out["deployments"] = true, true
		case "failures":
			out["tasks"], out["deployments"], out["lastTaskFailure"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out
}

func (e *Emulator) appJSON(a *app, embeds map[string]bool) map[string]any {
	out := deepCopy(a.def)
	if embeds["counts"] {
		staged, running, healthy, unhealthy := 0, 0, 0, 0
		for _, t := range a.tasks {
			switch t.state {
			case stateStaging:
				staged++
			case stateRunning:
				running++
			}
			if t.alive != nil && *t.alive {
				healthy++
			} else if t.alive != nil {
				unhealthy++
			}
		}
		out["tasksStaged"], out["tasksRunning"], out["tasksHealthy"], out["tasksUnhealthy"] = staged, running, healthy, unhealthy
	}
	if embeds["deployments"] {
		deps := []any{}
		for _, d := range e.deployments {
			if d.affects(a.id) {
				deps = append(deps, map[string]any{"id": d.id})
			}
		}
		out["deployments"] = deps
	}
	if embeds["tasks"] {
		out["tasks"] = e.tasksJSON(a)
	}
	if embeds["lastTaskFailure"] && a.lastFailure != nil {
		out["lastTaskFailure"] = a.lastFailure
	}
	return out
}

// serveGroups answers GET /v2/groups[/{id}] with the group tree derived
// from the app ids. Changing groups is not emulated.
func (e *Emulator) serveGroups(w http.ResponseWriter, r *http.Request, rawID string) {
	if r.Method != http.MethodGet {
		writeMessage(w, http.StatusMethodNotAllowed, "changing groups is not emulated; use /v2/apps")
		return
	}
	id := "/" + strings.Trim(rawID, "/")
	var apps []*app
	for _, appID := range sortedKeys(e.apps) {
		if id == "/" || strings.HasPrefix(appID, id+"/") {
			apps = append(apps, e.apps[appID])
		}
	}
	if len(apps) == 0 && id != "/" {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("Group '%s' does not exist", id))
		return
	}
	writeJSON(w, http.StatusOK, e.groupJSON(id, apps))
}

func (e *Emulator) groupJSON(id string, apps []*app) map[string]any {
	direct := []any{}
	children := map[string][]*app{}
	base := strings.TrimSuffix(id, "/") + "/"
	for _, a := range apps {
		rest := strings.TrimPrefix(a.id, base)
		if child, _, nested := strings.Cut(rest, "/"); nested {
			children[base+child] = append(children[base+child], a)
		} else {
			direct = append(direct, e.appJSON(a, map[string]bool{}))
		}
	}
	groups := []any{}
	for _, child := range sortedKeys(children) {
		groups = append(groups, e.groupJSON(child, children[child]))
	}
	version := e.lastVersion.Format(versionLayout)
	return map[string]any{"id": id, "apps": direct, "groups": groups, "pods": []any{}, "dependencies": []any{}, "version": version}
}

func (e *Emulator) info() map[string]any {
	return map[string]any{
		"name": "marathon", "version": e.opts.Version, "buildref": "emulator", "elected": true,
		"leader": strings.TrimPrefix(e.url, "http://"), "frameworkId": "emulator-framework",
		"marathon_config": map[string]any{
			"framework_name": "marathon", "hostname": "127.0.0.1", "local_port_min": 10000, "local_port_max": 20000,
			"mesos_role": "*", "mesos_user": "root", "executor": "//cmd", "ha": false, "checkpoint": true,
		},
		"http_config":      map[string]any{"http_port": 8080, "https_port": 8443},
		"event_subscriber": map[string]any{"type": "sse", "http_endpoints": []string{}},
		"zookeeper_config": map[string]any{"zk": "", "zk_timeout": 10000},
	}
}

func onlyKeys(m map[string]any, allowed ...string) bool {
	for k := range m {
		if !slices.Contains(allowed, k) {
			return false
		}
	}
	return true
}

func withoutVersion(def map[string]any) map[string]any {
	c := deepCopy(def)
	delete(c, "version")
	delete(c, "versionInfo")
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg})
}
