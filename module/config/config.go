// Package config reads the device-side configuration of the update module,
// one JSON file (/etc/mender/mender-docker.conf by default). Every key has a
// safe default, so a device without the file works; an unknown key is an
// error, because a misspelt setting silently ignored is worse than a failed
// deployment that says why.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/spec"
)

// DefaultPath is where the module looks unless MENDER_DOCKER_CONF says
// otherwise.
const DefaultPath = "/etc/mender/mender-docker.conf"

// Where the state directory goes by default. Mender's A/B devices keep
// what must survive an OS update on DataDir; the root filesystem, and
// LegacyStateDir with it, is replaced by each update.
const (
	DataDir        = "/data"
	LegacyStateDir = "/var/lib/mender-docker"
)

// Defaults of the attributes' sources. Mender's device_type file is in
// the client's data directory, which A/B devices keep on the data
// partition (DataDir/mender, /var/lib/mender a symlink to it).
const (
	MenderDataDir         = "/var/lib/mender"
	DefaultAttributesDir  = "/etc/mender-docker/attributes.d"
	DefaultAttributesFile = "/etc/mender-docker/attributes.local.json"
)

// DefaultDeviceTypeFile is dataDir/mender/device_type when the client
// keeps its data there, else legacy/device_type. The roots are
// arguments so that tests can use temporary directories.
func DefaultDeviceTypeFile(dataDir, legacy string) string {
	if fi, err := os.Stat(filepath.Join(dataDir, "mender")); err == nil && fi.IsDir() {
		return filepath.Join(dataDir, "mender", "device_type")
	}
	return filepath.Join(legacy, "device_type")
}

// DefaultStateDir is the state directory when the config names none:
// dataDir/mender-docker when dataDir is a directory, else legacy. The
// roots are arguments so that tests can use temporary directories.
func DefaultStateDir(dataDir, legacy string) string {
	if fi, err := os.Stat(dataDir); err == nil && fi.IsDir() {
		return filepath.Join(dataDir, "mender-docker")
	}
	return legacy
}

// Config is the device configuration.
type Config struct {
	// StateDir keeps the journal. By default on the persistent data
	// partition (/data/mender-docker) when the device has one, else
	// /var/lib/mender-docker.
	StateDir string `json:"state_dir"`
	// HealthWindow and HealthTimeout are the defaults for meta-data's
	// health.window and health.timeout.
	HealthWindow  Duration `json:"health_window"`
	HealthTimeout Duration `json:"health_timeout"`
	// StopTimeout is how long a container gets to stop before SIGKILL.
	StopTimeout Duration `json:"stop_timeout"`
	// ParallelPulls bounds concurrent image pulls.
	ParallelPulls int `json:"parallel_pulls"`
	// MinFreeMB refuses a Download when the engine's disk has less free.
	MinFreeMB int64 `json:"min_free_mb"`
	// DefaultApp is the app of artifacts whose meta-data names none, such
	// as every artifact of the shell docker-artifact-gen.
	DefaultApp string `json:"default_app"`
	// ParamsDir holds one JSON file per app (<app>.json) with the values of
	// its ${NAME} placeholders; they win over Mender Configure's values
	// and the artifact's defaults.
	ParamsDir string `json:"params_dir"`
	// MenderConfigureFile is Mender Configure's device configuration,
	// the second source of parameter values.
	MenderConfigureFile string `json:"mender_configure_file"`
	// AttributesDir is attributes.d: the device type's, the group's and
	// the device's own attribute files.
	AttributesDir string `json:"attributes_dir"`
	// AttributesLocalFile is the local override of attributes, below only
	// the app's params_dir file.
	AttributesLocalFile string `json:"attributes_local_file"`
	// Group is the device's group (attributes.d/group-<group>.json); ""
	// takes Mender Configure's mender_docker_group.
	Group string `json:"group"`
	// DeviceTypeFile is Mender's device_type file (device_type=NAME),
	// which picks attributes.d/type-<NAME>.json.
	DeviceTypeFile string `json:"device_type_file"`
	// Policy refuses run arguments; by default everything is allowed.
	Policy Policy `json:"policy"`
	// DockerHost overrides DOCKER_HOST, e.g. unix:///run/docker.sock.
	DockerHost string `json:"docker_host"`
	// EngineTimeout bounds every engine call (a stop gets stop_timeout on
	// top); a pull or an image load fails once it has moved no data for
	// this long. 0 means no bound.
	EngineTimeout Duration `json:"engine_timeout"`
	// LockTimeout is how long a state waits for another module process
	// (a deployment, or the boot-time recover) to finish with the state
	// directory before it fails.
	LockTimeout Duration `json:"lock_timeout"`
	// RegistryAuthFile holds registry credentials in the docker CLI's
	// config.json format, read before the docker CLI's own config. A
	// missing file is no credentials.
	RegistryAuthFile string `json:"registry_auth_file"`
	// AppLockDir holds the apps' update locks, <app>.lock: an app that
	// holds a flock on its file is not stopped until it lets go. When the
	// directory does not exist, no app uses the contract.
	AppLockDir string `json:"app_lock_dir"`
	// AppLockTimeout is how long an install waits for an app's update
	// lock before it fails with nothing changed.
	AppLockTimeout Duration `json:"app_lock_timeout"`
	// MaxUnpackMB bounds the files an app's files archive unpacks to: an
	// artifact's small compressed payload must not fill the disk.
	MaxUnpackMB int64 `json:"max_unpack_mb"`
	// ProtectedPaths are host paths that no bind may reach, read-only or
	// not, beside the state directory and Mender's own directories (say,
	// Mender's data directory when the device moved it).
	ProtectedPaths []string `json:"protected_paths"`
	// File is the file the configuration was read from ("" for the
	// defaults): it is protected like the state directory.
	File string `json:"-"`
}

// Default returns the configuration of a device with no file.
func Default() Config {
	return Config{
		StateDir:      DefaultStateDir(DataDir, LegacyStateDir),
		HealthWindow:  Duration(10 * time.Second),
		HealthTimeout: Duration(120 * time.Second),
		StopTimeout:   Duration(10 * time.Second),
		ParallelPulls: 3,
		MinFreeMB:     100,
		DefaultApp:    "default",
		ParamsDir:     "/etc/mender-docker/params",
		// Where the mender-configure update module keeps its values.
		MenderConfigureFile: "/var/lib/mender-configure/device-config.json",
		AttributesDir:       DefaultAttributesDir,
		AttributesLocalFile: DefaultAttributesFile,
		DeviceTypeFile:      DefaultDeviceTypeFile(DataDir, MenderDataDir),
		// Generous: creating or removing a container copies or deletes
		// its whole filesystem on vfs, which takes long on slow storage.
		EngineTimeout:  Duration(2 * time.Minute),
		LockTimeout:    Duration(2 * time.Minute),
		MaxUnpackMB:    1024,
		AppLockDir:     "/run/mender-docker",
		AppLockTimeout: Duration(5 * time.Minute),
	}
}

// Load reads path over the defaults. A missing file gives the defaults.
// The file is JSON with comments (// and /* */, as the example config has
// them); every error names the file, the line and the key.
func Load(path string) (Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading config: %w", err)
	}
	at := func(err error, offsets map[string]int64) error {
		var pe *posError
		if !errors.As(err, &pe) {
			// A check of a value: its message starts with the key.
			key, _, _ := strings.Cut(err.Error(), ":")
			if off, ok := offsets[key]; ok {
				return fmt.Errorf("config %s:%d: %w", path, lineOf(data, off), err)
			}
			return fmt.Errorf("config %s: %w", path, err)
		}
		return fmt.Errorf("config %s:%d: %w", path, lineOf(data, pe.off), err)
	}
	clean, err := stripComments(data)
	if err != nil {
		return c, at(err, nil)
	}
	offsets, err := decodeStrict(clean, &c)
	if err != nil {
		return c, at(err, offsets)
	}
	if err := c.validate(); err != nil {
		return c, at(err, offsets)
	}
	for _, p := range c.ProtectedPaths {
		if !filepath.IsAbs(p) {
			return c, fmt.Errorf("config %s: protected_paths: %q is not an absolute path", path, p)
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		c.File = abs
	}
	return c, nil
}

// validate checks values that decode but make no sense. Each message
// starts with its key, for Load to find its line.
func (c *Config) validate() error {
	if c.ParallelPulls < 1 {
		return errors.New("parallel_pulls: must be at least 1")
	}
	if !spec.ValidApp(c.DefaultApp) {
		return fmt.Errorf("default_app: %q is not a valid app name", c.DefaultApp)
	}
	if c.MaxUnpackMB < 1 {
		return errors.New("max_unpack_mb: must be at least 1")
	}
	if c.StateDir == "" {
		return errors.New("state_dir: must not be empty")
	}
	// Group names a file in attributes_dir: never one outside it.
	if c.Group != "" && (strings.ContainsAny(c.Group, `/\`) || c.Group == "." || c.Group == "..") {
		return fmt.Errorf("group: %q cannot name a file (no / or \\)", c.Group)
	}
	return c.Policy.validate()
}

// lineOf is the line, from 1, of byte offset off of data.
func lineOf(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// Duration is a time.Duration written as "10s" in JSON.
type Duration time.Duration

// UnmarshalJSON accepts "10s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration such as \"10s\" (a string, in quotes)", bytes.TrimSpace(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as \"10s\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the "10s" form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}
