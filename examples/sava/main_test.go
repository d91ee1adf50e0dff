package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAnswersWithItsVersionAndHealth(t *testing.T) {
	srv := httptest.NewServer(handler("1.1.0", ""))
	defer srv.Close()
	for path, want := range map[string]string{"/": "sava:1.1.0\n", "/any/page": "sava:1.1.0\n", "/health": "ok\n"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
}

func TestFrontendAnswersWithTheBackendsAnswer(t *testing.T) {
	backend := httptest.NewServer(handler("2.0.0", ""))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://") // HOST:PORT, as $backend.host:$backend.ports.webport gives it
	front := httptest.NewServer(handler("1.0.0", addr))
	defer front.Close()
	resp, err := http.Get(front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "sava:1.0.0 -> sava:2.0.0 (via " + addr + ")\n"; resp.StatusCode != http.StatusOK || string(body) != want {
		t.Errorf("GET / = %d %q, want 200 %q", resp.StatusCode, body, want)
	}
	backend.Close()
	resp, err = http.Get(front.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET / with the backend gone = %d, want 502", resp.StatusCode)
	}
}
