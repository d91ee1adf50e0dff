package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/metrics"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gateway/spec"
	"github.com/vamp-canary/terraform-provider-vamp/internal/gatewayapi"
)

// maxBody bounds a PUT body; a gateway document is a few kilobytes.
const maxBody = 1 << 20

// adminHandler is the admin API. Everything but /healthz needs the bearer token, /metrics
// included: its series name every gateway and route.
func (s *Server) adminHandler() (_ http.Handler, err error) {
	mux := http.NewServeMux()
	defer func() {
		// ServeMux panics on a pattern that conflicts with another; an embedder's extra handler
		// must not crash the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("admin handlers: %v", p)
		}
	}()
	mux.HandleFunc("GET /v1/gateways", s.handleList)
	mux.HandleFunc("GET /v1/gateways/{name...}", s.handleGet)
	mux.HandleFunc("PUT /v1/gateways/{name...}", s.handlePut)
	mux.HandleFunc("DELETE /v1/gateways/{name...}", s.handleDelete)
	mux.Handle("GET /metrics", s.metrics.Handler())
	for pattern, h := range s.cfg.AdminHandlers {
		mux.Handle(pattern, h)
	}
	protected := s.requireToken(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n") // a client gone before the answer: nothing to tell it
			return
		}
		protected.ServeHTTP(w, r)
	}), nil
}

// requireToken answers 401 unless the request carries `Authorization: Bearer <token>`. Both
// sides are hashed first so that the comparison takes the same time whatever the lengths.
func (s *Server) requireToken(next http.Handler) http.Handler {
	if s.token == "" { // --admin-insecure-no-token
		return next
	}
	want := sha256.Sum256([]byte(s.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vamp-gateway"`)
			writeError(w, http.StatusUnauthorized, "", "missing or wrong admin token: send \"Authorization: Bearer <token>\" with the gateway's token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := gatewayapi.GatewayList{Gateways: make([]gatewayapi.Gateway, 0, len(s.gateways))}
	for _, name := range s.sortedNames() {
		list.Gateways = append(list.Gateways, withStatus(s.gateways[name]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	// "<name>/stats" addresses the statistics of gateway <name>; ValidateName keeps gateway names
	// from ending in "/stats", so this is never ambiguous.
	if base, ok := strings.CutSuffix(name, "/stats"); ok {
		if e := s.gateways[base]; e != nil {
			writeJSON(w, http.StatusOK, s.stats(e))
			return
		}
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("gateway %q does not exist", base))
		return
	}
	if err := spec.ValidateName(name); err != nil {
		writeError(w, http.StatusBadRequest, "name", err.Error())
		return
	}
	e := s.gateways[name]
	if e == nil {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("gateway %q does not exist", name))
		return
	}
	writeJSON(w, http.StatusOK, withStatus(e))
}

func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		err = refuse(http.StatusBadRequest, "", "reading the body: %v (a gateway document is at most %d bytes)", err, maxBody)
	}
	var doc gatewayapi.Gateway
	if err == nil {
		doc, err = parseGateway(name, data)
	}
	if err != nil {
		s.metrics.Reload(metrics.ReloadInvalid)
		writeApplyError(w, err)
		return
	}
	if s.store != nil {
		s.storePut(w, r, name, data)
		return
	}
	s.mu.Lock()
	_, err = s.apply(name, doc, applyPut, nil)
	var stored gatewayapi.Gateway
	if err == nil {
		stored = withStatus(s.gateways[name])
	}
	s.mu.Unlock()
	if err != nil {
		writeApplyError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, stored)
}

// parseGateway checks a PUT's name and body (strict JSON) before apply: the admin API and the
// store (etcd) go through it.
func parseGateway(name string, data []byte) (gatewayapi.Gateway, error) {
	if err := spec.ValidateName(name); err != nil {
		return gatewayapi.Gateway{}, refuse(http.StatusBadRequest, "name", "%s", err.Error())
	}
	doc, err := decodeStrict(data)
	if err != nil {
		return gatewayapi.Gateway{}, refuse(http.StatusBadRequest, "", "%s", err.Error())
	}
	if doc.Name != "" && doc.Name != name {
		return gatewayapi.Gateway{}, refuse(http.StatusBadRequest, "name", "the body names gateway %q but the URL %q; leave \"name\" out or make them equal", doc.Name, name)
	}
	return doc, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.store != nil {
		s.storeDelete(w, r, name)
		return
	}
	s.mu.Lock()
	err := s.remove(name)
	s.mu.Unlock()
	if err != nil {
		writeApplyError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeStrict reads a gateway document; unknown fields are errors (a typo must not be ignored).
func decodeStrict(data []byte) (gatewayapi.Gateway, error) {
	var doc gatewayapi.Gateway
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return doc, errors.New("the body is empty; send a gateway document as JSON")
		case errors.As(err, &syn):
			return doc, fmt.Errorf("the body is not valid JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return doc, fmt.Errorf("field %q: %s is not a %s", typ.Field, typ.Value, typ.Type)
		}
		return doc, fmt.Errorf("the body is not a gateway document: %v", err)
	}
	if dec.More() {
		return doc, errors.New("the body holds more than one JSON document")
	}
	return doc, nil
}

func (s *Server) stats(e *entry) gatewayapi.Stats {
	out := gatewayapi.Stats{Name: e.doc.Name, Version: e.doc.Version, Routes: make([]gatewayapi.RouteStats, 0, len(e.doc.Routes))}
	tableRoutes := e.routing.Table.Load().Routes()
	now := time.Now()
	for i, r := range e.doc.Routes {
		snap := e.routes[r.Name].Snapshot()
		rs := gatewayapi.RouteStats{
			Name: r.Name, Weight: r.Weight,
			Requests: snap.Requests, Responses: snap.Responses, UpstreamErrors: snap.UpstreamErrors,
			LatencyP50MS: float64(snap.P50.Microseconds()) / 1000,
			LatencyP99MS: float64(snap.P99.Microseconds()) / 1000,
			Instances:    []gatewayapi.InstanceStats{},
		}
		if m := e.tcpRoutes[r.Name]; m != nil {
			rs.TCP = m.Stats()
		}
		if sla := e.slas[r.Name]; sla != nil {
			rs.Scale = sla.status()
		}
		if i < len(tableRoutes) {
			for _, b := range tableRoutes[i].Backends {
				in := gatewayapi.InstanceStats{Healthy: b.Available(now), Active: b.Active()}
				in.Host, in.Port = splitAddr(b.Addr)
				rs.Instances = append(rs.Instances, in)
			}
		}
		out.Routes = append(out.Routes, rs)
	}
	out.Rollout = rolloutStatus(e.run)
	return out
}

func writeApplyError(w http.ResponseWriter, err error) {
	var ae *applyError
	if errors.As(err, &ae) {
		writeError(w, ae.status, ae.path, ae.msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "", err.Error())
}

func writeError(w http.ResponseWriter, status int, path, msg string) {
	writeJSON(w, status, gatewayapi.Error{Error: msg, Path: path})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent: a write that fails (the client went away) has no one to report to.
	_, _ = w.Write(append(data, '\n'))
}
