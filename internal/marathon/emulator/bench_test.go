package emulator

import (
	"fmt"
	"testing"

	marathon "github.com/gambol99/go-marathon"
)

// BenchmarkCreateDeployDelete measures one app lifecycle through go-marathon
// over a real socket: create (validation, defaults, deployment), three ticks
// to running and healthy, read back, delete.
func BenchmarkCreateDeployDelete(b *testing.B) {
	e := New(Options{Manual: true})
	url, err := e.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c, err := marathon.NewClient(marathon.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("/bench/app-%d", i)
		if _, err := c.CreateApplication(webApp(id, "web:1", 2)); err != nil {
			b.Fatal(err)
		}
		for range 3 {
			e.Step()
		}
		if ok, err := c.ApplicationOK(id); err != nil || !ok {
			b.Fatalf("app %s not OK after three ticks: %v", id, err)
		}
		if _, err := c.DeleteApplication(id, false); err != nil {
			b.Fatal(err)
		}
		e.Step()
	}
}
