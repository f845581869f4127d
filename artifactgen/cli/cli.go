// Package cli is docker-artifact-gen's command line, kept apart from its
// main so that tests can run it with any argv and capture what it prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module/spec"
)

// flags are the options shared by the artifact and preload commands.
type flags struct {
	name, output, runArgs, app, key, compression, platform, payloadType string
	compose                                                             string
	composeFiles, profiles                                              []string
	embed, preload, removeApp, removeVolumes                            bool
	deltaFrom                                                           []string
	softwareName, softwareVersion, softwareFS, providesGroup            string
	deviceTypes, services, provides, depends, clears, params            []string
	dependsGroups, insecure, nameDepends, scripts                       []string
	noDefaultVersion, noDefaultClears                                   bool
	formatVersion                                                       string
	healthWindow, healthTimeout, registryTimeout                        time.Duration
	quiet, verbose                                                      bool
	templates, secretAttributes                                         []string
	attributes                                                          string
	progressEvery                                                       time.Duration
}

// New returns the root command. Its errors are printed by Main.
func New() *cobra.Command {
	o := &flags{}
	root := &cobra.Command{
		Use:   "docker-artifact-gen [flags] IMAGE [IMAGE...]",
		Short: "Write a Mender Artifact that updates the containers of a device",
		Long: `Write a Mender Artifact for the docker update module.

Every image tag is pinned to its digest by asking the registry (no image is
downloaded, no Docker engine is needed), and the artifact is written natively
(format version 3), signed if a key is given. Credentials come from the Docker
config (~/.docker/config.json) and its credential helpers.`,
		Example: `  # The shell docker-artifact-gen's usage works as it was:
  docker-artifact-gen -n web-1.2 -t raspberrypi4 --run-args "-p 80:80 --restart always" registry.example.com/acme/web:1.2

  # One app of several on the device, each service with its own arguments, signed:
  docker-artifact-gen -n shop-7 -t rpi4 --app shop -k signing.key \
    --service web=registry.example.com/shop/web:7,"--network host --restart always" \
    --service worker=registry.example.com/shop/worker:7

  # Offline devices: the images inside the artifact; then a delta holding only what changed:
  docker-artifact-gen -n web-1.2 -t rpi4 --embed -o web-1.2.mender registry.example.com/acme/web:1.2
  docker-artifact-gen -n web-1.3 -t rpi4 --embed --delta-from web-1.2.mender registry.example.com/acme/web:1.3
  docker-artifact-gen -n web-1.3 -t rpi4 --embed docker-archive:web-1.3.tar

  # A Compose app, compiled into services, networks, volumes and files, every
  # image pinned to its digest; ${SITE} left for each device to fill in:
  docker-artifact-gen -n shop-8 -t rpi4 --app shop --compose ./shop --param SITE=lab

  # Remove an app from the device (can be rolled back until committed):
  docker-artifact-gen -n shop-gone -t rpi4 --app shop --remove-app

  # Pin the arm64 image of a multi-platform tag:
  docker-artifact-gen -n web-1.2 -t rpi4 --platform linux/arm64 registry.example.com/acme/web:1.2`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := o.request(cmd, args)
			if err != nil {
				return err
			}
			res, err := artifactgen.Generate(cmd.Context(), req)
			req.Progress.(*progress).Close()
			if err != nil {
				return flagError(err)
			}
			// With -o -, stdout is the artifact: what was written is told
			// on stderr, as progress is.
			summary, head := cmd.OutOrStdout(), "Artifact "+res.Output+" written"
			if res.Output == "-" {
				if o.quiet {
					return nil
				}
				summary, head = cmd.ErrOrStderr(), "Artifact written to stdout"
			}
			if o.removeApp {
				what := "its containers, then its images"
				if o.removeVolumes {
					what = "its containers, its named volumes, then its images"
				}
				fmt.Fprintf(summary, "%s: removes app %s from the device (%s)\n", head, o.app, what)
				return nil
			}
			fmt.Fprintf(summary, "%s:\n", head)
			for _, img := range append(res.Images, serviceImages(res.Services)...) {
				fmt.Fprintf(summary, "  %s\n", img)
			}
			return nil
		},
	}
	root.Args = suggestCommand(root)
	root.SuggestionsMinimumDistance = 2
	o.register(root.Flags(), true)
	root.MarkFlagRequired("artifact-name")
	root.MarkFlagRequired("device-type")
	// --version prints the tool's version; mender-artifact's -v (format
	// version) is taken after -- only, and only as 3.
	root.Version = Version()
	root.Flags().Bool("version", false, "print docker-artifact-gen's version")
	root.SetVersionTemplate("docker-artifact-gen {{.Version}}\n")
	root.RegisterFlagCompletionFunc("compression", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, c := range artifact.Compressions {
			out = append(out, string(c))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
	root.MarkFlagDirname("compose")
	root.AddCommand(newRead(), newPreload())
	return root
}

// suggestCommand is the root's argument check: its arguments are images,
// but a first one that is no image reference and is close to a command's
// name is a mistyped command ("rea" for "read"), said so rather than
// looked up as an image or met with missing required flags.
func suggestCommand(root *cobra.Command) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || cmd.ArgsLenAtDash() == 0 || strings.ContainsAny(args[0], "/:@.") {
			return nil
		}
		if s := root.SuggestionsFor(args[0]); len(s) > 0 {
			return fmt.Errorf("unknown command %q: did you mean %s? (an image of that name: give it in full, as docker.io/library/%s)", args[0], strings.Join(s, " or "), args[0])
		}
		return nil
	}
}

// register adds the flags; artifact is false for preload, which writes no
// artifact and so has no signing, provides or compression.
func (o *flags) register(f *pflag.FlagSet, artifact bool) {
	f.StringVar(&o.runArgs, "run-args", "", "docker run arguments for every IMAGE")
	f.StringArrayVar(&o.services, "service", nil, "NAME=IMAGE[,RUN-ARGS]: one container with its own arguments (repeatable)")
	f.StringVar(&o.app, "app", "", "app the artifact manages on the device (default: the device's default app)")
	f.DurationVar(&o.healthWindow, "health-window", 0, "how long new containers must stay up (default: the device's, 10s)")
	f.DurationVar(&o.healthTimeout, "health-timeout", 0, "how long a HEALTHCHECK may take to pass (default: the device's, 2m)")
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant]: pin this platform's image of a multi-platform tag")
	f.StringArrayVar(&o.insecure, "insecure-registry", nil, "registry host[:port] reached over plain HTTP (repeatable; loopback always is,\nother hosts never without it)")
	f.DurationVar(&o.registryTimeout, "registry-timeout", image.DefaultTimeout, "how long a registry may take to answer, or to send more of an image")
	f.StringArrayVar(&o.params, "param", nil, "NAME=DEFAULT: default value of ${NAME} in run arguments; devices may set their own (repeatable)")
	f.StringArrayVar(&o.templates, "template", nil, "[SERVICE=]SRC:DEST: render the local file SRC on the device with the attributes (Go text/template)\nand mount it read-only at DEST in SERVICE's container, every --service's without SERVICE= (repeatable)")
	f.StringVar(&o.attributes, "attributes", "", "FILE (YAML or JSON): the artifact's layer of attributes that templates and ${NAME} read; devices add their own")
	f.StringArrayVar(&o.secretAttributes, "secret-attribute", nil, "PATH (db.password): an attribute kept out of logs, status and inventory on the device (repeatable)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress on stderr (errors and warnings only)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "also show each registry request and each layer on stderr")
	// How often plain progress lines (stderr not a terminal) are printed:
	// for tests, hidden.
	f.DurationVar(&o.progressEvery, "progress-interval", 0, "")
	f.MarkHidden("progress-interval")
	f.StringVar(&o.compose, "compose", "", "DIR holding compose.yaml (or docker-compose.yml): compile the Compose project into the app's services,\nnetworks, volumes and files, every image pinned")
	f.StringArrayVar(&o.composeFiles, "compose-file", nil, "with --compose, the compose FILE (relative to DIR) instead of the default and its override file (repeatable, merged in order;\ndefault: COMPOSE_FILE)")
	f.StringArrayVar(&o.profiles, "profile", nil, "with --compose, enable this Compose profile (repeatable; default: COMPOSE_PROFILES)")
	if !artifact {
		f.StringVarP(&o.name, "artifact-name", "n", "preloaded", "name the preloaded set is known by on the device")
		f.StringVarP(&o.output, "output-path", "o", "preload", "directory to write")
		return
	}
	f.StringVarP(&o.name, "artifact-name", "n", "", "artifact name (required)")
	f.StringArrayVarP(&o.deviceTypes, "device-type", "t", nil, "compatible device type (repeatable, at least one)")
	f.StringVarP(&o.output, "output-path", "o", "docker-artifact.mender", "artifact file to write (- for stdout)")
	f.StringVarP(&o.payloadType, "payload-type", "T", "docker", "payload type: the name of the update module on the device (--type, as mender-artifact names it, works too)")
	o.menderArtifactFlags(f)
	f.BoolVar(&o.removeApp, "remove-app", false, "write an artifact that removes --app from the device (its containers, then its images)")
	f.BoolVar(&o.removeVolumes, "remove-volumes", false, "with --remove-app, also delete the app's named volumes (its data)")
	// mender-artifact write module-image calls -T --type.
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "type" {
			name = "payload-type"
		}
		return pflag.NormalizedName(name)
	})
	f.BoolVar(&o.embed, "embed", false, "ship the images inside the artifact, for devices without a registry;\nan image may then also be docker-archive:FILE (docker save) or oci:DIR (OCI layout)")
	f.StringArrayVar(&o.deltaFrom, "delta-from", nil, "with --embed, leave out the layers that this earlier artifact (FILE.mender) or image already brought (repeatable)")
}

// menderArtifactFlags are the flags of mender-artifact write module-image
// that we take with its meaning, also after "--" (where the shell tool
// passed them on to mender-artifact).
func (o *flags) menderArtifactFlags(f *pflag.FlagSet) {
	f.StringVar(&o.softwareName, "software-name", "", "key of the software version: rootfs-image.NAME.version (default: docker)")
	f.StringVar(&o.softwareVersion, "software-version", "", "software version (default: the artifact name)")
	f.StringVar(&o.softwareFS, "software-filesystem", "", "used instead of rootfs-image in the software version key")
	f.BoolVar(&o.noDefaultVersion, "no-default-software-version", false, "write no software version provide (nor its clears_provides), for old clients")
	f.BoolVar(&o.noDefaultClears, "no-default-clears-provides", false, "write no default clears_provides (rootfs-image.NAME.*)")
	f.StringVarP(&o.key, "key", "k", "", "PEM private key to sign with (RSA 2048-4096 or ECDSA P-256)")
	f.StringVar(&o.compression, "compression", "gzip", "gzip, none, lzma (xz), or zstd (refused by mender 3.4 and mender-artifact 3.9)")
	f.StringArrayVarP(&o.provides, "provides", "p", nil, "KEY:VALUE the payload provides (repeatable)")
	f.StringArrayVarP(&o.depends, "depends", "d", nil, "KEY:VALUE the payload depends on (repeatable)")
	f.StringArrayVar(&o.clears, "clears-provides", nil, "provides (glob) that installing clears (repeatable)")
	f.StringArrayVarP(&o.nameDepends, "artifact-name-depends", "N", nil, "the device must have one of these artifacts installed (repeatable)")
	f.StringVarP(&o.providesGroup, "provides-group", "g", "", "artifact group the artifact provides")
	f.StringArrayVarP(&o.dependsGroups, "depends-groups", "G", nil, "artifact groups the artifact depends on (repeatable)")
	f.StringArrayVarP(&o.scripts, "script", "s", nil, "state script FILE, named as Mender requires, e.g. ArtifactInstall_Enter_05_backup (repeatable)")
}

// afterDash takes the mender-artifact flags given after "--" as if given
// before it, and refuses any other argument by name.
func afterDash(cmd *cobra.Command, rest []string) error {
	var extra flags
	fs := pflag.NewFlagSet("after --", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	extra.menderArtifactFlags(fs)
	fs.StringVarP(&extra.formatVersion, "version", "v", "3", "")
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("after --: %v: not a mender-artifact write flag that docker-artifact-gen takes", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("after --: %q: only mender-artifact flags may follow --", fs.Arg(0))
	}
	if extra.formatVersion != "3" {
		return fmt.Errorf("after --: --version %s: docker-artifact-gen writes format version 3 only", extra.formatVersion)
	}
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if f.Name == "version" || err != nil {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				if err == nil {
					err = cmd.Flags().Set(f.Name, v)
				}
			}
			return
		}
		err = cmd.Flags().Set(f.Name, f.Value.String())
	})
	return err
}

func newPreload() *cobra.Command {
	o := &flags{}
	cmd := &cobra.Command{
		Use:   "preload -o DIR [flags] IMAGE [IMAGE...]",
		Short: "Write images and meta-data for an OS image, for the module to start at first boot",
		Long: `Write a directory for an OS build (Yocto, Buildroot...) to put in the root
filesystem: DIR/header/meta-data, DIR/header/artifact_name and the images as
docker-archives in DIR/files. At first boot, "docker preload DIR" (the module,
run by scripts/mender-docker-preload.service) loads them and starts the app as
the installed set, so that later updates replace it and can roll back to it.`,
		Example: `  docker-artifact-gen preload -o rootfs/usr/share/mender-docker/preload --app shop \
    --service web=registry.example.com/shop/web:7,"--network host --restart always"

  # A Compose app: its networks, volumes and files come too.
  docker-artifact-gen preload -o rootfs/usr/share/mender-docker/preload --app shop --compose ./shop`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.embed, o.preload = true, true
			if o.output == "-" {
				return fmt.Errorf("--output-path -: preload writes a directory, not a stream; give its path")
			}
			req, err := o.request(cmd, args)
			if err != nil {
				return err
			}
			res, err := artifactgen.Preload(cmd.Context(), req, o.output)
			req.Progress.(*progress).Close()
			if err != nil {
				return flagError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Preload directory %s written (%d image(s))\n", res.Output, res.Files)
			return nil
		},
	}
	o.register(cmd.Flags(), false)
	cmd.MarkFlagDirname("compose")
	return cmd
}

// request maps the flags and arguments to a generator request, checking
// what can be checked before any registry is asked.
func (o *flags) request(cmd *cobra.Command, args []string) (artifactgen.Request, error) {
	var req artifactgen.Request
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		if o.preload {
			return req, fmt.Errorf("arguments after --: preload writes no artifact")
		}
		if err := afterDash(cmd, args[dash:]); err != nil {
			return req, err
		}
		args = args[:dash]
	}
	comp := artifact.Compression(o.compression)
	if comp == artifact.Zstd {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning: --compression zstd: mender 3.4 and mender-artifact 3.9 refuse zstd artifacts")
	}
	if o.registryTimeout <= 0 {
		return req, fmt.Errorf("--registry-timeout %s: must be more than 0", o.registryTimeout)
	}
	if o.quiet && o.verbose {
		return req, fmt.Errorf("--quiet and --verbose: give one or the other")
	}
	req = artifactgen.Request{
		Options: artifactgen.Options{
			ArtifactName: o.name, DeviceTypes: o.deviceTypes, PayloadType: o.payloadType,
			SoftwareName: o.softwareName, SoftwareVersion: o.softwareVersion, SoftwareFilesystem: o.softwareFS,
			NoDefaultSoftwareVersion: o.noDefaultVersion, NoDefaultClearsProvides: o.noDefaultClears, ArtifactNameDepends: o.nameDepends,
			ClearsProvides: o.clears, ProvidesGroup: o.providesGroup, DependsGroups: o.dependsGroups,
			App: o.app, RunArgs: o.runArgs, Health: spec.Health{Window: o.healthWindow, Timeout: o.healthTimeout},
			RemoveApp: o.removeApp, RemoveVolumes: o.removeVolumes,
			Images: args,
		},
		ComposeDir: o.compose, ComposeFiles: o.composeFiles, ComposeProfiles: o.profiles, Embed: o.embed, DeltaFrom: o.deltaFrom,
		Resolver: &image.Resolver{Insecure: o.insecure, Timeout: o.registryTimeout},
		Output:   o.output,
		Stdout:   cmd.OutOrStdout(),
	}
	req.Write.Compression = comp
	if err := comp.Check(); err != nil {
		return req, fmt.Errorf("--%w", err)
	}
	var err error
	if req.Provides, err = keyValues("--provides", o.provides); err != nil {
		return req, err
	}
	if req.Depends, err = keyValues("--depends", o.depends); err != nil {
		return req, err
	}
	for _, p := range o.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return req, fmt.Errorf("--param %q: want NAME=DEFAULT", p)
		}
		if req.Params == nil {
			req.Params = map[string]string{}
		}
		req.Params[k] = v
	}
	if err := o.configFlags(&req); err != nil {
		return req, err
	}
	if o.platform != "" {
		if req.Resolver.Platform, err = v1.ParsePlatform(o.platform); err != nil {
			return req, fmt.Errorf("--platform %q: %v", o.platform, err)
		}
	}
	if o.key != "" {
		pem, err := os.ReadFile(o.key)
		if err != nil {
			return req, fmt.Errorf("--key: %v", err)
		}
		if req.Write.Key, err = artifact.ParsePrivateKey(pem); err != nil {
			return req, fmt.Errorf("--key %s: %w", o.key, err)
		}
	}
	if req.Write.ModTime, err = sourceDateEpoch(); err != nil {
		return req, err
	}
	for _, s := range o.scripts {
		if err := artifact.CheckScriptName(filepath.Base(s)); err != nil {
			return req, fmt.Errorf("--script %s: %w", s, err)
		}
		data, err := os.ReadFile(s)
		if err != nil {
			return req, fmt.Errorf("--script: %v", err)
		}
		req.Scripts = append(req.Scripts, artifact.Script{Name: filepath.Base(s), Data: data})
	}
	for _, s := range o.services {
		svc, err := artifactgen.ParseService(s)
		if err != nil {
			return req, flagError(err)
		}
		req.Services = append(req.Services, svc)
	}
	if o.compose == "" && (len(o.composeFiles) > 0 || len(o.profiles) > 0) {
		return req, fmt.Errorf("--compose-file and --profile go with --compose")
	}
	// Last, so that nothing returns before it and leaves its ticker
	// running: the caller closes it.
	level := normal
	switch {
	case o.quiet:
		level = quiet
	case o.verbose:
		level = verbose
	}
	stderr := cmd.ErrOrStderr()
	p := newProgress(stderr, isTerminal(stderr), level, o.progressEvery)
	req.Progress = p
	req.Write.Progress = p.writeSteps(o.output, comp)
	req.Warn = func(msg string) { fmt.Fprintln(stderr, "warning: "+msg) }
	if level == verbose {
		req.Resolver.Trace = p.Detail
	}
	return req, nil
}

// flagNames are the flags that set a Request's fields.
var flagNames = map[string]string{
	"Output":       "--output-path",
	"DeltaFrom":    "--delta-from",
	"ComposeDir":   "--compose",
	"Services":     "--service",
	"Images":       "image",
	"ArtifactName": "--artifact-name",
	"DeviceTypes":  "--device-type",
	"Provides":     "--provides",
	"Templates":    "--template",
	"Attributes":   "--attributes",
}

// flagWords say, for the library's errors that name fields in their text,
// the same in flags; each applies only to an error that is its sentinel,
// but the registry's hints to any: the registry client joins its tries'
// errors as text, which errors.Is cannot see through.
var flagWords = []struct {
	is   error
	lib  *regexp.Regexp
	with string
}{
	{is: artifactgen.ErrNoImage, lib: regexp.MustCompile(`^no image$`), with: "no image: give at least one IMAGE or --service"},
	{is: artifactgen.ErrNeedsEmbed, lib: regexp.MustCompile(`goes with Embed`), with: "goes with --embed"},
	{is: artifactgen.ErrRemoveAppAlone, lib: regexp.MustCompile(`RemoveApp: give App and no Images, Services or RunArgs`), with: "--remove-app: give --app and no image, --service or --run-args"},
	{is: artifactgen.ErrNeedsRemoveApp, lib: regexp.MustCompile(`RemoveVolumes goes with RemoveApp`), with: "--remove-volumes goes with --remove-app"},
	{is: artifactgen.ErrImagesAndServices, lib: regexp.MustCompile(`Images and Services: give`), with: "images and --service: give"},
	{is: artifactgen.ErrRunArgsWithServices, lib: regexp.MustCompile(`RunArgs: with Services,`), with: "--run-args: with --service,"},
	{is: artifactgen.ErrComposeWithImages, lib: regexp.MustCompile(`give no Images or Services with it`), with: "give no image or --service with it"},
	{is: artifactgen.ErrTemplatesNeedServices, lib: regexp.MustCompile(`goes with Services`), with: "goes with --service"},
	{is: artifactgen.ErrReservedProvide, lib: regexp.MustCompile(`set it with ArtifactName or ProvidesGroup`), with: "set it with --artifact-name or --provides-group"},
	{is: compose.ErrUnsupported, lib: regexp.MustCompile(`with Resolver\.Platform`), with: "with --platform"},
	{lib: regexp.MustCompile(`list (\S+) in Resolver\.Insecure`), with: "give --insecure-registry $1"},
	{lib: regexp.MustCompile(`\(Resolver\.Timeout\)`), with: "(--registry-timeout)"},
}

// flagError says a library error, which names Request fields, with the
// flags' names; errors.Is and errors.As still see the library's error.
func flagError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var fe *artifactgen.FieldError
	if errors.As(err, &fe) {
		if name, ok := flagNames[fe.Field]; ok {
			said := name + ": " + fe.Err.Error()
			if fe.Value != "" {
				said = name + " " + fe.Value + ": " + fe.Err.Error()
			}
			msg = strings.Replace(msg, fe.Error(), said, 1)
		}
	}
	for _, w := range flagWords {
		if w.is == nil || errors.Is(err, w.is) {
			msg = w.lib.ReplaceAllString(msg, w.with)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &flagged{msg, err}
}

// flagged is a library error in the command's words.
type flagged struct {
	msg string
	err error
}

func (e *flagged) Error() string { return e.msg }
func (e *flagged) Unwrap() error { return e.err }

// version is set at build time (-ldflags "-X ...cli.version=1.2.3").
var version = ""

// Version is the tool's version: the one set at build time, else the
// module's version from the build information.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func serviceImages(ss []artifactgen.Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name+": "+s.Image)
	}
	return out
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY:VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// sourceDateEpoch gives the reproducible-builds timestamp, or zero.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(n, 0), nil
}

func newRead() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:     "read ARTIFACT",
		Aliases: []string{"inspect"},
		Short:   "Print an artifact's header, meta-data and signature status",
		Example: `  docker-artifact-gen read web-1.2.mender
  docker-artifact-gen read -k signing.pub web-1.2.mender`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			var pub any
			if key != "" {
				pem, err := os.ReadFile(key)
				if err != nil {
					return fmt.Errorf("--key: %v", err)
				}
				if pub, err = artifact.ParsePublicKey(pem); err != nil {
					return fmt.Errorf("--key %s: %w", key, err)
				}
			}
			info, err := artifact.Read(f, pub)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			printInfo(cmd.OutOrStdout(), info)
			return nil
		},
	}
	cmd.Flags().StringVarP(&key, "key", "k", "", "PEM public key to verify the signature with")
	return cmd
}

func printInfo(w io.Writer, info *artifact.Info) {
	sig := "no signature"
	switch {
	case info.Verified:
		sig = "signed and verified correctly"
	case info.Signed:
		sig = "signed but no key for verification provided; please use `-k` option"
	}
	h, t := info.Header, info.TypeInfo
	fmt.Fprintf(w, "Mender artifact:\n  Name: %s\n  Format: mender\n  Version: 3\n  Signature: %s\n", h.ArtifactProvides.ArtifactName, sig)
	fmt.Fprintf(w, "  Compatible devices: %v\n  Provides group: %s\n  Depends on one of artifact(s): %v\n  Depends on one of group(s): %v\n  Compression: %s\n",
		h.ArtifactDepends.DeviceType, h.ArtifactProvides.ArtifactGroup, h.ArtifactDepends.ArtifactName, h.ArtifactDepends.ArtifactGroup, info.Compression)
	if len(info.Scripts) > 0 {
		fmt.Fprintf(w, "  State scripts:\n")
		for _, s := range info.Scripts {
			fmt.Fprintf(w, "    %s\n", s.Name)
		}
	}
	fmt.Fprintf(w, "\nUpdates:\n  0:\n    Type: %s\n    Provides:\n", t.Type)
	for _, k := range sortedKeys(t.ArtifactProvides) {
		fmt.Fprintf(w, "      %s: %s\n", k, t.ArtifactProvides[k])
	}
	fmt.Fprintf(w, "    Depends:")
	if len(t.ArtifactDepends) == 0 {
		fmt.Fprintf(w, " nothing")
	}
	fmt.Fprintln(w)
	for _, k := range sortedKeys(t.ArtifactDepends) {
		fmt.Fprintf(w, "      %s: %s\n", k, t.ArtifactDepends[k])
	}
	fmt.Fprintf(w, "    Clears provides: %q\n    Metadata:\n", t.ClearsArtifactProvides)
	var pretty strings.Builder
	if len(info.MetaData) == 0 {
		pretty.WriteString("      none\n")
	} else if err := indentJSON(&pretty, info.MetaData); err != nil {
		fmt.Fprintf(&pretty, "      %s\n", info.MetaData)
	}
	fmt.Fprint(w, pretty.String())
}

// Main runs the command line and returns the exit code: errors are one
// line on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainContext(context.Background(), args, stdout, stderr)
}

// MainContext is Main under ctx: when ctx ends (an interrupt), the work
// stops, temporary files are removed, the output path is left as it was,
// and the exit code is 130.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	routeLibraryLogs(stderr)
	cmd := New()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "docker-artifact-gen: interrupted: temporary files removed, nothing written")
			return 130
		}
		fmt.Fprintf(stderr, "docker-artifact-gen: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return 1
	}
	return 0
}

// routeLibraryLogs makes what compose-go logs through logrus (obsolete
// attributes, unset variables...) reach w as our own "warning: ..." lines,
// not logrus text (time="..." level=warning msg=...). Below warnings,
// nothing.
func routeLibraryLogs(w io.Writer) {
	logrus.SetOutput(w)
	logrus.SetFormatter(logLines{})
	logrus.SetLevel(logrus.WarnLevel)
}

// logLines formats a logrus entry as one line: "warning: MESSAGE" (or
// "error: ").
type logLines struct{}

func (logLines) Format(e *logrus.Entry) ([]byte, error) {
	level := "warning"
	if e.Level <= logrus.ErrorLevel {
		level = "error"
	}
	return []byte(level + ": " + strings.Join(strings.Fields(e.Message), " ") + "\n"), nil
}

// configFlags reads --template, --attributes and --secret-attribute.
func (o *flags) configFlags(req *artifactgen.Request) error {
	for _, t := range o.templates {
		var tm artifactgen.Template
		spec := t
		if svc, rest, ok := strings.Cut(t, "="); ok && slices.Contains(o.services, svc) || ok && slices.ContainsFunc(o.services, func(s string) bool { return strings.HasPrefix(s, svc+"=") }) {
			tm.Service, spec = svc, rest
		}
		i := strings.LastIndex(spec, ":")
		if i <= 0 || i == len(spec)-1 {
			return fmt.Errorf("--template %q: want [SERVICE=]SRC:DEST", t)
		}
		tm.Source, tm.Target = spec[:i], spec[i+1:]
		req.Templates = append(req.Templates, tm)
	}
	if o.attributes != "" {
		a, err := compose.ReadAttributes(o.attributes)
		if err != nil {
			return fmt.Errorf("--attributes: %w", err)
		}
		if a == nil {
			a = map[string]any{}
		}
		req.Attributes = a
	}
	if err := compose.CheckSecretAttributes("--secret-attribute", o.secretAttributes); err != nil {
		return err
	}
	req.SecretAttributes = o.secretAttributes
	return nil
}
