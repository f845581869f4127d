package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Policy says which run arguments the device accepts. The zero value
// allows everything, as the shell module did; a hardened device sets what
// it refuses.
type Policy struct {
	DenyPrivileged bool `json:"deny_privileged"`
	// DenyHostNamespaces refuses the host's network, pid, ipc, uts and
	// user namespaces (and, for Compose, its cgroup namespace).
	DenyHostNamespaces bool `json:"deny_host_namespaces"`
	// DenyContainerNamespaces refuses joining another container's pid or
	// ipc namespace (--pid/--ipc container:NAME; for Compose also
	// service:NAME and network_mode container:/service:).
	DenyContainerNamespaces bool `json:"deny_container_namespaces"`
	// DenyUnconfined refuses turning confinement off: seccomp=unconfined,
	// apparmor=unconfined, systempaths=unconfined, label=disable.
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
	// AllowEmbedded accepts images carried in the artifact's payload when
	// AllowedRegistries is set: such an image comes from no registry,
	// whatever its reference names, so allowed_registries alone refuses
	// it. Without AllowedRegistries embedded images are accepted.
	AllowEmbedded bool `json:"allow_embedded"`
}

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

// Unconfined tells whether a security option (key=value) turns a
// confinement off.
func Unconfined(o string) bool {
	switch o {
	case "seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined", "label=disable":
		return true
	}
	return false
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
