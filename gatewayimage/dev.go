package main

import "errors"

// runDev runs the gateway together with the local dev runtime (`vamp-gateway dev`).
// Placeholder until internal/localrt lands.
func runDev(args []string) error {
	return errors.New("vamp-gateway dev: the local dev runtime is not built yet")
}
