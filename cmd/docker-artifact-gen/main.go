// Command docker-artifact-gen writes Mender Artifacts for the docker update
// module: see package artifactgen/cli.
package main

import (
	"os"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
