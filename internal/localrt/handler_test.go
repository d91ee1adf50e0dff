package localrt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

func newTestAPI(t *testing.T) (*Runner, *Client, *httptest.Server) {
	t.Helper()
	r := newTestRunner(t)
	mux := http.NewServeMux()
	// Mounted the way the dev command mounts it.
	mux.Handle("/v1/services", r.Handler())
	mux.Handle("/v1/services/", r.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return r, NewClient(&gatewayapi.Client{BaseURL: srv.URL}), srv
}

// The client drives the whole life of a service through the HTTP API.
func TestClientPutGetListDelete(t *testing.T) {
	t.Parallel()
	_, c, _ := newTestAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc := helperService(t, "sava/sava_cluster/sava:1.0.0", "serve", map[string]string{"VERSION": "1.0.0"})

	st, err := c.Put(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy || len(st.Instances) != 1 || st.Instances[0].PID == 0 {
		t.Fatalf("Put answered %+v, want a healthy instance (it waits)", st)
	}
	if body, err := httpGet(st.Instances[0].Ports["webport"], "/"); err != nil || body != "helper:1.0.0" {
		t.Fatalf("GET / = %q, %v", body, err)
	}
	got, err := c.Get(ctx, svc.ID)
	if err != nil || got.Service.ID != svc.ID || got.Service.Deployable != svc.Deployable || !got.Healthy {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].Service.ID != svc.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := c.Delete(ctx, svc.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, svc.ID); !gatewayapi.IsNotFound(err) {
		t.Fatalf("Get after Delete: err = %v, want not found", err)
	}
	if err := c.Delete(ctx, svc.ID); err != nil {
		t.Fatalf("a second Delete: %v, want nil", err)
	}
}

// A service that never gets healthy: PUT ?wait answers 504 with the process's last output, and
// the service stays defined.
func TestPutWaitTimesOutWithTheLastOutput(t *testing.T) {
	t.Parallel()
	r, c, _ := newTestAPI(t)
	c.Wait = 2 * time.Second
	svc := helperService(t, "app/c/broken", "crash", nil)
	_, err := c.Put(context.Background(), svc)
	var apiErr *gatewayapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusGatewayTimeout {
		t.Fatalf("err = %v, want a 504", err)
	}
	for _, want := range []string{"not healthy after 2s", "fatal: config file /etc/sava.conf not found", "exited with status 3"} {
		if !strings.Contains(apiErr.Body.Error, want) {
			t.Errorf("504 message lacks %q:\n%s", want, apiErr.Body.Error)
		}
	}
	if _, ok := r.Get(svc.ID); !ok {
		t.Error("the service was dropped; it must stay defined")
	}
}

// Bad PUTs get 400 with the JSON path of the fault, and change nothing.
func TestPutRejectsBadServicesWithThePath(t *testing.T) {
	t.Parallel()
	r, _, srv := newTestAPI(t)
	cases := []struct {
		name, id, body, path, msg string
	}{
		{"not json", "a/b", `{`, "", "not valid JSON"},
		{"empty body", "a/b", ``, "", "empty"},
		{"unknown field", "a/b", `{"deployable":"cmd:true","instances":1,"scale":1}`, "scale", "unknown field"},
		{"wrong type", "a/b", `{"deployable":"cmd:true","instances":"one"}`, "instances", "expected a JSON int"},
		{"docker image", "a/b", `{"deployable":"magneticio/sava:1.0.0","instances":1}`, "deployable", "is a Docker image"},
		{"no deployable", "a/b", `{"instances":1}`, "deployable", "required"},
		{"empty command", "a/b", `{"deployable":"cmd: ","instances":1}`, "deployable", "empty"},
		{"no instances", "a/b", `{"deployable":"cmd:true"}`, "instances", "between 1 and 64"},
		{"port without name", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"protocol":"http"}]}`, "ports[0].name", "needs a name"},
		{"duplicate port", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web"},{"name":"web"}]}`, "ports[1].name", "unique"},
		{"bad protocol", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web","protocol":"udp"}]}`, "ports[0].protocol", `"http" or "tcp"`},
		{"bad env", "a/b", `{"deployable":"cmd:true","instances":1,"env":{"A=B":"x"}}`, `env["A=B"]`, "not a valid environment variable name"},
		{"check on unknown port", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web"}],"health_checks":[{"port":"admin"}]}`, "health_checks[0].port", `use one of "web"`},
		{"check protocol", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web"}],"health_checks":[{"port":"web","protocol":"GRPC"}]}`, "health_checks[0].protocol", `"HTTP" or "TCP"`},
		{"check interval", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web"}],"health_checks":[{"port":"web","interval":"10"}]}`, "health_checks[0].interval", `"10s"`},
		{"check path", "a/b", `{"deployable":"cmd:true","instances":1,"ports":[{"name":"web"}],"health_checks":[{"port":"web","path":"health"}]}`, "health_checks[0].path", `starts with "/"`},
		{"id mismatch", "a/b", `{"id":"a/c","deployable":"cmd:true","instances":1}`, "id", "differs from the id in the URL"},
		{"bad id", "a%20b/c", `{"deployable":"cmd:true","instances":1}`, "id", "is not allowed in a service id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1/services/"+tc.id, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body gatewayapi.Error
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || body.Path != tc.path || !strings.Contains(body.Error, tc.msg) {
				t.Fatalf("got %d %+v, want 400 at %q with %q", resp.StatusCode, body, tc.path, tc.msg)
			}
		})
	}
	if n := len(r.List()); n != 0 {
		t.Fatalf("%d services defined by bad PUTs", n)
	}
}

// Ids that a mux would clean before the handler sees them are refused by the runner itself.
func TestPutRejectsIDsWithEmptyOrDotSegments(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t)
	for _, id := range []string{"", "a//b", "/a", "a/", "a/../b", "a/./b"} {
		_, err := r.Put(Service{ID: id, Deployable: "cmd:true", Instances: 1})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != "id" {
			t.Errorf("Put(id %q): err = %v, want a FieldError at id", id, err)
		}
	}
}

func TestServicePathKeepsSlashesAndEscapesSegments(t *testing.T) {
	t.Parallel()
	if got, want := ServicePath("sava/sava_cluster/sava:1.0.0"), "/v1/services/sava/sava_cluster/sava:1.0.0"; got != want {
		t.Fatalf("ServicePath = %q, want %q", got, want)
	}
	if got, want := ServicePath("a b/c"), "/v1/services/a%20b/c"; got != want {
		t.Fatalf("ServicePath = %q, want %q", got, want)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"webport": "WEBPORT", "admin-port": "ADMIN_PORT", "p.1": "P_1"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}
