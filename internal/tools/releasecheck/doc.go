// Package releasecheck holds only tests: they check that the release files at the repository's
// root (.goreleaser.yml, terraform-registry-manifest.json, LICENSE, CHANGELOG.md) name what the
// Terraform Registry needs, without running goreleaser (RELEASING.md); that the licences of the
// modules in the binaries allow MPL-2.0 distribution; and that every citation of design.md in
// code and docs resolves to docs/design.md.
package releasecheck
