package blueprint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// stubBreed is a breed document standing in for Vamp's artifact store: a blueprint of the
// corpus that references a breed by name is given this one.
func stubBreed(name string, ports string) string {
	doc := "kind: breeds\nname: " + name + "\ndeployable: magneticio/" + name + ":1.0\n"
	if ports != "" {
		doc += "ports: " + ports + "\n"
	}
	return doc
}

const largeScale = "kind: scales\nname: large\ncpu: 2\nmemory: 2GB\ninstances: 3\n"

// TestVampSemantics reads files of Vamp's corpus through the data source's path (read, resolve,
// merge, normalize, validate) and checks what Vamp's spec says they read to: scales, gateway
// routes and weights, variables after alias resolution, resolved references.
func TestVampSemantics(t *testing.T) {
	corpus, ok := vampCorpus(t)
	if !ok {
		return
	}
	read := func(t *testing.T, file string) string {
		data, err := os.ReadFile(filepath.Join(corpus, "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	viper := stubBreed("nocturnal-viper", "{web: 8080/http}")
	scale := func(cpu float64, mem, n int64) *Scale { return &Scale{CPU: cpu, MemoryMB: mem, Instances: n} }
	type check func(t *testing.T, b *Blueprint)
	service := func(t *testing.T, b *Blueprint, cluster string, i int) *Service {
		t.Helper()
		c := b.Clusters[cluster]
		if c == nil || len(c.Services) <= i {
			t.Fatalf("no service %d in cluster %q: %s", i, cluster, dump(b))
		}
		return c.Services[i]
	}
	hasScale := func(cluster string, want *Scale) check {
		return func(t *testing.T, b *Blueprint) {
			if got := service(t, b, cluster, 0).Scale; !reflect.DeepEqual(got, want) {
				t.Errorf("scale = %+v, want %+v", got, want)
			}
		}
	}
	hasRoutes := func(cluster, port string, want routing) check {
		return func(t *testing.T, b *Blueprint) {
			if got := routingOf(t, b, cluster, port); !reflect.DeepEqual(got, want) {
				t.Errorf("routes of %s/%s = %+v, want %+v", cluster, port, got, want)
			}
		}
	}
	hasSticky := func(cluster string, want map[string]string) check {
		return func(t *testing.T, b *Blueprint) {
			got := map[string]string{}
			for port, g := range b.Clusters[cluster].Gateways {
				got[port] = g.Sticky
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("sticky = %v, want %v", got, want)
			}
		}
	}
	hasGateways := func(want map[string]string) check {
		return func(t *testing.T, b *Blueprint) {
			if !reflect.DeepEqual(b.Gateways, want) {
				t.Errorf("gateways = %v, want %v", b.Gateways, want)
			}
		}
	}
	hasBreed := func(cluster string, i int, want Breed) check {
		return func(t *testing.T, b *Blueprint) {
			if got := service(t, b, cluster, i).Breed; !reflect.DeepEqual(got, want) {
				t.Errorf("breed = %+v, want %+v", got, want)
			}
		}
	}
	hasMarathon := func(cluster string, i int, want string) check {
		return func(t *testing.T, b *Blueprint) {
			var got, w any
			_ = json.Unmarshal([]byte(service(t, b, cluster, i).Marathon), &got)
			_ = json.Unmarshal([]byte(want), &w)
			if !reflect.DeepEqual(got, w) {
				t.Errorf("marathon = %s, want %s", service(t, b, cluster, i).Marathon, want)
			}
		}
	}
	hasChecks := func(cluster string, i int, want []HealthCheck) check {
		return func(t *testing.T, b *Blueprint) {
			if got := service(t, b, cluster, i).HealthChecks; !reflect.DeepEqual(got, want) {
				t.Errorf("health checks = %+v, want %+v", got, want)
			}
		}
	}
	hc := func(path, port string) HealthCheck {
		return HealthCheck{Path: "/" + path, Port: port, Protocol: "HTTPS", InitialDelay: "30s", Timeout: "4s", Interval: "1m", Failures: 5}
	}
	tests := []struct {
		file   string
		extra  []string
		checks []check
	}{
		{"blueprint/blueprint1.yml", []string{viper}, []check{hasBreed("notorious", 0, Breed{Name: "nocturnal-viper", Deployable: "magneticio/nocturnal-viper:1.0", Ports: map[string]string{"web": "8080/http"}}),
			hasScale("notorious", &DefaultScale), hasRoutes("notorious", "web", routing{"nocturnal-viper": {Weight: 100, Strength: -1}})}},
		{"blueprint/blueprint8.yml", []string{viper}, []check{hasScale("notorious", scale(0.2, 120, 2))}},
		{"blueprint/blueprint9.yml", []string{viper, largeScale}, []check{hasScale("notorious", scale(2, 2048, 3))}},
		{"blueprint/blueprint10.yml", []string{viper, largeScale}, []check{hasScale("notorious", scale(2, 2048, 3))}},
		{"blueprint/blueprint12.yml", []string{viper}, []check{hasRoutes("notorious", "web", routing{"nocturnal-viper": {Weight: 100, Strength: -1}})}},
		{"blueprint/blueprint15.yml", []string{viper}, []check{hasRoutes("notorious", "web", routing{"nocturnal-viper": {Weight: 100, Condition: "user.agent != ios", Strength: 0}})}},
		{"blueprint/blueprint18.yml", []string{viper}, []check{hasBreed("notorious", 0, Breed{Name: "nocturnal-viper", Deployable: "magneticio/nocturnal-viper:1.0", Ports: map[string]string{"web": "8080/http"}})}},
		{"blueprint/blueprint19.yml", []string{viper}, []check{hasBreed("notorious", 0, Breed{Name: "nocturnal-viper", Deployable: "magneticio/nocturnal-viper:1.0", Ports: map[string]string{"web": "8080/http"}})}},
		{"blueprint/blueprint20.yml", []string{viper}, []check{hasBreed("notorious", 0, Breed{Name: "nocturnal-viper", Deployable: "magneticio/nocturnal-viper:1.0", Ports: map[string]string{"web": "8080/http"}})}},
		{"blueprint/blueprint22.yml", nil, []check{hasGateways(map[string]string{"8080": "supersonic/port"}),
			hasBreed("supersonic", 0, Breed{Name: "solid-barbershop", Deployable: "vamp/solid-barbershop", Ports: map[string]string{"port": "80/http"}})}},
		{"blueprint/blueprint36.yml", nil, []check{hasBreed("supersonic", 0, Breed{Name: "solid-barbershop", Deployable: "donut"})}},
		{"blueprint/blueprint42.yml", []string{stubBreed("sava1", "{port: 80/http}"), largeScale}, []check{hasScale("supersonic", scale(2, 2048, 3)),
			hasGateways(map[string]string{"8080": "supersonic/port"})}},
		{"blueprint/blueprint47.yml", []string{stubBreed("sava1", ""), stubBreed("sava2", ""), stubBreed("sava3", ""), stubBreed("sava4", "")}, []check{
			hasMarathon("supersonic", 0, `{"a":"b","r":"t","container":{"docker":{"c":"d","q":"w","o":"p"}}}`),
			hasMarathon("supersonic", 1, `{"r":"t","container":{"docker":{"q":"w","o":"p"}}}`),
			hasMarathon("viper", 0, `{"u":"i"}`)}},
		{"blueprint/blueprint50.yml", nil, []check{hasBreed("supersonic", 0, Breed{Name: "solid-barbershop", Deployable: "vamp/solid-barbershop", Environment: map[string]string{"HEAP": "2GB"}})}},
		{"blueprint/blueprint51.yml", []string{"kind: breed\nname: solid-barbershop\ndeployable: vamp/solid-barbershop\nenvironment_variables: {HEAP: 1GB}\n"}, []check{
			hasBreed("supersonic", 0, Breed{Name: "solid-barbershop", Deployable: "vamp/solid-barbershop", Environment: map[string]string{"HEAP": "2GB"}})}},
		{"blueprint/blueprint54.yml", nil, []check{hasGateways(map[string]string{"8081": "supersonic/port", "8082": "supersonic/health", "8083": "supersonic/metrics"}),
			hasBreed("supersonic", 0, Breed{Name: "solid-barbershop", Deployable: "vamp/solid-barbershop", Ports: map[string]string{"port": "80/http", "health": "8080/http", "metrics": "8090/tcp"}})}},
		{"blueprint/blueprint57.yml", []string{viper}, []check{hasSticky("notorious", map[string]string{"web": "route"})}},
		{"blueprint/blueprint58.yml", []string{viper}, []check{hasSticky("notorious", map[string]string{"web": "instance"})}},
		{"blueprint/blueprint61.yml", nil, []check{hasSticky("sava", map[string]string{"web": "route", "admin": "instance"})}},
		{"blueprint/blueprint63.yml", []string{viper}, []check{hasSticky("notorious", map[string]string{"web": ""})}},
		{"blueprint/blueprint68.yml", nil, []check{hasSticky("notorious", map[string]string{"web": "route"})}},
		{"blueprint/blueprint76.yml", []string{viper}, []check{hasGateways(map[string]string{"8080": "notorious/web"})}},
		{"blueprint/blueprint79.yml", []string{viper}, []check{hasMarathon("notorious", 0, `{"container":{"docker":{"privileged":false,"parameters":[{"key":"arg","value":"test"}]}}}`)}},
		{"blueprint/blueprint80.yml", []string{viper}, []check{hasMarathon("notorious", 0, `{"container":{"docker":{"parameters":[{"key":"arg1","value":"test1"},{"key":"arg2","value":"test2"}]}}}`)}},
		{"blueprint/blueprint89.yml", []string{viper}, []check{hasMarathon("notorious", 0, `{"networks":[{"mode":"container","name":"fox"}]}`)}},
		{"blueprint/blueprint91.yml", []string{stubBreed("nocturnal-viper", "{web: 8080/http}")}, []check{hasScale("notorious", scale(0.2, 120, 2)),
			hasChecks("notorious", 0, []HealthCheck{hc("path/to/check", "web")})}},
		{"blueprint/blueprint93.yml", nil, []check{hasChecks("notorious", 0, []HealthCheck{hc("path/to/check", "webport")})}},
		{"blueprint/blueprint97.yml", nil, []check{hasChecks("notorious", 0, []HealthCheck{hc("path/to/check", "webport"), hc("path/to/check2", "webport")})}},
		{"blueprint/blueprint98.yml", nil, []check{hasChecks("notorious", 0, []HealthCheck{hc("path/to/check", "webport")}), hasChecks("notorious", 1, []HealthCheck{hc("path/to/check2", "webport2")})}},
		{"blueprint/blueprint102.yml", nil, []check{hasScale("sava", scale(0.2, 64, 1)), hasGateways(map[string]string{"9050": "sava/webport"}),
			hasBreed("sava", 0, Breed{Name: "sava:1.0.0", Deployable: "vampio/sava:1.0.0", Ports: map[string]string{"webport": "8080/http"}, Environment: map[string]string{"a.b.c": "{{logging_level_root}}"}}),
			hasChecks("sava", 0, []HealthCheck{{Path: "/", Port: "webport", Protocol: "HTTP", InitialDelay: "10s", Timeout: "5s", Interval: "10s", Failures: 10}})}},
		// Breeds of the corpus, deployed by a blueprint that names them.
		{"breed/breed3.yml", []string{"name: d\nclusters:\n  app: monarch\n  db: mysql\n", stubBreed("mysql", "{port: 3306/tcp}")}, []check{
			hasBreed("app", 0, Breed{Name: "monarch", Deployable: "magneticio/monarch:latest", Ports: map[string]string{"port": "8080/http"},
				Environment: map[string]string{"DB_HOST": "${db.host}", "DB_PORT": "${db.ports.port}"}})}},
		{"breed/breed22.yml", []string{"name: d\nclusters:\n  app: monarch\n  database: mysql\n"}, []check{
			hasBreed("app", 0, Breed{Name: "monarch", Deployable: "magneticio/monarch:latest", Ports: map[string]string{"web": "80/tcp"}})}},
		{"breed/breed23.yml", []string{"name: d\nclusters:\n  app: monarch\n"}, []check{
			hasBreed("app", 0, Breed{Name: "monarch", Deployable: "magneticio/monarch:latest", Environment: map[string]string{"period": "100", "TIME_OUT": "10"}})}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			docs := []string{read(t, tt.file)}
			if filepath.Dir(tt.file) == "breed" {
				docs[0] = "kind: breeds\n" + docs[0]
				docs = append([]string{tt.extra[0]}, append(docs, tt.extra[1:]...)...)
			} else {
				docs = append(docs, tt.extra...)
			}
			b, _, errs := ReadVampDocuments(docs)
			if len(errs) > 0 {
				t.Fatalf("%v", errs)
			}
			b.Normalize()
			if fe := b.Validate(); len(fe) > 0 {
				t.Fatalf("Validate: %v", fe)
			}
			for _, c := range tt.checks {
				c(t, b)
			}
		})
	}
	if len(tests) < 20 {
		t.Errorf("%d files checked for meaning; the acceptance asks for at least 20", len(tests))
	}
}
