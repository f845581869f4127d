// Command docker-artifact-gen writes Mender Artifacts for the docker update
// module: see package artifactgen/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
)

func main() {
	// An interrupt cancels the work; the command then removes its
	// temporary files and leaves the output path as it was.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
