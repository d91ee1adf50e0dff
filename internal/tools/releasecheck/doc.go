// Package releasecheck holds only tests: they check that the release files at the repository's
// root (.goreleaser.yml, terraform-registry-manifest.json, LICENSE, CHANGELOG.md) name what the
// Terraform Registry needs, without running goreleaser (RELEASING.md).
package releasecheck
