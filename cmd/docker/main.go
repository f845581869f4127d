// Command docker is the Mender update module for Docker containers. The
// Mender client runs it as `docker STATE FILES_DIR`; `docker recover` (from
// a boot-time unit) finishes or undoes a deployment that a power cut
// interrupted. It parses its arguments by hand to stay small.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/registryauth"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: docker STATE FILES_DIR   (run by the Mender client)
       docker recover            (finish or undo an interrupted deployment)
       docker preload DIR        (first boot: install the app an OS image ships)
       docker version
Configuration: /etc/mender/mender-docker.conf, or the file named by MENDER_DOCKER_CONF.`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 1 && (args[0] == "version" || args[0] == "--version") {
		fmt.Println(version)
		return 0
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(os.Stderr, usage)
		return 0
	}
	if len(args) != 2 && !(len(args) == 1 && args[0] == "recover") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	state := args[0]
	switch state {
	case "NeedsArtifactReboot", "SupportsRollback":
		// Answered without touching the engine or the config: these are
		// asked often and must be fast.
		if err := module.New(nil, config.Default(), os.Stderr).Run(context.Background(), state, "", os.Stdout); err != nil {
			return 1
		}
		return 0
	}

	path := config.DefaultPath
	if p := os.Getenv("MENDER_DOCKER_CONF"); p != "" {
		path = p
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker module: %v\n", err)
		return 1
	}
	// Pulls log in as `docker pull` would, with the docker CLI's
	// credentials, and the device's own file first.
	auth := registryauth.Resolver{File: cfg.RegistryAuthFile}
	eng, err := dockerapi.New(cfg.DockerHost, dockerapi.WithCredentials(auth.Lookup), dockerapi.WithTimeout(time.Duration(cfg.EngineTimeout)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker module: %v\n", err)
		return 1
	}
	defer eng.Close()

	// On SIGTERM (the client's module timeout) stop promptly: every state
	// resumes from the journal.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	u := module.New(eng, cfg, os.Stderr)
	switch state {
	case "recover":
		err = u.Recover(ctx)
	case "preload":
		err = u.Preload(ctx, args[1])
	default:
		err = u.Run(ctx, state, args[1], os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker module: %s: %s\n", state, module.OneLine(err.Error()))
		return 1
	}
	return 0
}
