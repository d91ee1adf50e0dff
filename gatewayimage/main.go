// Command vamp-gateway is the gateway that terraform-provider-vamp ships as a container image.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "dev" {
		if err := runDev(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintln(os.Stderr, "vamp-gateway: not built yet")
	os.Exit(1)
}
