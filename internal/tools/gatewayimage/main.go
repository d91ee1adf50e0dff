// Command gatewayimage builds the gateway's OCI image without a container engine (`make image`):
// the static vamp-gateway binary for each platform, the distroless layout the Dockerfile has (user
// 65532, a CA bundle, /tmp, the state directory owned by 65532), the same entrypoint and
// environment, OCI labels, one image index for all platforms. Every timestamp is
// SOURCE_DATE_EPOCH (0 when unset), so the same source gives the same digest.
//
//	go run ./internal/tools/gatewayimage -version v0.1.0 -out bin/vamp-gateway-image.oci.tar
//
// It writes an OCI archive (`podman load -i`, `skopeo copy oci-archive:...`) and prints
// `digest: sha256:...` (the index's) as its last line.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gatewayimage", flag.ContinueOnError)
	version := fs.String("version", "dev", "version stamped into the binary and the labels")
	out := fs.String("out", "bin/vamp-gateway-image.oci.tar", "the OCI archive to write")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch[/variant]")
	pkg := fs.String("package", "./gatewayimage", "the gateway's main package")
	ref := fs.String("ref", "", "the image reference recorded in the archive (default localhost/vamp-gateway:VERSION)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	created, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	ps, err := parsePlatforms(*platforms)
	if err != nil {
		return err
	}
	if *ref == "" {
		*ref = "localhost/vamp-gateway:" + *version
	}
	d, err := build(options{
		Version: *version, Created: created, Platforms: ps,
		Package: *pkg, Dir: ".", Out: *out, RefName: *ref,
	})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s, %s)\n", *out, *ref, *platforms)
	fmt.Printf("digest: %s\n", d)
	return nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
func sourceDateEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: give seconds since 1970 as a non-negative integer (e.g. $(git log -1 --format=%%ct))", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func parsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, f := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(f), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("-platforms: %q is not os/arch[/variant] (e.g. linux/amd64)", f)
		}
		p := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		ps = append(ps, p)
	}
	return ps, nil
}
