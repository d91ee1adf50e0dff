package taskwatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	gomarathon "github.com/gambol99/go-marathon"

	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon"
	"github.com/vamp-canary/terraform-provider-vamp/internal/marathon/emulator"
)

// BenchmarkPoll is one poll of a cluster with 100 apps of 2 tasks each: GET /v2/apps with the
// tasks embedded, decoding, and comparing with the last view.
func BenchmarkPoll(b *testing.B) {
	e := emulator.New(emulator.Options{})
	u, err := e.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	client, err := marathon.Connect(marathon.Connection{URL: u})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		app := gomarathon.NewDockerApplication().Name(fmt.Sprintf("/bench/app-%d", i)).CPU(0.1).Memory(32).Count(2)
		app.Container.Docker.Container("img:1").Bridged().ExposePort(gomarathon.PortMapping{ContainerPort: 8080, Name: "web", Protocol: "tcp"})
		if _, err := client.CreateApplication(app); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.WaitDeploymentsDone(ctx); err != nil {
		b.Fatal(err)
	}
	src := New(client, Options{})
	for b.Loop() {
		if err := src.refresh(); err != nil {
			b.Fatal(err)
		}
	}
}
