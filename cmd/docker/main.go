// Command docker is the Mender update module for Docker containers, and
// the operator's tool on the device (the package links it as
// /usr/bin/mender-docker). The Mender client runs it as
// `docker STATE FILES_DIR`; operators run `mender-docker status`,
// `recover` and `preload`. The command line is in cli.go.
package main

import "os"

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
