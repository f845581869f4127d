package module

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/spec"
)

// composeService is what the device policy reads of a compose service.
type composeService struct {
	Image             string   `yaml:"image"`
	Privileged        any      `yaml:"privileged"`
	NetworkMode       string   `yaml:"network_mode"`
	Pid               string   `yaml:"pid"`
	Ipc               string   `yaml:"ipc"`
	Uts               string   `yaml:"uts"`
	UsernsMode        string   `yaml:"userns_mode"`
	Cgroup            string   `yaml:"cgroup"`
	CapAdd            []string `yaml:"cap_add"`
	Devices           []any    `yaml:"devices"`
	DeviceCgroupRules []string `yaml:"device_cgroup_rules"`
	SecurityOpt       []string `yaml:"security_opt"`
	Volumes           []any    `yaml:"volumes"`
	VolumesFrom       []string `yaml:"volumes_from"`
	Extends           any      `yaml:"extends"`
}

// checkComposePolicy applies the device policy to a Compose project: each
// service's image registry, privileged, namespaces, capabilities,
// devices, security options and bind mounts are read from the compose
// file as run arguments would be, after ${NAME} placeholders are put in as
// Compose will put them in (an artifact's defaults are as hostile as the
// rest of it). Files the compose file includes or extends are read too.
func (u *Updater) checkComposePolicy(m *spec.Meta, dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, m.Compose.File))
	if err != nil {
		return err
	}
	lookup, err := u.composeLookup(m, dir, data)
	if err != nil {
		return err
	}
	return u.checkComposeFile(dir, m.Compose.File, lookup, map[string]bool{})
}

func (u *Updater) checkComposeFile(root, file string, lookup func(string) (string, bool), seen map[string]bool) error {
	if seen[file] {
		return nil
	}
	seen[file] = true
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", spec.ErrInvalid, file, err)
	}
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return fmt.Errorf("%w: %s: %v", spec.ErrInvalid, file, err)
	}
	if tree, err = interpolateTree(tree, lookup); err != nil {
		return fmt.Errorf("%w: %s: %v", spec.ErrInvalid, file, err)
	}
	data, err = yaml.Marshal(tree)
	if err != nil {
		return err
	}
	var f struct {
		Include  []any                     `yaml:"include"`
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]struct {
			DriverOpts map[string]string `yaml:"driver_opts"`
		} `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%w: %s: %v", spec.ErrInvalid, file, err)
	}
	// Other files of the project this one pulls in, relative to it.
	var others []string
	for _, inc := range f.Include {
		switch inc := inc.(type) {
		case string:
			others = append(others, inc)
		case map[string]any:
			switch path := inc["path"].(type) {
			case string:
				others = append(others, path)
			case []any:
				for _, p := range path {
					others = append(others, fmt.Sprint(p))
				}
			}
		}
	}
	for _, s := range f.Services {
		if ext, ok := s.Extends.(map[string]any); ok && ext["file"] != nil {
			others = append(others, fmt.Sprint(ext["file"]))
		}
	}
	for _, o := range others {
		rel := filepath.Join(filepath.Dir(file), o)
		if filepath.IsAbs(o) || !filepath.IsLocal(rel) {
			return fmt.Errorf("%w: %s: %q is outside the project", spec.ErrInvalid, file, o)
		}
		if err := u.checkComposeFile(root, rel, lookup, seen); err != nil {
			return err
		}
	}
	p := u.Config.Policy
	// A local volume with o=bind binds its device, a host path.
	vnames := make([]string, 0, len(f.Volumes))
	for n := range f.Volumes {
		vnames = append(vnames, n)
	}
	sort.Strings(vnames)
	for _, n := range vnames {
		o := f.Volumes[n].DriverOpts
		if dev := o["device"]; strings.Contains(o["o"], "bind") && dev != "" {
			if err := p.CheckBindSource(dev); err != nil {
				return fmt.Errorf("volume %s: device %s is refused by the device policy (%v)", n, dev, err)
			}
		}
	}
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := composeServicePolicy(p, n, f.Services[n], root, filepath.Join(root, filepath.Dir(file))); err != nil {
			return err
		}
	}
	return nil
}

// composeServicePolicy checks one service; relative paths are relative to
// base, the directory of its file, and may not leave the project, root.
func composeServicePolicy(p config.Policy, n string, s composeService, root, base string) error {
	refuse := func(what, why string) error {
		return fmt.Errorf("service %s: %s is refused by the device policy (%s)", n, what, why)
	}
	if s.Image != "" {
		if err := p.CheckImage(s.Image); err != nil {
			return fmt.Errorf("service %s: %w", n, err)
		}
	}
	shared := func(mode string) bool {
		return strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "service:")
	}
	switch {
	case p.DenyHostNamespaces && s.Cgroup == "host":
		return refuse("cgroup: host", "deny_host_namespaces")
	case p.DenyContainerNamespaces && shared(s.NetworkMode):
		return refuse("network_mode: "+s.NetworkMode, "deny_container_namespaces")
	case p.DenyContainerNamespaces && shared(s.Pid):
		return refuse("pid: "+s.Pid, "deny_container_namespaces")
	case p.DenyContainerNamespaces && shared(s.Ipc):
		return refuse("ipc: "+s.Ipc, "deny_container_namespaces")
	}
	for _, v := range s.VolumesFrom {
		// Another container's mounts cannot be checked here; a service of
		// the project is checked as itself.
		if p.BindMountPaths != nil && strings.HasPrefix(v, "container:") {
			return refuse("volumes_from: "+v, "bind_mount_paths")
		}
	}
	c := engine.ContainerConfig{Privileged: yamlTrue(s.Privileged), NetworkMode: s.NetworkMode, PidMode: s.Pid, IpcMode: s.Ipc,
		UTSMode: s.Uts, UsernsMode: s.UsernsMode, CapAdd: s.CapAdd, DeviceCgroupRules: s.DeviceCgroupRules}
	for _, o := range s.SecurityOpt {
		// Compose takes what docker run takes, and reads seccomp profile
		// files itself: compare in the parser's spelling where it has one.
		n, err := spec.SecurityOpt(o)
		if err != nil {
			n = o
		}
		c.SecurityOpt = append(c.SecurityOpt, n)
	}
	for _, d := range s.Devices {
		c.Devices = append(c.Devices, fmt.Sprint(d))
	}
	for _, v := range s.Volumes {
		var src, target string
		switch v := v.(type) {
		case string:
			var ok bool
			if src, target, ok = strings.Cut(v, ":"); !ok {
				continue // an anonymous volume
			}
		case map[string]any:
			if v["type"] != "bind" {
				continue
			}
			src, target = fmt.Sprint(v["source"]), fmt.Sprint(v["target"])
		default:
			continue
		}
		switch {
		case strings.HasPrefix(src, "~"):
			// Compose reads ~ as the home directory of its user.
			home, err := os.UserHomeDir()
			if err != nil {
				home = "/root"
			}
			src = home + src[1:]
		case strings.HasPrefix(src, "."):
			// Relative to the project: the shipped files are the app's own,
			// but nothing above them, also through symbolic links.
			abs := filepath.Join(base, src)
			if inside(abs, root) {
				resolved, rerr := config.ResolvePath(abs)
				rroot, derr := config.ResolvePath(root)
				if rerr == nil && derr == nil && inside(resolved, rroot) {
					continue
				}
			}
			src = abs
		case !strings.HasPrefix(src, "/"):
			continue // a named volume
		}
		c.Binds = append(c.Binds, src+":"+target)
	}
	return p.Check(n, c)
}

func inside(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// yamlTrue reads a YAML boolean, also one a placeholder gave as a string.
func yamlTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		switch strings.ToLower(v) {
		case "true", "yes", "on", "y", "1":
			return true
		}
	}
	return false
}

// composeLookup gives the values Compose will interpolate, as Install
// runs it: the resolved parameters of the file's ${NAME} placeholders
// (device files, then the artifact's defaults), then the module's
// environment, then the project's .env file.
func (u *Updater) composeLookup(m *spec.Meta, dir string, data []byte) (func(string) (string, bool), error) {
	device, err := u.deviceParams(m.App)
	if err != nil {
		return nil, err
	}
	params := map[string]string{}
	for _, match := range composePlaceholder.FindAllStringSubmatch(string(data), -1) {
		if v, _, ok := device(match[1]); ok {
			params[match[1]] = v
		} else if v, ok := m.Params[match[1]]; ok {
			params[match[1]] = v
		}
	}
	dotenv := map[string]string{}
	if data, err := os.ReadFile(filepath.Join(dir, ".env")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && !strings.HasPrefix(line, "#") {
				dotenv[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	return func(name string) (string, bool) {
		if v, ok := params[name]; ok {
			return v, true
		}
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := dotenv[name]
		return v, ok
	}, nil
}

// interpolateTree puts values into every string of a parsed YAML tree, as
// Compose does after parsing.
func interpolateTree(v any, lookup func(string) (string, bool)) (any, error) {
	switch v := v.(type) {
	case string:
		return interpolate(v, lookup)
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = interpolateTree(e, lookup); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = interpolateTree(e, lookup); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// interpolate expands $NAME, ${NAME} and ${NAME:-default} (with -, :-,
// +, :+, ?, :?) as Compose does; $$ is a literal $.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			out.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			out.WriteByte('$')
			i++
		case c == '{':
			end, depth := -1, 0
			for j := i + 2; j < len(s) && end < 0; j++ {
				switch s[j] {
				case '{':
					depth++
				case '}':
					if depth == 0 {
						end = j
					}
					depth--
				}
			}
			if end < 0 {
				return "", fmt.Errorf("%q: unterminated ${", s)
			}
			v, err := expand(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			i = end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			v, _ := lookup(s[i+1 : j])
			out.WriteString(v)
			i = j - 1
		default:
			out.WriteByte('$')
		}
	}
	return out.String(), nil
}

func expand(expr string, lookup func(string) (string, bool)) (string, error) {
	name, op, arg := expr, "", ""
	if k := strings.IndexAny(expr, ":-+?"); k >= 0 {
		name, op = expr[:k], expr[k:k+1]
		if op == ":" && k+1 < len(expr) {
			op = expr[k : k+2]
		}
		arg = expr[k+len(op):]
	}
	v, set := lookup(name)
	var err error
	switch op {
	case "":
		return v, nil
	case "-", ":-":
		if !set || op == ":-" && v == "" {
			return interpolate(arg, lookup)
		}
	case "+", ":+":
		if set && (op == "+" || v != "") {
			return interpolate(arg, lookup)
		}
		return "", nil
	case "?", ":?":
		if !set || op == ":?" && v == "" {
			err = fmt.Errorf("${%s} is required", name)
		}
	default:
		err = fmt.Errorf("${%s}: not an interpolation Compose knows", expr)
	}
	return v, err
}

// checkImages applies the device's allowed_registries to every image the
// artifact names.
func (u *Updater) checkImages(m *spec.Meta) error {
	p := u.Config.Policy
	for _, s := range m.Services {
		if err := p.CheckImage(s.Image); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	if m.Compose != nil {
		for i, img := range m.Compose.Images {
			if err := p.CheckImage(img); err != nil {
				return fmt.Errorf("compose.images[%d]: %w", i, err)
			}
		}
	}
	return nil
}

// checkProjectPaths refuses journalled project paths that are not where
// Download puts them, <state_dir>/<app>/projects/<id>, and files that are
// not inside their project: later states delete those directories, so a
// damaged or planted journal must not lead them anywhere else, also
// through symbolic links.
func (u *Updater) checkProjectPaths(app string, dirs, files []string) error {
	projects := filepath.Join(u.Config.StateDir, app, "projects")
	bad := func(what, path string) error {
		return fmt.Errorf("journal of app %s: %w: %s %q is not in %s; check the app by hand, then delete %s to start over",
			app, journal.ErrCorrupt, what, path, projects, filepath.Join(u.Config.StateDir, app))
	}
	state, err := config.ResolvePath(filepath.Clean(u.Config.StateDir))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		base := filepath.Base(d)
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || filepath.Dir(d) != projects || base == ".." || base == "." {
			return bad("project directory", d)
		}
		resolved, err := config.ResolvePath(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if !strings.HasPrefix(resolved, state+"/") {
			return bad("project directory", d)
		}
	}
	for _, f := range files {
		if f != "" && !filepath.IsLocal(f) {
			return bad("compose file", f)
		}
	}
	return nil
}
