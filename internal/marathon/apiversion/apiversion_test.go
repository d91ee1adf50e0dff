package apiversion

import "testing"

func TestBefore15(t *testing.T) {
	for version, want := range map[string]bool{
		"1.4.12": true, "1.4.2": true, "0.15.3": true, "1.3.0-RC1": true,
		"1.5.0": false, "1.5.1.2": false, "1.10.0": false, "1.11.5-emulator": false, "2.0.0": false, "unknown": false, "": false,
	} {
		if got := Before15(version); got != want {
			t.Errorf("Before15(%q) = %v, want %v", version, got, want)
		}
	}
}
