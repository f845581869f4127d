package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Policy says which run arguments the device accepts. The zero value
// allows everything, as the shell module did, but logging that leaves the
// device (see AllowedLogDrivers); a hardened device sets what it refuses.
type Policy struct {
	DenyPrivileged bool `json:"deny_privileged"`
	// DenyHostNamespaces refuses the host's network, pid, ipc, uts and
	// user namespaces (and, for Compose, its cgroup namespace).
	DenyHostNamespaces bool `json:"deny_host_namespaces"`
	// DenyContainerNamespaces refuses joining another container's pid or
	// ipc namespace (--pid/--ipc container:NAME; for Compose also
	// service:NAME and network_mode container:/service:).
	DenyContainerNamespaces bool `json:"deny_container_namespaces"`
	// DenyUnconfined keeps the engine's default confinement: it refuses
	// every seccomp= (unconfined or an inline profile), apparmor= other
	// than docker-default, every label= and systempaths=unconfined.
	DenyUnconfined bool `json:"deny_unconfined"`
	// AllowedSecurityOpts, when set, are the only --security-opt values
	// accepted (as key=value; no-new-privileges means =true).
	AllowedSecurityOpts []string `json:"allowed_security_opts"`
	DenyCapAdd          bool     `json:"deny_cap_add"`
	DenyDevices         bool     `json:"deny_devices"`
	// DenyDeviceCgroupRules refuses --device-cgroup-rule, which opens
	// devices to a container without naming them.
	DenyDeviceCgroupRules bool `json:"deny_device_cgroup_rules"`
	// BindMountPaths, when set, are the only host paths (and what is below
	// them) that -v may bind; named volumes are always allowed. Symbolic
	// links are followed on the device before the check.
	BindMountPaths []string `json:"bind_mount_paths"`
	// AllowedRegistries, when set, are the only registries (host[:port])
	// images may name; an image without one is Docker Hub's, docker.io.
	AllowedRegistries []string `json:"allowed_registries"`
	// AllowedLogDrivers are the --log-driver values accepted; when absent,
	// DefaultLogDrivers, which keep the logs on the device (a syslog,
	// gelf, fluentd … driver would have the engine send a container's
	// output to the network, whatever --network says). Without
	// --log-driver the engine's own default applies, which is the
	// operator's choice and always accepted.
	AllowedLogDrivers []string `json:"allowed_log_drivers"`
	// AllowedLogOpts are the --log-opt keys accepted; when absent,
	// DefaultLogOpts, which name no destination: an address, URL or
	// certificate file (syslog-address, fluentd-address, splunk-url,
	// syslog-tls-cert …) would also apply to the engine's own default
	// driver.
	AllowedLogOpts []string `json:"allowed_log_opts"`
	// AllowEmbedded accepts images carried in the artifact's payload when
	// AllowedRegistries is set: such an image comes from no registry,
	// whatever its reference names, so allowed_registries alone refuses
	// it. Without AllowedRegistries embedded images are accepted.
	AllowEmbedded bool `json:"allow_embedded"`
	// AllowedExternalNetworks and AllowedExternalVolumes, when set, are
	// the only existing networks and volumes that an artifact may declare
	// external and join (an empty list: none). When absent any existing
	// user-defined network or volume may be joined, so that shared-proxy
	// and shared-database setups work out of the box.
	AllowedExternalNetworks []string `json:"allowed_external_networks"`
	AllowedExternalVolumes  []string `json:"allowed_external_volumes"`
}

// The logging that Policy accepts by default: the drivers that keep logs
// on the device, and their options that name no destination.
var (
	DefaultLogDrivers = []string{"json-file", "local", "journald", "none"}
	DefaultLogOpts    = []string{"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size"}
)

// validate checks the policy's own values and writes its security options
// in the parser's spelling.
func (p *Policy) validate() error {
	for i, o := range p.AllowedSecurityOpts {
		n, err := spec.SecurityOpt(o)
		if err != nil {
			return fmt.Errorf("policy.allowed_security_opts: %v", err)
		}
		p.AllowedSecurityOpts[i] = n
	}
	for _, r := range p.BindMountPaths {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("policy.bind_mount_paths: %q is not an absolute path", r)
		}
	}
	for _, r := range p.AllowedRegistries {
		if r == "" || strings.ContainsAny(r, "/ ") {
			return fmt.Errorf("policy.allowed_registries: %q is not a registry host[:port]", r)
		}
	}
	for _, l := range [][]string{p.AllowedExternalNetworks, p.AllowedExternalVolumes} {
		for _, n := range l {
			if n == "" || strings.ContainsAny(n, " \t/:") {
				return fmt.Errorf("policy.allowed_external_networks/volumes: %q is not a network or volume name", n)
			}
		}
	}
	return p.validateLogging()
}

func (p *Policy) validateLogging() error {
	for _, d := range p.AllowedLogDrivers {
		if d == "" || strings.ContainsAny(d, " \t=") {
			return fmt.Errorf("policy.allowed_log_drivers: %q is not a log driver name", d)
		}
	}
	for _, k := range p.AllowedLogOpts {
		if k == "" || strings.ContainsAny(k, " \t=") {
			return fmt.Errorf("policy.allowed_log_opts: %q is not a log option key (without =value)", k)
		}
	}
	return nil
}

// Check returns an error naming the first refused flag of a container.
func (p Policy) Check(service string, c engine.ContainerConfig) error {
	refuse := func(flag, why string) error {
		return fmt.Errorf("service %s: %s is refused by the device policy (%s)", service, flag, why)
	}
	container := func(mode string) bool { return strings.HasPrefix(mode, "container:") }
	switch {
	case p.DenyPrivileged && c.Privileged:
		return refuse("--privileged", "deny_privileged")
	case p.DenyHostNamespaces && c.NetworkMode == "host":
		return refuse("--network host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.PidMode == "host":
		return refuse("--pid host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.IpcMode == "host":
		return refuse("--ipc host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.UTSMode == "host":
		return refuse("--uts host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.UsernsMode == "host":
		return refuse("--userns host", "deny_host_namespaces")
	case p.DenyContainerNamespaces && container(c.PidMode):
		return refuse("--pid "+c.PidMode, "deny_container_namespaces")
	case p.DenyContainerNamespaces && container(c.IpcMode):
		return refuse("--ipc "+c.IpcMode, "deny_container_namespaces")
	case p.DenyCapAdd && len(c.CapAdd) > 0:
		return refuse("--cap-add "+c.CapAdd[0], "deny_cap_add")
	case p.DenyDevices && len(c.Devices) > 0:
		return refuse("--device "+c.Devices[0], "deny_devices")
	case p.DenyDeviceCgroupRules && len(c.DeviceCgroupRules) > 0:
		return refuse("--device-cgroup-rule "+c.DeviceCgroupRules[0], "deny_device_cgroup_rules")
	}
	for _, o := range c.SecurityOpt {
		if err := p.CheckSecurityOpt(o); err != nil {
			return refuse("--security-opt "+o, err.Error())
		}
	}
	if flag, why := p.checkLogging(c); flag != "" {
		return refuse(flag, why)
	}
	if p.BindMountPaths == nil {
		return nil
	}
	for _, b := range c.Binds {
		src, _, _ := strings.Cut(b, ":")
		if !strings.HasPrefix(src, "/") || !strings.Contains(b, ":") {
			continue // a named or anonymous volume
		}
		if err := p.CheckBindSource(src); err != nil {
			return refuse("-v "+b, err.Error())
		}
	}
	return nil
}

// CheckSecurityOpt says why the policy refuses a security option (in
// key=value form), or nil.
func (p Policy) CheckSecurityOpt(o string) error {
	if p.DenyUnconfined && Unconfined(o) {
		return errors.New("deny_unconfined")
	}
	allowed := slices.ContainsFunc(p.AllowedSecurityOpts, func(a string) bool {
		n, err := spec.SecurityOpt(a)
		return a == o || err == nil && n == o
	})
	if p.AllowedSecurityOpts != nil && !allowed {
		if len(p.AllowedSecurityOpts) == 0 {
			return errors.New("allowed_security_opts is empty")
		}
		return fmt.Errorf("allowed_security_opts: %s", strings.Join(p.AllowedSecurityOpts, ", "))
	}
	return nil
}

// Unconfined tells whether a security option (key=value) can loosen the
// engine's default confinement, which deny_unconfined keeps: any seccomp
// profile (an inline one can allow every syscall, and the engine has no
// other way to name its default), any AppArmor profile but the engine's
// own docker-default (a named one may be any profile loaded on the host,
// complain-mode or unconfined ones too), any SELinux label option (a type
// such as spc_t, a user, role or level can each widen what the container
// may touch, and disable turns labelling off), and systempaths=unconfined.
// Only no-new-privileges, which can only tighten, remains.
func Unconfined(o string) bool {
	key, val, _ := strings.Cut(o, "=")
	switch key {
	case "seccomp", "label", "systempaths":
		return true
	case "apparmor":
		return val != "docker-default"
	}
	return false
}

// checkLogging returns the first logging flag of c that the policy
// refuses, and why; "" when none.
func (p Policy) checkLogging(c engine.ContainerConfig) (flag, why string) {
	drivers, opts := p.AllowedLogDrivers, p.AllowedLogOpts
	if drivers == nil {
		drivers = DefaultLogDrivers
	}
	if opts == nil {
		opts = DefaultLogOpts
	}
	list := func(key string, l []string) string {
		if len(l) == 0 {
			return key + " is empty"
		}
		return key + ": " + strings.Join(l, ", ")
	}
	if c.LogDriver != "" && !slices.Contains(drivers, c.LogDriver) {
		return "--log-driver " + c.LogDriver, list("allowed_log_drivers", drivers)
	}
	for _, k := range slices.Sorted(maps.Keys(c.LogOpts)) {
		if !slices.Contains(opts, k) {
			return "--log-opt " + k + "=" + c.LogOpts[k], list("allowed_log_opts", opts)
		}
	}
	return "", ""
}

// CheckBindSource says why the policy refuses binding the host path src,
// or nil. Symbolic links on the device are followed first, so that a link
// inside an allowed path cannot lead out of it; so are the allowed paths'
// own.
func (p Policy) CheckBindSource(src string) error {
	if p.BindMountPaths == nil {
		return nil
	}
	why := fmt.Errorf("bind_mount_paths allows %s", strings.Join(p.BindMountPaths, ", "))
	resolved, err := ResolvePath(src)
	if err != nil {
		return fmt.Errorf("%s: %v", why, err)
	}
	// The engine may clean the path before resolving it, or not: both
	// readings must stay inside.
	cleaned, err := ResolvePath(filepath.Clean(src))
	if err != nil {
		return fmt.Errorf("%s: %v", why, err)
	}
	var roots []string
	for _, r := range p.BindMountPaths {
		rr, err := ResolvePath(filepath.Clean(r))
		if err != nil {
			return fmt.Errorf("%s: %v", why, err)
		}
		roots = append(roots, rr)
	}
	if !under(resolved, roots) || !under(cleaned, roots) {
		return why
	}
	return nil
}

// ResolvePath follows the symbolic links of an absolute path as the kernel
// would, also through ".." after a link. Of a path that does not exist
// yet (the engine creates a missing bind source), the longest existing
// prefix is resolved and the rest appended.
func ResolvePath(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%q is not an absolute path", path)
	}
	parts := strings.Split(path, "/")
	for n := len(parts); n > 0; n-- {
		prefix := strings.Join(parts[:n], "/")
		if prefix == "" {
			prefix = "/"
		}
		r, err := filepath.EvalSymlinks(prefix)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return "", err
		}
		return filepath.Join(append([]string{r}, parts[n:]...)...), nil
	}
	return filepath.Clean(path), nil
}

// CheckImage says why the policy refuses an image reference, or nil.
// Image IDs (sha256:…) name no registry: they are loaded from the
// artifact.
func (p Policy) CheckImage(ref string) error {
	if p.AllowedRegistries == nil || strings.HasPrefix(ref, "sha256:") {
		return nil
	}
	reg := Registry(ref)
	for _, a := range p.AllowedRegistries {
		if normalRegistry(a) == reg {
			return nil
		}
	}
	return fmt.Errorf("image %s: registry %s is refused by the device policy (allowed_registries: %s)", ref, reg, strings.Join(p.AllowedRegistries, ", "))
}

// CheckEmbedded says why the policy refuses an image the artifact carries
// in its payload (ref as the meta-data names it), or nil.
func (p Policy) CheckEmbedded(ref string) error {
	if p.AllowedRegistries == nil {
		return nil
	}
	if !p.AllowEmbedded {
		return fmt.Errorf("image %s is carried in the artifact, not pulled from an allowed registry: refused by the device policy (allowed_registries is set; allow_embedded is not)", ref)
	}
	return p.CheckImage(ref)
}

// Registry is the registry host[:port] an image reference names, as the
// engine reads it: the first path element when it looks like a host (has
// a dot or a port, is localhost, or has capitals), else Docker Hub.
func Registry(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		return "docker.io"
	}
	return normalRegistry(first)
}

func normalRegistry(host string) string {
	host = strings.ToLower(host)
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return host
}

func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") || r == "/" {
			return true
		}
	}
	return false
}

// The engine resolves a bind's source path again at every start of the
// container (docker restart, a reboot, --restart), following symbolic links
// as they are then. The check of a source at Download is therefore only as
// good as what no container can change afterwards: the rules below keep
// every directory on the path of a bind source out of reach of writable
// binds, and the module's own state and Mender's out of reach of any bind.

// OwnedBind is a bind mount and who has it, for the messages: a service of
// the artifact, or a container already on the device.
type OwnedBind struct {
	engine.Bind
	Owner string
}

// CheckBindOverlap says why the policy refuses bind b beside the binds
// others (the artifact's, and those of the containers the module manages on
// the device), or nil. When bind_mount_paths is set, no bind source may lie
// strictly inside the source of a writable bind, nor a writable bind's
// source strictly contain another's: a container that can write there
// could replace a directory on the inner source's path with a symbolic
// link, which the engine follows at the next start. Read-only binds may
// nest, and equal sources may be shared (no container can replace the
// directory it has mounted).
func (p Policy) CheckBindOverlap(b engine.Bind, others []OwnedBind) error {
	if p.BindMountPaths == nil {
		return nil
	}
	for _, o := range others {
		switch {
		case !o.ReadOnly && strictlyUnder(b.Source, o.Source):
			return fmt.Errorf("it lies inside %s, which %s binds writable; the engine follows symbolic links in a bind's source at every start", o.Source, o.Owner)
		case !b.ReadOnly && strictlyUnder(o.Source, b.Source):
			return fmt.Errorf("it is writable and holds %s, which %s binds; the engine follows symbolic links in a bind's source at every start", o.Source, o.Owner)
		}
	}
	return nil
}

// ProtectedPath is a host path that no bind may reach, read-only or not,
// whatever the policy: the module's state directory (its journal, the
// parameters it recorded, the files it mounts) and Mender's own
// directories (the device's keys, the client's configuration).
type ProtectedPath struct {
	Path string
	What string
}

// MenderPaths are Mender's own directories on every device: its
// configuration (mender.conf, the server certificate, artifact_info, and by
// default this module's configuration) and its data (the device's private
// key, the client's database).
var MenderPaths = []string{"/etc/mender", "/var/lib/mender"}

// Protected lists the paths that no bind may reach: the state directory,
// Mender's directories, this configuration file, and protected_paths.
func (c Config) Protected() []ProtectedPath {
	out := []ProtectedPath{{c.StateDir, "the module's state directory (state_dir)"}}
	for _, p := range MenderPaths {
		out = append(out, ProtectedPath{p, "Mender's directory " + p})
	}
	if c.File != "" {
		out = append(out, ProtectedPath{c.File, "the module's configuration file"})
	}
	for _, p := range c.ProtectedPaths {
		out = append(out, ProtectedPath{p, "a protected path (protected_paths)"})
	}
	return out
}

// CheckProtected says why binding the host path src is refused because it
// is, lies inside or holds one of protected, or nil. Symbolic links are
// followed on both sides.
func CheckProtected(src string, protected []ProtectedPath) error {
	for _, p := range protected {
		if p.Path == "" {
			continue
		}
		if src == p.Path || strictlyUnder(src, p.Path) || strictlyUnder(p.Path, src) || samePath(src, p.Path) {
			return fmt.Errorf("it overlaps %s, %s, which no container may reach", p.What, p.Path)
		}
	}
	return nil
}

// pathForms are the readings of an absolute path that the engine might
// use: as given, cleaned, and with its symbolic links resolved (a path
// that cannot be resolved keeps its cleaned reading).
func pathForms(p string) []string {
	forms := []string{p, filepath.Clean(p)}
	for _, f := range forms[:2] {
		if r, err := ResolvePath(f); err == nil {
			forms = append(forms, r)
		}
	}
	return forms
}

// strictlyUnder tells whether some reading of inner lies strictly below
// some reading of outer.
func strictlyUnder(inner, outer string) bool {
	for _, i := range pathForms(inner) {
		for _, o := range pathForms(outer) {
			if i != o && (o == "/" || strings.HasPrefix(i, strings.TrimSuffix(o, "/")+"/")) {
				return true
			}
		}
	}
	return false
}

// samePath tells whether some readings of a and b are the same path.
func samePath(a, b string) bool {
	for _, x := range pathForms(a) {
		if slices.Contains(pathForms(b), x) {
			return true
		}
	}
	return false
}

// StateDirWarnings are what a device's configuration should hear about its
// state directory: one that lies under an allowed bind path is kept out of
// reach only by the rule that refuses binds overlapping it.
func (c Config) StateDirWarnings() []string {
	var out []string
	for _, r := range c.Policy.BindMountPaths {
		if samePath(c.StateDir, r) || strictlyUnder(c.StateDir, r) {
			out = append(out, fmt.Sprintf("state_dir %s lies under bind_mount_paths entry %s: binds that overlap it are refused, but a state directory outside the allowed paths is safer", c.StateDir, r))
		}
	}
	return out
}

// maxJoinDepth bounds how far CheckJoins follows containers that join
// other containers' namespaces.
const maxJoinDepth = 8

// CheckJoins says why, under deny_host_namespaces, joining another
// container's namespaces is refused: `--pid container:X` (or --ipc, or
// --network) where X is in the host's namespace puts the container in the
// host's namespace too. lookup finds X by name or ID (ok false when there is
// none: the engine refuses the join then); X's own joins are followed.
func (p Policy) CheckJoins(service string, c engine.ContainerConfig, lookup func(name string) (x engine.Container, ok bool, err error)) error {
	if !p.DenyHostNamespaces {
		return nil
	}
	for _, j := range []struct {
		flag, mode string
		of         func(engine.Container) string
	}{
		{"--pid", c.PidMode, func(x engine.Container) string { return x.PidMode }},
		{"--ipc", c.IpcMode, func(x engine.Container) string { return x.IpcMode }},
		{"--network", c.NetworkMode, func(x engine.Container) string { return x.NetworkMode }},
	} {
		mode, via := j.mode, ""
		for depth := 0; strings.HasPrefix(mode, "container:"); depth++ {
			name := strings.TrimPrefix(mode, "container:")
			if depth == maxJoinDepth {
				return fmt.Errorf("service %s: %s %s is refused by the device policy (deny_host_namespaces: more than %d containers joined in a row)", service, j.flag, j.mode, maxJoinDepth)
			}
			x, ok, err := lookup(name)
			if err != nil {
				return fmt.Errorf("service %s: %s %s: %w", service, j.flag, j.mode, err)
			}
			if !ok {
				break
			}
			mode, via = j.of(x), name
		}
		if mode == "host" && via != "" {
			return fmt.Errorf("service %s: %s %s is refused by the device policy (deny_host_namespaces: container %s is in the host's namespace)", service, j.flag, j.mode, via)
		}
	}
	return nil
}

// CheckVolume says why the policy refuses a named volume as the engine has
// it. When bind_mount_paths is set, a volume whose options mount a host
// path (the local driver's device=/etc with o=bind, or a block device) is
// checked as a bind of that path, and a volume of any other driver, whose
// options the module cannot read, is refused.
func (p Policy) CheckVolume(v engine.Volume) error {
	if p.BindMountPaths == nil {
		return nil
	}
	if v.Driver != "" && v.Driver != "local" {
		return fmt.Errorf("volume %s: driver %s is refused by the device policy (bind_mount_paths: only local volumes, whose options the module can check)", v.Name, v.Driver)
	}
	dev := v.Options["device"]
	bind := slices.ContainsFunc(strings.Split(v.Options["o"], ","), func(o string) bool { return o == "bind" || o == "rbind" })
	if bind && !strings.HasPrefix(dev, "/") {
		// mount(2) reads a relative source from the daemon's directory.
		return fmt.Errorf("volume %s: it binds %q, not an absolute path, which is refused by the device policy (bind_mount_paths)", v.Name, dev)
	}
	if strings.HasPrefix(dev, "/") {
		if err := p.CheckBindSource(dev); err != nil {
			return fmt.Errorf("volume %s: it mounts the host's %s, which is refused by the device policy (%v)", v.Name, dev, err)
		}
	}
	return nil
}

// CheckExternalNetwork says why the policy refuses joining n, an existing
// network that an artifact declares external. The engine's own networks
// are never external ones: network_mode joins them, under its own rules.
func (p Policy) CheckExternalNetwork(n engine.Network) error {
	switch {
	case !engine.UserNetwork(n.Name) || n.Driver == "host" || n.Driver == "null" || n.Scope == "host" || n.Scope == "null":
		return fmt.Errorf("external network %s is one of the engine's own networks (driver %s), not a user-defined one; use network_mode", n.Name, n.Driver)
	case p.AllowedExternalNetworks != nil && !slices.Contains(p.AllowedExternalNetworks, n.Name):
		return fmt.Errorf("external network %s is refused by the device policy (allowed_external_networks: %s)", n.Name, strings.Join(p.AllowedExternalNetworks, ", "))
	}
	return nil
}

// CheckExternalVolume says why the policy refuses mounting v, an existing
// volume that an artifact declares external: allowed_external_volumes,
// and what CheckVolume says of every named volume.
func (p Policy) CheckExternalVolume(v engine.Volume) error {
	if p.AllowedExternalVolumes != nil && !slices.Contains(p.AllowedExternalVolumes, v.Name) {
		return fmt.Errorf("external volume %s is refused by the device policy (allowed_external_volumes: %s)", v.Name, strings.Join(p.AllowedExternalVolumes, ", "))
	}
	return p.CheckVolume(v)
}
