package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// dockerStage is what one stage of a Dockerfile declares, as far as the image's config and
// layout go.
type dockerStage struct {
	from       string
	user       string
	entrypoint []string
	env        map[string]string
	labels     map[string]string
	volumes    []string
	expose     []string
	copies     map[string]string // destination -> --chown ("" when not given)
	runs       []string
}

// parseDockerfile reads the instructions this project's Dockerfile uses (continuation lines,
// comments, JSON and shell forms); ${VERSION} is kept as written.
func parseDockerfile(text string) ([]dockerStage, error) {
	var stages []dockerStage
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for i, l := range logical {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			stages = append(stages, dockerStage{from: rest, env: map[string]string{}, labels: map[string]string{}, copies: map[string]string{}})
			continue
		}
		if len(stages) == 0 {
			return nil, fmt.Errorf("instruction %d (%s) before FROM", i+1, instr)
		}
		s := &stages[len(stages)-1]
		switch instr {
		case "USER":
			s.user = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &s.entrypoint); err != nil {
				return nil, fmt.Errorf("ENTRYPOINT %s: want the JSON form: %w", rest, err)
			}
		case "VOLUME":
			if err := json.Unmarshal([]byte(rest), &s.volumes); err != nil {
				return nil, fmt.Errorf("VOLUME %s: want the JSON form: %w", rest, err)
			}
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				s.expose = append(s.expose, p)
			}
		case "ENV", "LABEL":
			m := s.env
			if instr == "LABEL" {
				m = s.labels
			}
			for _, kv := range shellWords(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("%s %q: want key=value", instr, kv)
				}
				m[k] = v
			}
		case "COPY":
			words := shellWords(rest)
			chown := ""
			var args []string
			for _, w := range words {
				switch {
				case strings.HasPrefix(w, "--chown="):
					chown = strings.TrimPrefix(w, "--chown=")
				case strings.HasPrefix(w, "--"):
				default:
					args = append(args, w)
				}
			}
			if len(args) < 2 {
				return nil, fmt.Errorf("COPY %s: want a source and a destination", rest)
			}
			s.copies[args[len(args)-1]] = chown
		case "RUN":
			s.runs = append(s.runs, rest)
		}
	}
	return stages, nil
}

// shellWords splits on blanks outside double quotes and drops the quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inQuote, started := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, started = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if started {
				words = append(words, w.String())
				w.Reset()
				started = false
			}
		default:
			w.WriteRune(r)
			started = true
		}
	}
	if started {
		words = append(words, w.String())
	}
	return words
}

// dockerfileDrift lists every way the Dockerfile's final image differs from what the builder makes.
func dockerfileDrift(text string) ([]string, error) {
	stages, err := parseDockerfile(text)
	if err != nil {
		return nil, err
	}
	if len(stages) < 2 {
		return nil, fmt.Errorf("want a build stage and a final stage, found %d stages", len(stages))
	}
	final := stages[len(stages)-1]
	var drift []string
	if final.user != runUser {
		drift = append(drift, fmt.Sprintf("USER %q, builder %q", final.user, runUser))
	}
	if !slices.Equal(final.entrypoint, entrypoint) {
		drift = append(drift, fmt.Sprintf("ENTRYPOINT %q, builder %q", final.entrypoint, entrypoint))
	}
	if !slices.Equal(sorted(final.volumes), sorted(volumes)) {
		drift = append(drift, fmt.Sprintf("VOLUME %q, builder %q", final.volumes, volumes))
	}
	if !slices.Equal(sorted(final.expose), sorted(exposedPorts)) {
		drift = append(drift, fmt.Sprintf("EXPOSE %q, builder %q", final.expose, exposedPorts))
	}
	// The builder's environment is the Dockerfile's ENV plus what the distroless base sets.
	want := map[string]string{}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(baseEnv, k) {
			want[k] = v
		}
	}
	for k, v := range want {
		if got, ok := final.env[k]; !ok || got != v {
			drift = append(drift, fmt.Sprintf("ENV %s=%q, builder %q", k, got, v))
		}
	}
	for k, v := range final.env {
		if _, ok := want[k]; !ok {
			drift = append(drift, fmt.Sprintf("ENV %s=%q is not in the builder's environment", k, v))
		}
	}
	wantLabels := labels("${VERSION}")
	for k, v := range wantLabels {
		if got := final.labels[k]; got != v {
			drift = append(drift, fmt.Sprintf("LABEL %s=%q, builder %q", k, got, v))
		}
	}
	for k := range final.labels {
		if _, ok := wantLabels[k]; !ok {
			drift = append(drift, fmt.Sprintf("LABEL %s is not among the builder's labels", k))
		}
	}
	if chown, ok := final.copies[binPath]; !ok || chown != "" {
		drift = append(drift, fmt.Sprintf("COPY of the binary to %s (owned by root) missing or owned by %q", binPath, chown))
	}
	if chown, ok := final.copies[stateDir]; !ok || chown != runUser {
		drift = append(drift, fmt.Sprintf("COPY of the state directory %s with --chown=%s missing (chown %q)", stateDir, runUser, chown))
	}
	for dst := range final.copies {
		if dst != binPath && dst != stateDir {
			drift = append(drift, fmt.Sprintf("COPY to %s: the builder makes no such path", dst))
		}
	}
	// The binary is built as `make gateway` and the builder build it.
	built := false
	for _, st := range stages[:len(stages)-1] {
		for _, r := range st.runs {
			if strings.Contains(r, "go build") {
				built = true
				for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "./gatewayimage"} {
					if !strings.Contains(r, flag) {
						drift = append(drift, fmt.Sprintf("the build stage's go build lacks %s", flag))
					}
				}
			}
		}
	}
	if !built {
		drift = append(drift, "no go build in a build stage")
	}
	if !strings.HasSuffix(final.from, ":nonroot") {
		drift = append(drift, fmt.Sprintf("FROM %s: the final stage's base must be distroless's nonroot variant (user 65532, CA bundle, /tmp)", final.from))
	}
	sort.Strings(drift)
	return drift, nil
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func TestDockerfileMatchesBuilder(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "..", "gatewayimage", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	drift, err := dockerfileDrift(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) > 0 {
		t.Fatalf("gatewayimage/Dockerfile and internal/tools/gatewayimage differ (change both):\n  %s", strings.Join(drift, "\n  "))
	}
}

// The comparison finds each kind of difference: a Dockerfile changed in one place is reported
// with that place.
func TestDockerfileDriftIsFound(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "..", "gatewayimage", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"USER 65532:65532", "USER 1000:1000", "USER"},
		{`"/usr/local/bin/vamp-gateway", "serve"]`, `"/usr/local/bin/vamp-gateway"]`, "ENTRYPOINT"},
		{`VOLUME ["/var/lib/vamp-gateway"]`, `VOLUME ["/data"]`, "VOLUME"},
		{"EXPOSE 9900", "EXPOSE 9901", "EXPOSE"},
		{"VAMP_GATEWAY_ADMIN_LISTEN=0.0.0.0:9900", "VAMP_GATEWAY_ADMIN_LISTEN=0.0.0.0:9999", "ENV VAMP_GATEWAY_ADMIN_LISTEN"},
		{`licenses="MPL-2.0"`, `licenses="MIT"`, "LABEL org.opencontainers.image.licenses"},
		{"--chown=65532:65532 ", "", "state directory"},
		{"-trimpath ", "", "-trimpath"},
		{"static-debian12:nonroot", "static-debian12", "FROM"},
	} {
		mutated := strings.Replace(string(text), c.from, c.to, 1)
		if mutated == string(text) {
			t.Fatalf("the Dockerfile has no %q to change", c.from)
		}
		drift, err := dockerfileDrift(mutated)
		if err != nil {
			t.Fatal(err)
		}
		if len(drift) != 1 || !strings.Contains(drift[0], c.want) {
			t.Errorf("changing %q to %q: want one difference naming %q, got %q", c.from, c.to, c.want, drift)
		}
	}
}
