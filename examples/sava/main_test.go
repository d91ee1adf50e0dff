package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAnswersWithItsVersionAndHealth(t *testing.T) {
	srv := httptest.NewServer(handler("1.1.0"))
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
