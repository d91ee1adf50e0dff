package blueprint

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// deployVamp reads Vamp documents as data "vamp_blueprint" does and returns the normalized,
// valid blueprint and the notes.
func deployVamp(t *testing.T, docs ...string) (*Blueprint, []string) {
	t.Helper()
	b, notes, errs := ReadVampDocuments(docs)
	if len(errs) > 0 {
		t.Fatalf("ReadVampDocuments: %v", errs)
	}
	b.Normalize()
	if fe := b.Validate(); len(fe) > 0 {
		t.Fatalf("Validate: %v\n%s", fe, dump(b))
	}
	return b, notes
}

// refused checks that the documents are refused with the kind, at the path, saying what.
func refused(t *testing.T, kind ErrorKind, path, msg string, docs ...string) {
	t.Helper()
	_, _, errs := ReadVampDocuments(docs)
	for _, e := range errs {
		if e.Kind == kind && e.Path.YAMLString() == path && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("want %s at %q saying %q; got %v", kind, path, msg, errs)
}

const savaBreed = "kind: breed\nname: sava:1.0.0\ndeployable: magneticio/sava:1.0.0\nports: {webport: 8080/http}\n"

func TestVampBreedByReference(t *testing.T) {
	// A breed is an artifact of its own: named in the blueprint, given by another document
	// (or by the same one after ---).
	for _, docs := range [][]string{
		{"name: sava\nclusters:\n  sava: sava:1.0.0\n", savaBreed},
		{"name: sava\nclusters:\n  sava: sava:1.0.0\n---\n" + savaBreed},
		{"name: sava\nclusters:\n  sava:\n    services:\n      - breed: {reference: sava:1.0.0}\n", savaBreed},
		{"name: sava\nclusters:\n  sava:\n    services:\n      - ref: sava:1.0.0\n", savaBreed},
	} {
		b, _ := deployVamp(t, docs...)
		want := Breed{Name: "sava:1.0.0", Deployable: "magneticio/sava:1.0.0", Ports: map[string]string{"webport": "8080/http"}}
		if got := b.Clusters["sava"].Services[0].Breed; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: breed = %+v", docs, got)
		}
	}
	refused(t, ErrMissingArtifact, "clusters.sava.services[0].breed", `breed "sava:1.0.0" is referenced but no document gives it`,
		"name: sava\nclusters:\n  sava: sava:1.0.0\n")
	refused(t, ErrMissingArtifact, "clusters.sava.scale", `scale "small" is referenced but no document gives it`,
		"name: sava\nclusters:\n  sava: {breed: sava:1.0.0, scale: small}\n", savaBreed)
}

func TestVampClusterForms(t *testing.T) {
	a := "kind: breed\nname: a\ndeployable: img/a\nports: {web: 80}\n"
	bb := "kind: breed\nname: b\ndeployable: img/b\nports: {web: 80}\n"
	for _, doc := range []string{
		"name: d\nclusters:\n  c: [a, b]\n",
		"name: d\nclusters:\n  c: [{breed: a}, {breed: b}]\n",
		"name: d\nclusters:\n  c:\n    services: [a, b]\n",
	} {
		b, _ := deployVamp(t, doc, a, bb)
		if got := routingOf(t, b, "c", "web"); !reflect.DeepEqual(got, routing{"a": {Weight: 50, Strength: -1}, "b": {Weight: 50, Strength: -1}}) {
			t.Errorf("%q: routes = %v", doc, got)
		}
	}
	// A cluster written as its one service: gateways stay with the cluster.
	b, _ := deployVamp(t, "name: d\nclusters:\n  c:\n    breed: {name: a, deployable: img/a, ports: {web: 80}}\n    scale: {cpu: 1, memory: 128MB}\n    gateways: {sticky: route}\n")
	if s := b.Clusters["c"].Services[0]; s.Scale == nil || *s.Scale != (Scale{CPU: 1, MemoryMB: 128, Instances: 1}) || b.Clusters["c"].Gateways["web"].Sticky != "route" {
		t.Errorf("%s", dump(b))
	}
}

func TestVampGateways(t *testing.T) {
	two := "name: d\nclusters:\n  c:\n    services:\n      - {name: a, deployable: img/a, ports: {web: 8080/http, admin: 9090/tcp}}\n      - {name: b, deployable: img/b, ports: {web: 8080/http, admin: 9090/tcp}}\n"
	// Long-form cluster gateway: sticky, conditions with strength, several routes.
	b, _ := deployVamp(t, two+"    gateways:\n      web:\n        sticky: instance\n        routes:\n          a: {weight: 90%, condition: user-agent == Firefox, condition_strength: 25%}\n          b: {weight: 10 %}\n")
	if got := routingOf(t, b, "c", "web"); !reflect.DeepEqual(got, routing{"a": {Weight: 90, Condition: "user-agent == Firefox", Strength: 25}, "b": {Weight: 10, Strength: -1}}) {
		t.Errorf("routes = %v", got)
	}
	if b.Clusters["c"].Gateways["web"].Sticky != "instance" {
		t.Errorf("sticky = %q", b.Clusters["c"].Gateways["web"].Sticky)
	}
	// PORT/TYPE keys, the short form, routes as a string, a key naming the port.
	b, _ = deployVamp(t, two+"gateways:\n  9050/http: c/web\n  9060/tcp: {routes: c/admin}\n  admin2: {port: 9070, routes: {c/admin: {weight: 100%}}}\n")
	if want := map[string]string{"9050": "c/web", "9060": "c/admin", "9070": "c/admin"}; !reflect.DeepEqual(b.Gateways, want) {
		t.Errorf("gateways = %v", b.Gateways)
	}
	// Vamp's rules on tcp ports (these were accepted before).
	refused(t, ErrStickyPortType, "clusters.c.gateways.admin.sticky", "tcp port", two+"    gateways:\n      admin: {sticky: route}\n")
	// The message names Vamp's notification, for a Vamp user to recognise.
	if _, err := ReadBlueprint([]byte(two + "    gateways:\n      admin: {sticky: route}\n")); err == nil || !strings.HasSuffix(err.Error(), "sticky sessions need http (Vamp: StickyPortTypeError)") {
		t.Errorf("err = %v", err)
	}
	refused(t, ErrConditionPortType, "clusters.c.gateways.admin.routes.a.condition", "tcp port", two+"    gateways:\n      admin: {routes: {a: {condition: has cookie x}}}\n")
	refused(t, ErrStickyPortType, `gateways["9060/tcp"].sticky`, "tcp", two+"gateways:\n  9060/tcp: {sticky: route, routes: c/admin}\n")
	refused(t, ErrDuplicateGatewayPort, `gateways["9050/tcp"]`, `"9050/http" and "9050/tcp" are both port 9050`, two+"gateways:\n  9050/http: c/web\n  9050/tcp: c/admin\n")
	refused(t, ErrIllegalGatewayStickyValue, "clusters.c.gateways.web.sticky", "route, instance or none", two+"    gateways:\n      web: {sticky: server}\n")
	refused(t, ErrRouteWeight, "clusters.c.gateways.web.routes", "sum to 110%", two+"    gateways:\n      web: {routes: {a: {weight: 60%}, b: {weight: 50%}}}\n")
	// Vamp's reader refuses a route to an unknown service; a document merged into a deployment may
	// route to the deployment's services, so there the merged blueprint's validation refuses it.
	if _, err := ReadBlueprint([]byte(two + "    gateways:\n      web: {routes: {z: {weight: 100%}}}\n")); err == nil || !strings.Contains(err.Error(), `cluster "c" has no service "z"`) {
		t.Errorf("route to z: %v", err)
	}
	b, _, errs := ReadVampDocuments([]string{two + "    gateways:\n      web: {routes: {z: {weight: 100%}}}\n"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if fe := b.Validate(); len(fe) == 0 || fe[0].Summary != "Route to an unknown service" {
		t.Errorf("Validate: %v", fe)
	}
	refused(t, ErrUnresolvedGatewayPort, `gateways.9050.routes["c/nope"]`, `no breed of cluster "c" has a port "nope"`, two+"gateways:\n  9050: c/nope\n")
	// What the gateway here cannot carry out is refused, naming what to do.
	refused(t, ErrNotSupported, "gateways.9050.routes", "use a vamp_gateway resource", two+"gateways:\n  9050:\n    routes:\n      - c/web: {weight: 50%}\n      - c/admin: {weight: 50%}\n")
	refused(t, ErrNotSupported, "clusters.c.gateways.web.virtual_hosts", "vamp_gateway", two+"    gateways:\n      web: {virtual_hosts: [a.example.com]}\n")
	refused(t, ErrNotSupported, "clusters.c.gateways.web.routes.a.rewrites", "not supported", two+"    gateways:\n      web: {routes: {a: {weight: 100%, rewrites: [{path: /b if ^/a$}]}, b: {weight: 0%}}}\n")
	refused(t, ErrNotSupported, "clusters.c.gateways.web.routes.a.balance", "round robin", two+"    gateways:\n      web: {routes: {a: {weight: 100%, balance: leastconn}, b: {weight: 0%}}}\n")
	refused(t, ErrInvalidValue, "clusters.c.gateways.web.routes.a.condition", "Write a condition such as", two+"    gateways:\n      web: {routes: {a: {condition: android}}}\n")
}

func TestVampAnonymousGateway(t *testing.T) {
	// A cluster gateway written without a port name is the gateway of the cluster's only port.
	b, _ := deployVamp(t, "name: d\nclusters:\n  c:\n    gateways: {sticky: route, routes: {a: {weight: 100%}}}\n    breed: {name: a, deployable: img/a, ports: {web: 8080}}\n")
	if g := b.Clusters["c"].Gateways["web"]; g == nil || g.Sticky != "route" || *g.Routes["a"].Weight != 100 {
		t.Errorf("%s", dump(b))
	}
	refused(t, ErrIllegalAnonymousRoutingPortMapping, "clusters.c.gateways", `breed "a" has 2 ports`,
		"name: d\nclusters:\n  c:\n    gateways: {sticky: route}\n    breed: {name: a, deployable: img/a, ports: {web: 8080, admin: 9090}}\n")
}

func TestVampEnvironment(t *testing.T) {
	breed := "kind: breed\nname: sava\ndeployable: img/sava\nports: {web: 8080}\nenvironment_variables:\n  debug[SAVA_DEBUG]: false\n  HEAP: 1GB\n  REGION: ~\n"
	// The alias is the variable's name in the service; the name is how Vamp's YAML refers to it.
	for _, tt := range []struct{ doc, heap, debug string }{
		{"name: d\nenvironment_variables: {c.REGION: eu}\nclusters:\n  c: sava\n", "1GB", "false"},
		{"name: d\nenv: {c.REGION: eu, c.debug: true}\nclusters:\n  c: sava\n", "1GB", "true"},
		{"name: d\nenv: {c.REGION: eu, c.HEAP: 2GB}\nclusters:\n  c:\n    services:\n      - {breed: sava, env: {HEAP: 3GB, debug: true}}\n", "3GB", "true"},
	} {
		b, _ := deployVamp(t, tt.doc, breed)
		want := map[string]string{"SAVA_DEBUG": tt.debug, "HEAP": tt.heap, "REGION": "eu"}
		if got := b.Clusters["c"].Services[0].Breed.Environment; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: environment = %v, want %v", tt.doc, got, want)
		}
	}
	refused(t, ErrMissingEnvironmentVariable, "clusters.c.services[0].breed.environment_variables.REGION", "has no value", "name: d\nclusters:\n  c: sava\n", breed)
	// Vamp's rules that were not followed before: a service overrides only what its breed
	// declares, and not with an empty value.
	inline := "name: d\nclusters:\n  c:\n    services:\n      - breed: {name: s, deployable: img/s, env: {HEAP: 1GB}}\n        env: {%s}\n"
	refused(t, ErrUnresolvedDependencyInTraitValue, "clusters.c.services[0].env.XMX", `declares no environment variable "XMX"`, strings.Replace(inline, "%s", "XMX: 2GB", 1))
	refused(t, ErrMissingEnvironmentVariable, "clusters.c.services[0].env.HEAP", "has no value", strings.Replace(inline, "%s", "HEAP: ~", 1))
	refused(t, ErrUnresolvedEnvironmentVariable, "environment_variables[\"x.HEAP\"]", `no cluster "x"`, "name: d\nenvironment_variables: {x.HEAP: 1GB}\nclusters:\n  c: {breed: {name: s, deployable: img/s, env: {HEAP: ~}}}\n")
}

func TestVampDependencies(t *testing.T) {
	docs := []string{
		"name: d\nclusters:\n  frontend: {breed: frontend, scale: {cpu: 0.5, memory: 256MB}}\n  backend: backend\n",
		"kind: breed\nname: frontend\ndeployable: img/frontend\nports: {port: 8081/http}\nenv:\n  BACKEND: http://$backend.host:$backend.ports.webport/\n  BACKEND_B: ${backend.host}\n  SCHEMA: $backend.constants.schema\n  COST: $$5\n" +
			"dependencies: {backend: backend}\n",
		"kind: breed\nname: backend\ndeployable: img/backend\nports: {webport: 8085/http}\nconstants: {schema: v2}\n",
	}
	b, _ := deployVamp(t, docs...)
	want := map[string]string{"BACKEND": "http://${backend.host}:${backend.ports.webport}/", "BACKEND_B": "${backend.host}", "SCHEMA": "v2", "COST": "$$5"}
	if got := b.Clusters["frontend"].Services[0].Breed.Environment; !reflect.DeepEqual(got, want) {
		t.Errorf("environment = %v, want %v", got, want)
	}
	refs := ClusterRefs(want["BACKEND"])
	if len(refs) != 2 || strings.Join(refs[0].Parts, ".") != "backend.host" || strings.Join(refs[1].Parts, ".") != "backend.ports.webport" {
		t.Errorf("ClusterRefs = %+v", refs)
	}
	// The dependency's cluster, not its alias, is what the reference names.
	b, _ = deployVamp(t, "name: d\nclusters:\n  web: frontend\n  db: mysql\n",
		"kind: breed\nname: frontend\ndeployable: img/f\nenv: {DB: $store.host}\ndependencies: {store: mysql}\n", "kind: breed\nname: mysql\ndeployable: img/m\nports: {port: 3306/tcp}\n")
	if got := b.Clusters["web"].Services[0].Breed.Environment["DB"]; got != "${db.host}" {
		t.Errorf("DB = %q", got)
	}
	refused(t, ErrUnresolvedBreedDependency, "clusters.web.breed.dependencies.store", `depends on "mysql", which no service of the blueprint runs`,
		"name: d\nclusters:\n  web: {breed: {name: f, deployable: img/f, env: {DB: $store.host}, dependencies: {store: mysql}}}\n")
	refused(t, ErrUnresolvedEnvironmentVariable, "clusters.frontend.breed.env.BACKEND", `has no ports.nope`,
		"name: d\nclusters:\n  frontend: {breed: {name: f, deployable: img/f, env: {BACKEND: $be.ports.nope}, dependencies: {be: b}}}\n  backend: {breed: {name: b, deployable: img/b, ports: {web: 80}}}\n")
	refused(t, ErrUnresolvedDependencyInTraitValue, "clusters.c.breed.env.X", `has no dependency "nope"`,
		"name: d\nclusters:\n  c: {breed: {name: f, deployable: img/f, env: {X: $nope.host}}}\n")
	refused(t, ErrRecursiveDependencies, "clusters.c.breed.dependencies.self", "cycle",
		"name: d\nclusters:\n  c: {breed: {name: f, deployable: img/f, dependencies: {self: f}}}\n")
}

func TestVampMarathonForms(t *testing.T) {
	b, notes := deployVamp(t, "name: d\nmetadata: {team: a}\nclusters:\n  c:\n    network: bridge\n    dialects: {marathon: {labels: {team: a}}, docker: {forcePullImage: true}, kubernetes: {x: y}}\n"+
		"    services:\n      - breed: {name: s, deployable: {type: docker, definition: img/s}, ports: {web: 80}, arguments: [{privileged: true}]}\n"+
		"        arguments: {log-driver: json-file}\n        dialect: {marathon: {labels: {tier: web}}}\n")
	got := b.Clusters["c"].Services[0].Marathon
	want := `{"container":{"docker":{"forcePullImage":true,"parameters":[{"key":"log-driver","value":"json-file"}],"privileged":true}},"labels":{"team":"a","tier":"web"},"networks":[{"mode":"container/bridge"}]}`
	if got != want {
		t.Errorf("marathon = %s\nwant %s", got, want)
	}
	if !strings.Contains(strings.Join(notes, "\n"), `dialect "kubernetes"`) || !strings.Contains(strings.Join(notes, "\n"), "metadata of blueprint") {
		t.Errorf("notes = %q", notes)
	}
	refused(t, ErrInvalidArgumentValue, "clusters.c.arguments[0].privileged", "true or false",
		"name: d\nclusters:\n  c: {breed: {name: s, deployable: img/s}, arguments: [{privileged: maybe}]}\n")
	refused(t, ErrNotSupported, "clusters.c.breed.deployable.type", "docker images",
		"name: d\nclusters:\n  c: {breed: {name: s, deployable: {type: container/rkt, definition: img/s}}}\n")
}

func TestVampHealthChecksAndSLA(t *testing.T) {
	// Cluster-level health checks apply to the services whose breed has the port.
	b, notes := deployVamp(t, "name: d\nclusters:\n  c:\n    health_checks: [{port: web, path: health, initial_delay: 1m, interval: 30, timeout: 2s, failures: 2, protocol: HTTP}]\n"+
		"    sla: {type: response_time_sliding_window, threshold: {upper: 1000, lower: 100}, window: {interval: 60, cooldown: 60}, escalations: [{type: scale_instances, minimum: 1, maximum: 3, scale_by: 1}]}\n"+
		"    services:\n      - {name: a, deployable: img/a, ports: {web: 80}}\n      - {name: b, deployable: img/b, ports: {admin: 81}}\n")
	want := []HealthCheck{{Port: "web", Path: "/health", Protocol: "HTTP", InitialDelay: "1m", Interval: "30s", Timeout: "2s", Failures: 2}}
	if got := b.Clusters["c"].Services[0].HealthChecks; !reflect.DeepEqual(got, want) {
		t.Errorf("checks of a = %+v", got)
	}
	if got := b.Clusters["c"].Services[1].HealthChecks; len(got) != 0 {
		t.Errorf("checks of b = %+v", got)
	}
	// Vamp's SLA of the cluster is each service's sla.
	wantSLA := &SLA{MinInstances: 1, MaxInstances: 3, Step: 1, UpperP99: "1000ms", LowerP99: "100ms", Window: "60s", Cooldown: "60s"}
	for i, s := range b.Clusters["c"].Services {
		if !reflect.DeepEqual(s.SLA, wantSLA) {
			t.Errorf("sla of service %d = %+v", i, s.SLA)
		}
	}
	if len(notes) != 0 {
		t.Errorf("notes = %q", notes)
	}
	// An SLA by reference, and one that cannot be applied (a note, as Vamp ran SLAs beside
	// the deployment).
	b, _ = deployVamp(t, "name: d\nclusters:\n  c:\n    sla: {reference: fast, escalations: [{type: scale_instances, minimum: 2, maximum: 4, scale_by: 2}]}\n    services: [{name: a, deployable: img/a, ports: {web: 80}}]\n",
		"kind: sla\nname: fast\ntype: response_time_sliding_window\nthreshold: {upper: 500, lower: 50}\nwindow: {interval: 30, cooldown: 120}\n")
	if got := b.Clusters["c"].Services[0].SLA; !reflect.DeepEqual(got, &SLA{MinInstances: 2, MaxInstances: 4, Step: 2, UpperP99: "500ms", LowerP99: "50ms", Window: "30s", Cooldown: "120s"}) {
		t.Errorf("sla = %+v", got)
	}
	_, notes = deployVamp(t, "name: d\nclusters:\n  c:\n    sla: {type: vital-cloud, reborn: red-swallow}\n    services: [{name: a, deployable: img/a, ports: {web: 80}}]\n")
	if !strings.Contains(strings.Join(notes, "\n"), `the SLA of cluster "c" (type "vital-cloud") is read and not applied`) {
		t.Errorf("notes = %q", notes)
	}
	refused(t, ErrMissingArtifact, "clusters.c.sla", `SLA "slow" is referenced but no document gives it`,
		"name: d\nclusters:\n  c:\n    sla: slow\n    services: [{name: a, deployable: img/a}]\n")
	refused(t, ErrUnresolvedPortReference, "clusters.c.health_checks[0].port", `"nope" is not a port`,
		"name: d\nclusters:\n  c:\n    health_checks: {port: nope}\n    services: [{name: a, deployable: img/a, ports: {web: 80}}]\n")
	refused(t, ErrUnresolvedScaleEscalationTarget, "clusters.c.sla.escalations", `"x" is not a cluster`,
		"name: d\nclusters:\n  c:\n    sla: {type: escalation_only, escalations: [{type: scale_cpu, minimum: 1, maximum: 2, scale_by: 0.5, target: x}]}\n    services: [{name: a, deployable: img/a}]\n")
}

func TestVampReaderErrors(t *testing.T) {
	for _, tt := range []struct {
		kind ErrorKind
		doc  string
	}{
		{ErrUnexpectedElement, "name: d\nclusters:\n  c: {services: [{breed: a, scala: {cpu: 1}}]}\n"},
		{ErrNoService, "name: d\n"},
		{ErrIllegalName, "name: d\nclusters:\n  c/d: a\n"},
		{ErrNonUniqueBlueprintBreedReference, "name: d\nclusters:\n  c: a\n  e: a\n"},
		{ErrEitherReferenceOrAnonymous, "name: d\nclusters:\n  c:\n    gateways: {routes: {a: {name: x, weight: 100%}}}\n    services: a\n"},
		{ErrMissingPathValue, "name: d\nclusters:\n  c: {breed: {name: a}}\n"},
		{ErrInvalidArgument, "name: d\nclusters:\n  c: {breed: a, arguments: [x]}\n"},
	} {
		_, err := ReadBlueprint([]byte(tt.doc))
		var errs YAMLErrors
		if !errors.As(err, &errs) || !contains(kindsOf(errs), string(tt.kind)) {
			t.Errorf("%q: want %s, got %v", tt.doc, tt.kind, err)
		}
	}
	// A fault names the document, line and path.
	_, err := ReadBlueprint([]byte("name: d\nclusters:\n  c:\n    breed: {name: a, deployable: img/a, ports: {web: 8080/htp}}\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "clusters.c.breed.ports.web") || !strings.Contains(err.Error(), "http or tcp") {
		t.Errorf("err = %v", err)
	}
}

func kindsOf(errs YAMLErrors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Kind))
	}
	return out
}

func TestParseValueRefs(t *testing.T) {
	refs, err := ParseValueRefs("http://$a.host:${a.ports.web}/$$x $ b")
	if err != nil || len(refs) != 2 || strings.Join(refs[0].Parts, ".") != "a.host" || strings.Join(refs[1].Parts, ".") != "a.ports.web" {
		t.Errorf("refs = %+v, %v", refs, err)
	}
	if _, err := ParseValueRefs("${a b}"); err == nil {
		t.Error("${a b} parsed")
	}
}
