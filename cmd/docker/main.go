// Command docker is the Mender update module for Docker containers. The
// Mender client runs it as `docker STATE FILES_DIR`; `docker recover` (from
// a boot-time unit) finishes or undoes a deployment that a power cut
// interrupted. It parses its arguments by hand to stay small.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/registryauth"
	"github.com/mender-docker/mender-docker/module/spec"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: docker STATE FILES_DIR   (run by the Mender client)
       docker recover            (finish or undo an interrupted deployment)
       docker preload DIR        (first boot: install the app an OS image ships)
       docker status [--json|--inventory] [APP...]
                                 (what runs; exit 0 when every app is healthy)
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
	if len(args) >= 1 && args[0] == "status" {
		return status(args[1:])
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

	cfg, err := loadConfig()
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

	// A state directory left in the old default moves, once, to the
	// persistent data partition that is now the default.
	if cfg.StateDir == config.DefaultStateDir(config.DataDir, config.LegacyStateDir) {
		if err := module.MoveStateDir(ctx, config.LegacyStateDir, cfg.StateDir, time.Duration(cfg.LockTimeout), os.Stderr); err != nil {
			fmt.Fprintf(os.Stderr, "docker module: %s: %v\n", state, err)
			return 1
		}
	}

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

func loadConfig() (config.Config, error) {
	path := config.DefaultPath
	if p := os.Getenv("MENDER_DOCKER_CONF"); p != "" {
		path = p
	}
	return config.Load(path)
}

// statusTimeout bounds the whole of `docker status`: it serves as a health
// probe and an inventory script, which must not hang on a stuck engine.
const statusTimeout = 20 * time.Second

// status prints what runs, changing nothing and taking no lock. It exits 0
// when every app is healthy, 1 when not, 2 on bad usage; with --inventory
// (a Mender inventory script) always 0 once it printed.
func status(args []string) int {
	format := "text"
	var apps []string
	for _, a := range args {
		switch {
		case a == "--json":
			format = "json"
		case a == "--inventory":
			format = "inventory"
		case strings.HasPrefix(a, "-"):
			fmt.Fprintln(os.Stderr, usage)
			return 2
		case !spec.ValidApp(a):
			fmt.Fprintf(os.Stderr, "docker status: app %q: not a valid app name\n", a)
			return 2
		default:
			apps = append(apps, a)
		}
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker status: %v\n", err)
		return 1
	}
	timeout := min(time.Duration(cfg.EngineTimeout), statusTimeout)
	if timeout <= 0 {
		timeout = statusTimeout
	}
	eng, err := dockerapi.New(cfg.DockerHost, dockerapi.WithTimeout(timeout))
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker status: %v\n", err)
		return 1
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st := module.New(eng, cfg, os.Stderr).Status(ctx, apps...)
	switch format {
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(st)
	case "inventory":
		if err := st.WriteInventory(os.Stdout); err != nil {
			return 1
		}
		return 0
	default:
		err = st.WriteText(os.Stdout)
	}
	if err != nil || !st.Healthy {
		return 1
	}
	return 0
}
