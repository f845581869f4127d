package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Policy says which run arguments the device accepts. The zero value
// allows everything, as the shell module did; a hardened device sets what
// it refuses.
type Policy struct {
	DenyPrivileged     bool `json:"deny_privileged"`
	DenyHostNamespaces bool `json:"deny_host_namespaces"` // --network/--pid/--ipc host
	DenyCapAdd         bool `json:"deny_cap_add"`
	DenyDevices        bool `json:"deny_devices"`
	// BindMountPaths, when set, are the only host paths (and what is below
	// them) that -v may bind; named volumes are always allowed.
	BindMountPaths []string `json:"bind_mount_paths"`
}

// Check returns an error naming the first refused flag of a container.
func (p Policy) Check(service string, c engine.ContainerConfig) error {
	refuse := func(flag, why string) error {
		return fmt.Errorf("service %s: %s is refused by the device policy (%s)", service, flag, why)
	}
	switch {
	case p.DenyPrivileged && c.Privileged:
		return refuse("--privileged", "deny_privileged")
	case p.DenyHostNamespaces && c.NetworkMode == "host":
		return refuse("--network host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.PidMode == "host":
		return refuse("--pid host", "deny_host_namespaces")
	case p.DenyHostNamespaces && c.IpcMode == "host":
		return refuse("--ipc host", "deny_host_namespaces")
	case p.DenyCapAdd && len(c.CapAdd) > 0:
		return refuse("--cap-add "+c.CapAdd[0], "deny_cap_add")
	case p.DenyDevices && len(c.Devices) > 0:
		return refuse("--device "+c.Devices[0], "deny_devices")
	}
	if p.BindMountPaths == nil {
		return nil
	}
	for _, b := range c.Binds {
		src, _, _ := strings.Cut(b, ":")
		if !strings.HasPrefix(src, "/") || !strings.Contains(b, ":") {
			continue // a named or anonymous volume
		}
		if !under(filepath.Clean(src), p.BindMountPaths) {
			return refuse("-v "+b, "bind_mount_paths allows "+strings.Join(p.BindMountPaths, ", "))
		}
	}
	return nil
}

func under(path string, roots []string) bool {
	for _, r := range roots {
		r = filepath.Clean(r)
		if path == r || strings.HasPrefix(path, r+"/") || r == "/" {
			return true
		}
	}
	return false
}
