package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's layout, in one place: the Dockerfile test (dockerfile_test.go) compares
// gatewayimage/Dockerfile with these, so the two ways to build the image cannot drift.
const (
	// runUser is distroless's nonroot user, which the Dockerfile's final stage has too.
	runUser  = "65532:65532"
	runUID   = 65532
	binPath  = "/usr/local/bin/vamp-gateway"
	stateDir = "/var/lib/vamp-gateway"
	caFile   = "/etc/ssl/certs/ca-certificates.crt"
	// SourceURL and License are the OCI labels org.opencontainers.image.source and .licenses.
	sourceURL = "https://github.com/vamp-canary/terraform-provider-vamp"
	license   = "MPL-2.0"
)

// entrypoint, env, volumes and exposed ports: what the Dockerfile's final stage declares. PATH and
// SSL_CERT_FILE come from the distroless base there and are written out here.
var (
	entrypoint = []string{binPath, "serve"}
	imageEnv   = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=" + caFile,
		"VAMP_GATEWAY_STATE_FILE=" + stateDir + "/state.json",
		"VAMP_GATEWAY_ADMIN_LISTEN=0.0.0.0:9900",
	}
	volumes      = []string{stateDir}
	exposedPorts = []string{"9900/tcp"}
)

// baseEnv are the variables of imageEnv that the Dockerfile inherits from its base image.
var baseEnv = []string{"PATH", "SSL_CERT_FILE"}

// options of one build.
type options struct {
	Version   string    // stamped into the binary (main.version) and the version label
	Created   time.Time // every timestamp in the image (SOURCE_DATE_EPOCH)
	Platforms []v1.Platform
	Package   string // the gateway's main package, e.g. ./gatewayimage
	Dir       string // the module's root, where go build runs
	Out       string // the OCI archive written
	RefName   string // org.opencontainers.image.ref.name of the index in the archive
}

func labels(version string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "vamp-gateway",
		"org.opencontainers.image.description": "the gateway of terraform-provider-vamp",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.licenses":    license,
	}
}

// build writes the image index as an OCI archive to o.Out and returns its digest.
func build(o options) (v1.Hash, error) {
	base, err := baseLayer(o.Created)
	if err != nil {
		return v1.Hash{}, err
	}
	tmp, err := os.MkdirTemp("", "gatewayimage-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(tmp)

	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, p := range o.Platforms {
		binary, err := goBuild(o, p, tmp)
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := platformImage(o, p, base, binary)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image for %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}},
		})
	}
	a := mutate.Annotations(idx, map[string]string{
		"org.opencontainers.image.version": o.Version,
		"org.opencontainers.image.source":  sourceURL,
		"org.opencontainers.image.created": o.Created.UTC().Format(time.RFC3339),
	})
	annotated, ok := a.(v1.ImageIndex)
	if !ok {
		return v1.Hash{}, fmt.Errorf("annotating the index gave a %T, not an image index", a)
	}
	idx = annotated

	dir := filepath.Join(tmp, "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.RefName,
	})); err != nil {
		return v1.Hash{}, err
	}
	if err := tarDir(dir, o.Out, o.Created); err != nil {
		return v1.Hash{}, err
	}
	return idx.Digest()
}

// goBuild builds the static gateway binary for p, as `make gateway` does, with the version stamped.
func goBuild(o options, p v1.Platform, tmp string) ([]byte, error) {
	out := filepath.Join(tmp, "vamp-gateway-"+p.OS+"-"+p.Architecture)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid= -X main.version="+o.Version, "-o", out, o.Package)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Variant != "" && p.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s for %s: %w\n%s", o.Package, p, err, stderr.String())
	}
	return os.ReadFile(out)
}

func platformImage(o options, p v1.Platform, base v1.Layer, binary []byte) (v1.Image, error) {
	binLayer, err := layerOf(o.Created, []entry{
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(binPath, "/"), mode: 0o755, data: binary},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.Created}, CreatedBy: "gatewayimage: users, CA bundle, /tmp, " + stateDir, Comment: "internal/tools/gatewayimage",
		}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: o.Created}, CreatedBy: "gatewayimage: " + binPath + " " + o.Version, Comment: "internal/tools/gatewayimage",
		}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = p.Architecture, p.OS, p.Variant
	cf.Created = v1.Time{Time: o.Created}
	cf.Config = v1.Config{
		User:         runUser,
		Entrypoint:   entrypoint,
		Env:          imageEnv,
		Labels:       labels(o.Version),
		Volumes:      map[string]struct{}{},
		ExposedPorts: map[string]struct{}{},
		WorkingDir:   "/",
	}
	for _, v := range volumes {
		cf.Config.Volumes[v] = struct{}{}
	}
	for _, port := range exposedPorts {
		cf.Config.ExposedPorts[port] = struct{}{}
	}
	return mutate.ConfigFile(img, cf)
}

// baseLayer is what the distroless base gives the Dockerfile's image and the gateway needs:
// users, a CA bundle, /tmp, and the state directory owned by the runtime user.
func baseLayer(created time.Time) (v1.Layer, error) {
	pemBundle, err := caBundle()
	if err != nil {
		return nil, err
	}
	return layerOf(created, []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(caFile, "/"), mode: 0o644, data: pemBundle},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: runUID},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(stateDir, "/") + "/", mode: 0o755, dir: true, uid: runUID},
	})
}

// caBundle is the Mozilla NSS root store as Go's golang.org/x/crypto/x509roots/fallback/bundle
// carries it, at the version go.sum pins: the same bytes on every machine, unlike the build host's
// /etc/ssl/certs (which changes with its ca-certificates package). Roots that NSS trusts only with
// a constraint (distrust after a date) are left out: a PEM file cannot carry the constraint, and
// trusting them without it would trust more than NSS does.
func caBundle() ([]byte, error) {
	var b bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if _, err := x509.ParseCertificate(r.Certificate); err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA bundle: no unconstrained roots in x509roots/fallback/bundle")
	}
	return b.Bytes(), nil
}

type entry struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layerOf makes a layer of entries in the given order, every timestamp at created.
func layerOf(created time.Time, entries []entry) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			ModTime: created, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(e.data)),
		}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// tarDir writes the OCI layout in dir as one tar file (an oci-archive), sorted, with fixed times
// and owners, so that the same layout gives the same bytes.
func tarDir(dir, out string, created time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmpOut := out + ".tmp"
	f, err := os.Create(tmpOut)
	if err != nil {
		return err
	}
	defer os.Remove(tmpOut)
	tw := tar.NewWriter(f)
	for _, path := range names {
		rel, _ := filepath.Rel(dir, path)
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: created, Mode: 0o644, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmpOut, out)
}
