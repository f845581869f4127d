package module

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// checkComposePolicy applies the device policy to a Compose project: each
// service's privileged, network/pid/ipc modes, capabilities, devices and
// bind mounts are read from the compose file as run arguments would be.
func (u *Updater) checkComposePolicy(m *spec.Meta, dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, m.Compose.File))
	if err != nil {
		return err
	}
	var f struct {
		Services map[string]struct {
			Privileged  bool     `yaml:"privileged"`
			NetworkMode string   `yaml:"network_mode"`
			Pid         string   `yaml:"pid"`
			Ipc         string   `yaml:"ipc"`
			CapAdd      []string `yaml:"cap_add"`
			Devices     []any    `yaml:"devices"`
			Volumes     []any    `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%w: %s: %v", spec.ErrInvalid, m.Compose.File, err)
	}
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := f.Services[n]
		c := engine.ContainerConfig{Privileged: s.Privileged, NetworkMode: s.NetworkMode, PidMode: s.Pid, IpcMode: s.Ipc, CapAdd: s.CapAdd}
		for _, d := range s.Devices {
			c.Devices = append(c.Devices, fmt.Sprint(d))
		}
		for _, v := range s.Volumes {
			switch v := v.(type) {
			case string:
				src, rest, ok := strings.Cut(v, ":")
				if !ok || !(strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/")) {
					continue // a named volume
				}
				if !filepath.IsAbs(src) {
					// Relative to the project: the shipped files are the
					// app's own, but nothing above them.
					abs := filepath.Join(dir, src)
					if abs == dir || strings.HasPrefix(abs, dir+"/") {
						continue
					}
					src = abs
				}
				c.Binds = append(c.Binds, src+":"+rest)
			case map[string]any:
				if v["type"] == "bind" {
					c.Binds = append(c.Binds, fmt.Sprint(v["source"])+":"+fmt.Sprint(v["target"]))
				}
			}
		}
		if err := u.Config.Policy.Check(n, c); err != nil {
			return err
		}
	}
	return nil
}
