package localrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// maxBody bounds a PUT body.
const maxBody = 1 << 20

// Handler serves the local runtime's API: `GET /v1/services`, `PUT/GET/DELETE
// /v1/services/{id}` (ids keep their slashes), `PUT ...?wait=30s` to wait for health. Mount it at
// both "/v1/services" and "/v1/services/" behind the admin listener's token check; it checks no
// token itself.
func (r *Runner) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

func (r *Runner) serveHTTP(w http.ResponseWriter, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/v1/services")
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		writeError(w, http.StatusNotFound, gatewayapi.Error{Error: "not found: " + req.URL.Path})
		return
	}
	id := strings.TrimPrefix(rest, "/")
	if id == "" {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, gatewayapi.Error{Error: req.Method + " is not allowed on /v1/services; use GET to list, PUT /v1/services/{id} to define one"})
			return
		}
		writeJSON(w, http.StatusOK, ServiceList{Services: r.List()})
		return
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		st, ok := r.Get(id)
		if !ok {
			writeError(w, http.StatusNotFound, gatewayapi.Error{Error: fmt.Sprintf("no local service %q", id)})
			return
		}
		writeJSON(w, http.StatusOK, st)
	case http.MethodPut:
		r.servePut(w, req, id)
	case http.MethodDelete:
		if !r.Delete(id) {
			writeError(w, http.StatusNotFound, gatewayapi.Error{Error: fmt.Sprintf("no local service %q", id)})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, gatewayapi.Error{Error: req.Method + " is not allowed on a service; use GET, PUT or DELETE"})
	}
}

func (r *Runner) servePut(w http.ResponseWriter, req *http.Request, id string) {
	var wait time.Duration
	if q := req.URL.Query().Get("wait"); q != "" {
		d, err := parseDuration(q, 0)
		if err != nil {
			writeError(w, http.StatusBadRequest, gatewayapi.Error{Error: fmt.Sprintf("query parameter wait=%q: %v", q, err)})
			return
		}
		wait = d
	}
	if idErr := ValidateID(id); idErr != nil {
		writeError(w, http.StatusBadRequest, idErr.APIError())
		return
	}
	var svc Service
	dec := json.NewDecoder(io.LimitReader(req.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&svc); err != nil {
		writeError(w, http.StatusBadRequest, decodeError(err))
		return
	}
	if svc.ID != "" && svc.ID != id {
		writeError(w, http.StatusBadRequest, gatewayapi.Error{Path: "id", Error: fmt.Sprintf("%q differs from the id in the URL, %q; omit it or make them equal", svc.ID, id)})
		return
	}
	svc.ID = id
	st, err := r.Put(svc)
	var fieldErr *FieldError
	switch {
	case errors.As(err, &fieldErr):
		writeError(w, http.StatusBadRequest, fieldErr.APIError())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, gatewayapi.Error{Error: err.Error()})
		return
	}
	if wait > 0 {
		ctx, cancel := context.WithTimeout(req.Context(), wait)
		err := r.WaitHealthy(ctx, id)
		cancel()
		if err != nil {
			if req.Context().Err() != nil {
				return // the client is gone
			}
			st, _ = r.Get(id)
			writeError(w, http.StatusGatewayTimeout, gatewayapi.Error{Error: notHealthyMessage(id, wait, st, err)})
			return
		}
		st, _ = r.Get(id)
	}
	writeJSON(w, http.StatusOK, st)
}

// notHealthyMessage explains a service that did not get healthy in time, with each unhealthy
// instance's last error and output.
func notHealthyMessage(id string, wait time.Duration, st Status, err error) string {
	var b strings.Builder
	if !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(&b, "local service %q: %v", id, err)
		return b.String()
	}
	fmt.Fprintf(&b, "local service %q is not healthy after %s (it stays defined and the runtime keeps restarting it)", id, wait)
	writeUnhealthy(&b, st)
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "not healthy yet (no check has passed)"
	}
	return s
}

// decodeError turns a JSON decoding error into the API's error with the field's path.
func decodeError(err error) gatewayapi.Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return gatewayapi.Error{Path: typeErr.Field, Error: fmt.Sprintf("expected a JSON %s, got %s", typeErr.Type, typeErr.Value)}
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field = strings.Trim(field, `"`)
		return gatewayapi.Error{Path: field, Error: fmt.Sprintf("unknown field %q; the fields are id, deployable, ports, env, instances, health_checks", field)}
	}
	if errors.Is(err, io.EOF) {
		return gatewayapi.Error{Error: "the body is empty; send the service as JSON"}
	}
	return gatewayapi.Error{Error: "the body is not valid JSON: " + err.Error()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, e gatewayapi.Error) {
	writeJSON(w, status, e)
}
