package releasecheck

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var root = filepath.Join("..", "..", "..")

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goreleaser is the part of goreleaser's configuration (version 2) the Registry depends on.
type goreleaser struct {
	Version     int    `yaml:"version"`
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID      string   `yaml:"id"`
		Main    string   `yaml:"main"`
		Env     []string `yaml:"env"`
		Flags   []string `yaml:"flags"`
		Ldflags []string `yaml:"ldflags"`
		Goos    []string `yaml:"goos"`
		Goarch  []string `yaml:"goarch"`
		Binary  string   `yaml:"binary"`
	} `yaml:"builds"`
	Before struct {
		Hooks []string `yaml:"hooks"`
	} `yaml:"before"`
	Archives []struct {
		Formats      []string      `yaml:"formats"`
		NameTemplate string        `yaml:"name_template"`
		Files        []archiveFile `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string      `yaml:"name_template"`
		Algorithm    string      `yaml:"algorithm"`
		ExtraFiles   []extraFile `yaml:"extra_files"`
	} `yaml:"checksum"`
	Signs []struct {
		Artifacts string   `yaml:"artifacts"`
		Args      []string `yaml:"args"`
	} `yaml:"signs"`
	Release struct {
		ExtraFiles []extraFile `yaml:"extra_files"`
	} `yaml:"release"`
}

type extraFile struct {
	Glob         string `yaml:"glob"`
	NameTemplate string `yaml:"name_template"`
}

// archiveFile is an entry of archives.files: a glob, or a mapping with src.
type archiveFile struct {
	Src         string `yaml:"src"`
	Dst         string `yaml:"dst"`
	StripParent bool   `yaml:"strip_parent"`
}

func (f *archiveFile) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Src = n.Value
		return nil
	}
	type plain archiveFile
	return n.Decode((*plain)(f))
}

// noticesFile is where the before hook writes THIRD_PARTY_NOTICES (internal/tools/notices).
const noticesFile = "bin/THIRD_PARTY_NOTICES"

const manifestName = "{{ .ProjectName }}_{{ .Version }}_manifest.json"

// goreleaserProblems lists what in a .goreleaser.yml would give a release the Registry refuses
// (https://developer.hashicorp.com/terraform/registry/providers/publishing).
func goreleaserProblems(doc []byte, projectName string) []string {
	var g goreleaser
	if err := yaml.Unmarshal(doc, &g); err != nil {
		return []string{fmt.Sprintf("does not parse: %v", err)}
	}
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if g.Version != 2 {
		add("version: %d, want 2 (goreleaser v2's format)", g.Version)
	}
	if g.ProjectName != projectName {
		add("project_name: %q, want %q (the Registry's name for the provider's files)", g.ProjectName, projectName)
	}
	if len(g.Builds) != 1 {
		add("builds: %d, want 1 (the provider only)", len(g.Builds))
	} else {
		b := g.Builds[0]
		if b.Binary != "{{ .ProjectName }}_v{{ .Version }}" {
			add("builds[0].binary: %q, want {{ .ProjectName }}_v{{ .Version }} (terraform-provider-vamp_vX.Y.Z)", b.Binary)
		}
		if !slices.Contains(b.Env, "CGO_ENABLED=0") {
			add("builds[0].env: no CGO_ENABLED=0 (static binaries for every platform)")
		}
		if !strings.Contains(strings.Join(b.Ldflags, " "), "-X main.version={{ .Version }}") {
			add("builds[0].ldflags: no -X main.version={{ .Version }} (the provider reports its version)")
		}
		for _, os := range []string{"linux", "darwin", "windows"} {
			if !slices.Contains(b.Goos, os) {
				add("builds[0].goos: no %s", os)
			}
		}
		for _, arch := range []string{"amd64", "arm64"} {
			if !slices.Contains(b.Goarch, arch) {
				add("builds[0].goarch: no %s", arch)
			}
		}
	}
	if len(g.Archives) != 1 || !slices.Equal(g.Archives[0].Formats, []string{"zip"}) {
		add("archives: want one archive with formats [zip] (the Registry serves zips)")
	} else if g.Archives[0].NameTemplate != "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}" {
		add("archives[0].name_template: %q, want {{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}", g.Archives[0].NameTemplate)
	}
	if len(g.Archives) == 1 {
		files := g.Archives[0].Files
		if !slices.Contains(files, archiveFile{Src: "LICENSE"}) {
			add("archives[0].files: no LICENSE (MPL-2.0 goes with the binary)")
		}
		if !slices.Contains(files, archiveFile{Src: noticesFile, StripParent: true}) {
			add("archives[0].files: no %s with strip_parent: true (THIRD_PARTY_NOTICES at the zip's root: the dependencies' licences)", noticesFile)
		}
	}
	if !slices.Contains(g.Before.Hooks, "go run ./internal/tools/notices -o "+noticesFile) {
		add("before.hooks: no `go run ./internal/tools/notices -o %s` (the zips would ship stale or no notices)", noticesFile)
	}
	if g.Checksum.NameTemplate != "{{ .ProjectName }}_{{ .Version }}_SHA256SUMS" || g.Checksum.Algorithm != "sha256" {
		add("checksum: %q with %q, want {{ .ProjectName }}_{{ .Version }}_SHA256SUMS with sha256", g.Checksum.NameTemplate, g.Checksum.Algorithm)
	}
	hasManifest := func(files []extraFile) bool {
		return slices.Contains(files, extraFile{Glob: "terraform-registry-manifest.json", NameTemplate: manifestName})
	}
	if !hasManifest(g.Checksum.ExtraFiles) {
		add("checksum.extra_files: the manifest terraform-registry-manifest.json as %s is not summed", manifestName)
	}
	if !hasManifest(g.Release.ExtraFiles) {
		add("release.extra_files: the manifest terraform-registry-manifest.json as %s is not released", manifestName)
	}
	signed := false
	for _, s := range g.Signs {
		if s.Artifacts == "checksum" && slices.Contains(s.Args, "--detach-sign") && slices.Contains(s.Args, "${artifact}") {
			signed = true
		}
	}
	if !signed {
		add("signs: no detached signature of the checksum file (the Registry verifies SHA256SUMS.sig)")
	}
	return p
}

// providerMain reads the provider's main.go: its registry address and protocol version.
func providerMain(t *testing.T) (address string, protocol int) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		key, _ := kv.Key.(*ast.Ident)
		lit, _ := kv.Value.(*ast.BasicLit)
		if key == nil || lit == nil {
			return true
		}
		switch key.Name {
		case "Address":
			address, _ = strconv.Unquote(lit.Value)
		case "ProtocolVersion":
			protocol, _ = strconv.Atoi(lit.Value)
		}
		return true
	})
	if address == "" || protocol == 0 {
		t.Fatalf("main.go: no providerserver.ServeOpts Address and ProtocolVersion found (address %q, protocol %d)", address, protocol)
	}
	return address, protocol
}

func TestGoreleaserNamesWhatTheRegistryNeeds(t *testing.T) {
	address, _ := providerMain(t)
	name := "terraform-provider-" + address[strings.LastIndex(address, "/")+1:]
	if p := goreleaserProblems(read(t, ".goreleaser.yml"), name); len(p) > 0 {
		t.Fatalf(".goreleaser.yml:\n  %s", strings.Join(p, "\n  "))
	}
}

// Each requirement is checked: removing it from the configuration is reported.
func TestGoreleaserProblemsAreFound(t *testing.T) {
	doc := string(read(t, ".goreleaser.yml"))
	for _, c := range []struct{ from, to, want string }{
		{"binary: '{{ .ProjectName }}_v{{ .Version }}'", "binary: '{{ .ProjectName }}'", "builds[0].binary"},
		{"formats: [zip]", "formats: [tar.gz]", "archives"},
		{"_SHA256SUMS'", "_checksums.txt'", "checksum"},
		{"  - artifacts: checksum", "  - artifacts: none", "signs"},
		{"      - --detach-sign\n", "", "signs"},
		{"-X main.version={{ .Version }}", "", "builds[0].ldflags"},
		{"project_name: terraform-provider-vamp", "project_name: vamp", "project_name"},
		{"version: 2\n", "version: 1\n", "version"},
		{"      - src: bin/THIRD_PARTY_NOTICES\n", "      - src: bin/NOTICES\n", "archives[0].files"},
		{"        strip_parent: true\n", "", "archives[0].files"},
		{"      - LICENSE\n", "", "archives[0].files"},
		{"    - go run ./internal/tools/notices -o bin/THIRD_PARTY_NOTICES\n", "    - go mod tidy\n", "before.hooks"},
	} {
		mutated := strings.Replace(doc, c.from, c.to, 1)
		if mutated == doc {
			t.Fatalf(".goreleaser.yml has no %q to change", c.from)
		}
		p := goreleaserProblems([]byte(mutated), "terraform-provider-vamp")
		if len(p) != 1 || !strings.HasPrefix(p[0], c.want) {
			t.Errorf("changing %q: want one problem starting %q, got %q", c.from, c.want, p)
		}
	}
	// The manifest as an extra file of the checksum and of the release, each on its own.
	i := strings.Index(doc, "checksum:")
	j := strings.Index(doc, "release:")
	for _, c := range []struct {
		at   int
		want string
	}{{i, "checksum.extra_files"}, {j, "release.extra_files"}} {
		k := c.at + strings.Index(doc[c.at:], "glob: terraform-registry-manifest.json")
		mutated := doc[:k] + "glob: other.json" + doc[k+len("glob: terraform-registry-manifest.json"):]
		if p := goreleaserProblems([]byte(mutated), "terraform-provider-vamp"); len(p) != 1 || !strings.HasPrefix(p[0], c.want) {
			t.Errorf("removing the manifest from %s: got %q", c.want, p)
		}
	}
}

func TestRegistryManifestMatchesTheProvider(t *testing.T) {
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	dec := json.NewDecoder(strings.NewReader(string(read(t, "terraform-registry-manifest.json"))))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("terraform-registry-manifest.json: %v", err)
	}
	_, protocol := providerMain(t)
	want := []string{fmt.Sprintf("%d.0", protocol)}
	if m.Version != 1 || !slices.Equal(m.Metadata.ProtocolVersions, want) {
		t.Fatalf("terraform-registry-manifest.json: version %d protocol_versions %q; main.go serves protocol %d, so want version 1 and %q",
			m.Version, m.Metadata.ProtocolVersions, protocol, want)
	}
}

// Both binaries have a version variable that -X main.version sets (goreleaser, make provider,
// make gateway, make image).
func TestVersionVariables(t *testing.T) {
	for _, dir := range []string{".", "gatewayimage"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
					for _, s := range g.Specs {
						if v, ok := s.(*ast.ValueSpec); ok && slices.ContainsFunc(v.Names, func(n *ast.Ident) bool { return n.Name == "version" }) {
							found = true
						}
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: no package-level var version for -X main.version", dir)
		}
	}
	mk := string(read(t, "GNUmakefile"))
	for _, target := range []string{"gateway", "provider", "image"} {
		re := regexp.MustCompile(`(?m)^` + target + `:.*\n\t.*(-X main\.version=\$\(VERSION\)|-version \$\(VERSION\))`)
		if !re.MatchString(mk) {
			t.Errorf("GNUmakefile: make %s does not stamp $(VERSION)", target)
		}
	}
}

func TestLicenseAndChangelog(t *testing.T) {
	if l := string(read(t, "LICENSE")); !strings.HasPrefix(l, "Mozilla Public License Version 2.0") {
		t.Errorf("LICENSE is not the MPL 2.0 text: %.60q", l)
	}
	cl := string(read(t, "CHANGELOG.md"))
	if !regexp.MustCompile(`(?m)^## (Unreleased|\d+\.\d+\.\d+)`).MatchString(cl) {
		t.Errorf("CHANGELOG.md has no version section (## Unreleased or ## X.Y.Z)")
	}
}
