package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// moduleRoot is where go build runs: the tests run in internal/tools/gatewayimage.
var moduleRoot = filepath.Join("..", "..", "..")

func testOptions(t *testing.T, out string, platforms ...v1.Platform) options {
	t.Helper()
	return options{
		Version:   "v0.0.0-test",
		Created:   time.Unix(1700000000, 0).UTC(),
		Platforms: platforms,
		Package:   "./gatewayimage",
		Dir:       moduleRoot,
		Out:       out,
		RefName:   "localhost/vamp-gateway:v0.0.0-test",
	}
}

var bothPlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// Two builds of the same source give the same index digest and the same archive, byte for byte;
// the index has an image per platform with the config and files the Dockerfile's image has.
func TestBuildReproducible(t *testing.T) {
	dir := t.TempDir()
	var digests []v1.Hash
	var archives [][]byte
	for i, name := range []string{"a.oci.tar", "b.oci.tar"} {
		start := time.Now()
		d, err := build(testOptions(t, filepath.Join(dir, name), bothPlatforms...))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("build %d: %s in %s", i+1, d, time.Since(start).Round(time.Millisecond))
		digests = append(digests, d)
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds, two digests: %s and %s", digests[0], digests[1])
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Fatalf("two builds with the same digest %s, but the archives differ", digests[0])
	}

	// Read the archive back as an OCI layout.
	lp := extract(t, archives[0])
	ii, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != digests[0] {
		t.Fatalf("index.json: want the image index %s, got %+v", digests[0], im.Manifests)
	}
	if ref := im.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "localhost/vamp-gateway:v0.0.0-test" {
		t.Errorf("ref.name %q", ref)
	}
	idx, err := ii.ImageIndex(digests[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != len(bothPlatforms) {
		t.Fatalf("want %d images in the index, got %d", len(bothPlatforms), len(m.Manifests))
	}
	for i, desc := range m.Manifests {
		p := bothPlatforms[i]
		if desc.Platform == nil || desc.Platform.OS != p.OS || desc.Platform.Architecture != p.Architecture {
			t.Fatalf("index entry %d: platform %v, want %s", i, desc.Platform, p)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, p, img)
	}
}

func checkImage(t *testing.T, p v1.Platform, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.Architecture != p.Architecture || cf.OS != p.OS {
		t.Errorf("%s: config says %s/%s", p, cf.OS, cf.Architecture)
	}
	if !cf.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("%s: created %s, want SOURCE_DATE_EPOCH", p, cf.Created.Time)
	}
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/vamp-gateway", "serve"}) {
		t.Errorf("%s: user %q entrypoint %q", p, c.User, c.Entrypoint)
	}
	if _, ok := c.Volumes["/var/lib/vamp-gateway"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("%s: volumes %v", p, c.Volumes)
	}
	if !slices.Contains(c.Env, "VAMP_GATEWAY_STATE_FILE=/var/lib/vamp-gateway/state.json") {
		t.Errorf("%s: env %q", p, c.Env)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  "v0.0.0-test",
		"org.opencontainers.image.source":   "https://github.com/vamp-canary/terraform-provider-vamp",
		"org.opencontainers.image.licenses": "MPL-2.0",
	} {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s=%q, want %q", p, k, c.Labels[k], v)
		}
	}

	files := map[string]*tar.Header{}
	var ca, binary []byte
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		switch h.Name {
		case "etc/ssl/certs/ca-certificates.crt":
			ca, _ = io.ReadAll(tr)
		case "usr/local/bin/vamp-gateway":
			binary, _ = io.ReadAll(tr)
		}
		if !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: %s has time %s, want SOURCE_DATE_EPOCH", p, h.Name, h.ModTime)
		}
	}
	for name, want := range map[string]struct {
		uid  int
		mode int64
	}{
		"var/lib/vamp-gateway":       {65532, 0o755},
		"tmp":                        {0, 0o1777},
		"usr/local/bin/vamp-gateway": {0, 0o755},
		"etc/passwd":                 {0, 0o644},
	} {
		h := files[name]
		if h == nil {
			t.Errorf("%s: no %s in the image", p, name)
			continue
		}
		if h.Uid != want.uid || h.Gid != want.uid || h.Mode != want.mode {
			t.Errorf("%s: %s is %d:%d %o, want %d:%d %o", p, name, h.Uid, h.Gid, h.Mode, want.uid, want.uid, want.mode)
		}
	}
	// The CA bundle parses and has the public roots (more than 100 in NSS's store).
	n := 0
	for rest := ca; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("%s: CA bundle: %v", p, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("%s: CA bundle has %d certificates", p, n)
	}
	// An ELF binary for the platform's machine, with the version stamped.
	machine := map[string]uint16{"amd64": 62, "arm64": 183}[p.Architecture]
	if len(binary) < 20 || string(binary[:4]) != "\x7fELF" || uint16(binary[18])|uint16(binary[19])<<8 != machine {
		t.Errorf("%s: the binary is not an ELF executable for %s", p, p.Architecture)
	}
	if !bytes.Contains(binary, []byte("v0.0.0-test")) {
		t.Errorf("%s: the binary does not carry the version", p)
	}
}

// extract unpacks an OCI archive into a temporary directory and opens it as a layout.
func extract(t *testing.T, archive []byte) layout.Path {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	return lp
}

func TestSourceDateEpochAndPlatforms(t *testing.T) {
	if got, err := sourceDateEpoch(""); err != nil || !got.Equal(time.Unix(0, 0)) {
		t.Errorf("unset: %s %v", got, err)
	}
	if got, err := sourceDateEpoch("1700000000"); err != nil || got.Unix() != 1700000000 {
		t.Errorf("1700000000: %s %v", got, err)
	}
	for _, bad := range []string{"yesterday", "-1", "1.5"} {
		if _, err := sourceDateEpoch(bad); err == nil {
			t.Errorf("SOURCE_DATE_EPOCH=%q accepted", bad)
		}
	}
	ps, err := parsePlatforms("linux/amd64, linux/arm/v7")
	if err != nil || len(ps) != 2 || ps[1].Variant != "v7" {
		t.Errorf("parsePlatforms: %v %v", ps, err)
	}
	for _, bad := range []string{"linux", "linux/", "/amd64", "a/b/c/d"} {
		if _, err := parsePlatforms(bad); err == nil {
			t.Errorf("-platforms %q accepted", bad)
		}
	}
}
