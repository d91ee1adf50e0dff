// Package releasecheck holds only tests: they check that the release files at the repository's
// root (.goreleaser.yml, terraform-registry-manifest.json, LICENSE, CHANGELOG.md) name what the
// Terraform Registry needs, without running goreleaser (RELEASING.md), including the
// THIRD_PARTY_NOTICES in every zip (internal/tools/notices generates it and checks the
// dependencies' licences); and that every citation of design.md in code and docs resolves to
// docs/design.md.
package releasecheck
