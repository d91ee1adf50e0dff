package blueprint

import (
	"strings"
	"testing"
)

func TestPathString(t *testing.T) {
	p := Path{}.Attr("clusters").Key("sava_cluster").Attr("services").Index(0).Attr("breed").Attr("ports").Key("webport")
	if got, want := p.String(), `clusters["sava_cluster"].services[0].breed.ports["webport"]`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if got, want := p.YAMLString(), `clusters.sava_cluster.services[0].breed.ports.webport`; got != want {
		t.Errorf("YAMLString() = %s, want %s", got, want)
	}
	r := Path{}.Attr("routes").Key("sava:1.0.0").Attr("weight")
	if got, want := r.YAMLString(), `routes["sava:1.0.0"].weight`; got != want {
		t.Errorf("YAMLString() = %s, want %s", got, want)
	}
	// Extending a path never changes the path it came from.
	base := Path{}.Attr("a").Key("b")
	x, y := base.Attr("x"), base.Attr("y")
	if x.String() != `a["b"].x` || y.String() != `a["b"].y` {
		t.Errorf("shared backing array: %s %s", x, y)
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in    string
		port  int
		proto string
		err   string
	}{
		{"8080/http", 8080, "http", ""},
		{"8080", 8080, "http", ""},
		{"9000/TCP", 9000, "tcp", ""},
		{"8080/htp", 0, "", `"8080/htp": protocol must be http or tcp`},
		{"0/http", 0, "", "out of range 1..65535"},
		{"65536", 0, "", "out of range 1..65535"},
		{"+80", 0, "", "port must be a number"},
		{"web/http", 0, "", "port must be a number"},
	}
	for _, tt := range tests {
		port, proto, err := ParsePort(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePort(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || port != tt.port || proto != tt.proto {
			t.Errorf("ParsePort(%q) = %d, %q, %v", tt.in, port, proto, err)
		}
	}
}

func TestNames(t *testing.T) {
	if got := GatewayName("sava", "sava_cluster", "webport"); got != "sava/sava_cluster/webport" {
		t.Error(got)
	}
	if got := RouteName("sava", "sava_cluster", "sava:1.0.0", "webport"); got != "sava/sava_cluster/sava:1.0.0/webport" {
		t.Error(got)
	}
	if got := DeploymentGatewayName("sava", "9050"); got != "sava/9050" {
		t.Error(got)
	}
}
