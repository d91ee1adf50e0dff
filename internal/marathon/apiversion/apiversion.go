// Package apiversion tells which app format a Marathon version speaks; the driver and the
// emulator share it so that both draw the line at the same release.
package apiversion

import "fmt"

// Before15 tells whether a Marathon version ("1.4.12", "1.10.0", "1.5.0-SNAPSHOT") predates
// Marathon 1.5's networking API ("networks", "container.portMappings"), i.e. whether it reads
// and answers the legacy format (container.docker.network, container.docker.portMappings). A
// version it cannot read counts as current.
func Before15(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major < 1 || major == 1 && minor < 5
}
