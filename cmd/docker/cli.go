package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/registryauth"
	"github.com/mender-docker/mender-docker/module/spec"
)

// name is what help and errors call the program, whether it runs as the
// module (docker) or as the operator's /usr/bin/mender-docker: the two
// behave the same.
const name = "mender-docker"

// Exit codes: 2 is bad usage, as for most Unix commands.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// stateRE tells a protocol state from a subcommand: states are CamelCase
// words (Download, ArtifactInstall), subcommands are lower case. So a
// state of a later protocol is still answered with nothing and exit 0,
// while a mistyped subcommand (stauts) is a usage error.
var stateRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// actionStates are the states that do work; every other state is answered
// without reading the config or asking the engine.
var actionStates = map[string]bool{
	"Download": true, "ArtifactInstall": true, "ArtifactCommit": true,
	"ArtifactRollback": true, "ArtifactFailure": true, "Cleanup": true,
}

const topHelp = `mender-docker: the Mender update module for Docker containers.

Usage:
  mender-docker COMMAND [OPTIONS] [ARGS]
  mender-docker STATE FILES_DIR

Commands:
  status [--json|--inventory] [APP...]
                 what runs; exit 0 when every app is healthy
  recover        finish or undo a deployment that a power cut interrupted
  reconfigure [APP...]
                 apply changed device values to the installed apps
  render APP [--artifact FILE]
                 show the app's attributes and rendered templates
  preload DIR    first boot: install the app an OS image ships in DIR
  version        print the version (also --version)
  help           print this help (also -h, --help)

Protocol states, run by the Mender client as STATE FILES_DIR:
  Download, ArtifactInstall, ArtifactCommit, ArtifactRollback,
  ArtifactFailure, Cleanup       the steps of a deployment
  NeedsArtifactReboot            answers No
  SupportsRollback               answers Yes
  ArtifactReboot, ArtifactVerifyReboot, ArtifactRollbackReboot,
  ArtifactVerifyRollbackReboot   nothing to do
A first argument that starts with a capital letter is a state: one this
module does not know does nothing and exits 0, as the protocol asks.

Configuration: /etc/mender/mender-docker.conf, or the file named by
MENDER_DOCKER_CONF (see mender-docker(8)).
Exit status: 0 success, 1 failure (the reason on one line of stderr),
2 bad usage. 'mender-docker COMMAND --help' shows a command's options.
`

// command is one subcommand: its help, its flags and what it does.
type command struct {
	usage, help string
	flags       func(fs *flag.FlagSet) func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"status": {
		usage: "status [--json|--inventory] [APP...]",
		help: `Print the apps on this device, their artifacts and containers, from the
journal and the engine. Takes no lock and changes nothing, so it answers
while a deployment runs. With APP, only those apps.
Exit status: 0 when every app is healthy, 1 when one is not or the engine
does not answer (with --inventory: 0 once printed), 2 on bad usage.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			js := fs.Bool("json", false, "print JSON (stable field names)")
			inv := fs.Bool("inventory", false, "print Mender inventory key=value lines")
			return func(apps []string, stdout, stderr io.Writer) int {
				if *js && *inv {
					return usageError(stderr, "status", "--json and --inventory exclude each other")
				}
				for _, a := range apps {
					if !spec.ValidApp(a) {
						return usageError(stderr, "status", fmt.Sprintf("app %q: not a valid app name", a))
					}
				}
				format := "text"
				switch {
				case *js:
					format = "json"
				case *inv:
					format = "inventory"
				}
				return status(format, apps, stdout, stderr)
			}
		},
	},
	"recover": {
		usage: "recover",
		help: `Finish or undo a deployment that a power cut or a killed client left half
done, from the journal. Run at boot before the Mender client by
mender-docker-recover.service. A deployment installed but neither
committed nor rolled back is left for the client.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			return func(args []string, stdout, stderr io.Writer) int {
				if len(args) > 0 {
					return usageError(stderr, "recover", fmt.Sprintf("unexpected argument %q", args[0]))
				}
				return act("recover", stderr, func(ctx context.Context, u *module.Updater) error { return u.Recover(ctx) })
			}
		},
	},
	"reconfigure": {
		usage: "reconfigure [APP...]",
		help: `Apply the device's values as they are now (the app's parameters file,
Mender Configure's device configuration) to every installed app, or to
the apps named: a service whose configuration changed is replaced as an
update replaces it (same swap, health window and hand-over), then
committed; an unhealthy one is rolled back to its old container. Other
services keep running untouched. Refused while a Mender deployment of
the app is in flight. Run by Mender Configure through
/usr/lib/mender-configure/apply-device-config.d/mender-docker.
Exit status: 0 when every app is configured (changed or not), 1 when one
failed (and was rolled back), 2 on bad usage.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			return func(apps []string, stdout, stderr io.Writer) int {
				for _, a := range apps {
					if !spec.ValidApp(a) {
						return usageError(stderr, "reconfigure", fmt.Sprintf("app %q: not a valid app name", a))
					}
				}
				return act("reconfigure", stderr, func(ctx context.Context, u *module.Updater) error { return u.Reconfigure(ctx, apps) })
			}
		},
	},
	"render": {
		usage: "render APP [--artifact FILE]",
		help: `Print the attributes of APP on this device, each with the layer and file
that gave it, then each service's templates rendered with them, secrets
shown as ***. Reads the installed meta-data, or that of the artifact FILE
(not yet installed). Changes nothing.
Exit status: 0 once printed, 1 when a template does not render or the
app has nothing to render, 2 on bad usage.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			artifact := fs.String("artifact", "", "render the templates of this artifact file instead of the installed ones")
			return func(args []string, stdout, stderr io.Writer) int {
				if len(args) != 1 {
					return usageError(stderr, "render", "needs exactly one APP")
				}
				if !spec.ValidApp(args[0]) {
					return usageError(stderr, "render", fmt.Sprintf("app %q: not a valid app name", args[0]))
				}
				return act("render", stderr, func(ctx context.Context, u *module.Updater) error { return u.Render(args[0], *artifact, stdout) })
			}
		},
	},
	"preload": {
		usage: "preload DIR",
		help: `Install the app of a preload directory (written by docker-artifact-gen
preload) as its installed set: load its images, start its containers,
commit. Once the app has an installed set, do nothing. Run at first boot
by mender-docker-preload.service for /usr/share/mender-docker/preload.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			return func(args []string, stdout, stderr io.Writer) int {
				if len(args) != 1 {
					return usageError(stderr, "preload", "needs exactly one DIR")
				}
				return act("preload", stderr, func(ctx context.Context, u *module.Updater) error { return u.Preload(ctx, args[0]) })
			}
		},
	},
	"version": {
		usage: "version",
		help:  "Print the version.",
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) int {
			return func(args []string, stdout, stderr io.Writer) int {
				if len(args) > 0 {
					return usageError(stderr, "version", fmt.Sprintf("unexpected argument %q", args[0]))
				}
				fmt.Fprintln(stdout, version)
				return exitOK
			}
		},
	},
}

const stateHelp = `Usage: mender-docker STATE FILES_DIR

Run by the Mender client for each state of a deployment (Update Module
protocol v3); FILES_DIR is the client's working directory for the
artifact. Not for use by hand. 'mender-docker --help' lists the states.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "%s: a command is needed; see '%s --help'\n", name, name)
		return exitUsage
	}
	first, rest := args[0], args[1:]
	switch {
	case first == "-h" || first == "-help" || first == "--help" || first == "help":
		if len(rest) == 1 {
			if c, ok := commands[rest[0]]; ok {
				return printHelp(stdout, rest[0], c)
			}
			if stateRE.MatchString(rest[0]) {
				io.WriteString(stdout, stateHelp)
				return exitOK
			}
		}
		if len(rest) > 0 {
			return usageError(stderr, "", fmt.Sprintf("help: unexpected argument %q", rest[0]))
		}
		io.WriteString(stdout, topHelp)
		return exitOK
	case first == "--version" || first == "-version":
		first = "version"
	case stateRE.MatchString(first):
		return state(first, rest, stdout, stderr)
	}
	c, ok := commands[first]
	if !ok {
		if strings.HasPrefix(first, "-") {
			return usageError(stderr, "", fmt.Sprintf("unknown flag %s", first))
		}
		msg := fmt.Sprintf("unknown command %q", first)
		if s := suggest(first); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return usageError(stderr, "", msg)
	}
	fs := flag.NewFlagSet(first, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	do := c.flags(fs)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		return printHelp(stdout, first, c)
	}
	if err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
			// flag says -x for --x too: name it as typed.
			for _, a := range rest {
				if a == "-"+f || strings.HasPrefix(a, "-"+f+"=") {
					f = "-" + f
					break
				}
			}
			msg = "unknown flag " + f
		}
		return usageError(stderr, first, msg)
	}
	return do(pos, stdout, stderr)
}

// parseInterspersed parses flags anywhere among the arguments (`status
// shop --json`), as operators type them; after "--" everything is an
// argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		i := 0
		for i < len(args) && args[i] != "--" {
			i++
		}
		// Parse up to the first "--" only: flag would swallow it.
		if err := fs.Parse(args[:i]); err != nil {
			return nil, err
		}
		if left := fs.Args(); len(left) > 0 {
			pos = append(pos, left[0])
			args = append(append([]string{}, left[1:]...), args[i:]...)
			continue
		}
		if i < len(args) {
			pos = append(pos, args[i+1:]...)
		}
		return pos, nil
	}
}

func printHelp(stdout io.Writer, cmd string, c command) int {
	fmt.Fprintf(stdout, "Usage: %s %s\n\n%s\n", name, c.usage, c.help)
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	c.flags(fs)
	var has bool
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(stdout, "\nOptions:")
		fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(stdout, "  --%-12s %s\n", f.Name, f.Usage) })
		fmt.Fprintf(stdout, "  --%-12s %s\n", "help", "print this help")
	}
	return exitOK
}

// usageError reports bad usage on one line, with where to look.
func usageError(stderr io.Writer, cmd, msg string) int {
	prog, see := name, name+" --help"
	if cmd != "" {
		prog, see = name+" "+cmd, name+" "+cmd+" --help"
	}
	fmt.Fprintf(stderr, "%s: %s; see '%s'\n", prog, msg, see)
	return exitUsage
}

// suggest names the subcommand a typo was probably meant to be.
func suggest(typo string) string {
	best, bestD := "", 3
	for c := range commands {
		if d := distance(typo, c); d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	if bestD > 2 {
		return ""
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// state runs one state of the protocol, exactly as the Mender clients
// expect: argv STATE FILES_DIR; answers on stdout only for the query
// states; an unknown state prints nothing and exits 0.
func state(st string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		io.WriteString(stdout, stateHelp)
		return exitOK
	}
	if len(args) != 1 {
		return usageError(stderr, st, "a state takes exactly one FILES_DIR")
	}
	if !actionStates[st] {
		// Queries are answered without the engine or the config: they
		// are asked often and must be fast. Other states are no-ops by
		// the protocol.
		if err := module.New(nil, config.Default(), stderr).Run(context.Background(), st, "", stdout); err != nil {
			return exitFailure
		}
		return exitOK
	}
	return act(st, stderr, func(ctx context.Context, u *module.Updater) error { return u.Run(ctx, st, args[0], stdout) })
}

// act runs work on an updater over the configured engine: the action
// states, recover and preload.
func act(what string, stderr io.Writer, work func(context.Context, *module.Updater) error) int {
	prefix := "docker module: " + what // the deployment log's wording
	if !stateRE.MatchString(what) {
		prefix = name + " " + what
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, module.OneLine(err.Error()))
		return exitFailure
	}
	// Pulls log in as `docker pull` would, with the docker CLI's
	// credentials, and the device's own file first.
	auth := registryauth.Resolver{File: cfg.RegistryAuthFile}
	eng, err := dockerapi.New(cfg.DockerHost, dockerapi.WithCredentials(auth.Lookup), dockerapi.WithTimeout(time.Duration(cfg.EngineTimeout)))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, module.OneLine(err.Error()))
		return exitFailure
	}
	defer eng.Close()

	// On SIGTERM (the client's module timeout) stop promptly: every state
	// resumes from the journal.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// A state directory left in the old default moves, once, to the
	// persistent data partition that is now the default.
	if cfg.StateDir == config.DefaultStateDir(config.DataDir, config.LegacyStateDir) {
		if err := journal.Move(ctx, config.LegacyStateDir, cfg.StateDir, time.Duration(cfg.LockTimeout), stderr); err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", prefix, module.OneLine(err.Error()))
			return exitFailure
		}
	}
	if err := work(ctx, module.New(eng, cfg, stderr)); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prefix, module.OneLine(err.Error()))
		return exitFailure
	}
	return exitOK
}

func loadConfig() (config.Config, error) {
	path := config.DefaultPath
	if p := os.Getenv("MENDER_DOCKER_CONF"); p != "" {
		path = p
	}
	return config.Load(path)
}

// statusTimeout bounds the whole of `status`: it serves as a health probe
// and an inventory script, which must not hang on a stuck engine.
const statusTimeout = 20 * time.Second

// status prints what runs, changing nothing and taking no lock. It exits 0
// when every app is healthy, else 1; with --inventory (a Mender inventory
// script) always 0 once it printed.
func status(format string, apps []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "%s status: %s\n", name, module.OneLine(err.Error()))
		return exitFailure
	}
	timeout := min(time.Duration(cfg.EngineTimeout), statusTimeout)
	if timeout <= 0 {
		timeout = statusTimeout
	}
	eng, err := dockerapi.New(cfg.DockerHost, dockerapi.WithTimeout(timeout))
	if err != nil {
		fmt.Fprintf(stderr, "%s status: %s\n", name, module.OneLine(err.Error()))
		return exitFailure
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st := module.New(eng, cfg, stderr).Status(ctx, apps...)
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(st)
	case "inventory":
		if err := st.WriteInventory(stdout); err != nil {
			return exitFailure
		}
		return exitOK
	default:
		err = st.WriteText(stdout)
	}
	if err != nil || !st.Healthy {
		return exitFailure
	}
	return exitOK
}
