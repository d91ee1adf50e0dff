package marathon

import (
	"errors"
	"testing"
)

// The provider blames the attribute that holds the bad name: AppID says which part it is.
func TestAppIDErrorNamesThePart(t *testing.T) {
	for _, c := range []struct {
		group, id string
		part      IDPart
		value     string
	}{
		{"", "_d/c/b", PartDeployment, "_d"},
		{"", "d/c_/b", PartCluster, "c_"},
		{"", "d/c/web:1.0-", PartBreed, "web:1.0-"},
		{"Vamp_", "d/c/b", PartGroup, "Vamp_"},
	} {
		_, err := AppID(c.group, c.id)
		var idErr *IDError
		if !errors.As(err, &idErr) || idErr.Part != c.part || idErr.Value != c.value {
			t.Errorf("AppID(%q, %q) = %v; want an IDError about the %s %q", c.group, c.id, err, c.part, c.value)
		}
	}
}
