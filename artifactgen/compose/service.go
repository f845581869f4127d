package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mender-docker/mender-docker/module/spec"
)

// supported are the service keys compiled into the service graph.
var supported = []string{
	"image", "command", "entrypoint", "environment", "env_file", "labels", "label_file",
	"ports", "restart", "container_name", "hostname", "user", "working_dir",
	"privileged", "read_only", "init", "tty", "stdin_open", "cap_add", "cap_drop",
	"devices", "device_cgroup_rules", "security_opt", "sysctls", "group_add", "tmpfs",
	"shm_size", "mem_limit", "cpus", "mem_reservation", "memswap_limit", "cpu_shares",
	"cpu_period", "cpu_quota", "cpuset", "pids_limit", "oom_score_adj", "oom_kill_disable",
	"blkio_config", "ulimits", "links", "dns", "dns_search", "dns_opt", "domainname", "extra_hosts", "stop_signal",
	"stop_grace_period", "mac_address", "pid", "ipc", "uts", "userns_mode", "network_mode", "networks",
	"volumes", "configs", "secrets", "depends_on", "healthcheck", "logging",
	"log_driver", "log_opt", "scale", "deploy",
}

// ignored are service keys that change nothing on the device, and why.
// Here and in refused the reasons name the library's fields, never the
// command's flags: artifactgen/cli says them as flags.
var ignored = map[string]string{
	"profiles":           "applied when the project is loaded (Options.Profiles)",
	"extends":            "applied when the project is loaded",
	"attach":             "only docker compose up's log output",
	"pull_policy":        "images are pinned by digest and pulled in Download",
	"pull_refresh_after": "images are pinned by digest and pulled in Download",
	"expose":             "informational: containers on a network reach each other's ports",
}

// refused are service keys the device cannot honour, and why; any other
// key is refused as not supported.
var refused = map[string]string{
	"build":           "build and push first: devices do not build images",
	"dockerfile":      "build and push first: devices do not build images",
	"develop":         "development only (docker compose watch)",
	"external_links":  "links to containers outside the project; put them in the project, or join them on a network",
	"storage_opt":     "storage options depend on the device's storage driver (a size needs overlay2 on xfs with pquota)",
	"mem_swappiness":  "ignored by cgroup v2 kernels; give memswap_limit",
	"cpu_rt_period":   "real-time scheduling needs a kernel and engine set up for it",
	"cpu_rt_runtime":  "real-time scheduling needs a kernel and engine set up for it",
	"cpu_count":       "Windows only; give cpus",
	"cpu_percent":     "Windows only; give cpus",
	"volumes_from":    "containers are replaced on every update",
	"net":             "use network_mode",
	"cgroup":          "the cgroup namespace cannot be chosen",
	"cgroup_parent":   "the cgroup parent cannot be chosen",
	"use_api_socket":  "would hand the Docker engine (root on the device) to the container",
	"platform":        "pin the platform's image with Resolver.Platform",
	"runtime":         "the runtime cannot be chosen",
	"isolation":       "Windows only",
	"gpus":            "no GPU requests",
	"provider":        "provider services run no container",
	"models":          "no models",
	"pre_start":       "no lifecycle hooks",
	"post_start":      "no lifecycle hooks",
	"pre_stop":        "no lifecycle hooks",
	"volume_driver":   "named volumes use the local driver",
	"annotations":     "OCI annotations are not passed; give labels",
	"credential_spec": "Windows only",
}

// service compiles one service.
func (c *compiler) service(s types.ServiceConfig) (spec.ServiceDoc, error) {
	where := "service " + s.Name
	doc := spec.ServiceDoc{Name: s.Name}
	present := fields(&s)
	for _, key := range slices.Sorted(maps.Keys(present)) {
		switch {
		case key == "name": // the service's key, set by the loader
			continue
		case slices.Contains(supported, key):
		case ignored[key] != "":
		case key == "build" && s.Image == "":
			return doc, fmt.Errorf("%s: build: build and push first (devices do not build images), then give image", where)
		case refused[key] != "":
			return doc, fmt.Errorf("%s: %s: %w: %s", where, key, ErrUnsupported, refused[key])
		default:
			return doc, fmt.Errorf("%s: %s: %w", where, key, ErrUnsupported)
		}
		if err := paramsIn(where, key, present[key]); err != nil {
			return doc, err
		}
	}
	if s.Image == "" {
		return doc, fmt.Errorf("%s: image: missing (devices do not build images)", where)
	}
	doc.Image = s.Image
	a := &args{}
	if err := c.container(where, s, a); err != nil {
		return doc, err
	}
	if s.Command != nil {
		if len(s.Command) == 0 {
			return doc, fmt.Errorf("%s: command: %w: an empty command (clearing the image's) cannot be expressed", where, ErrUnsupported)
		}
		doc.Command = deviceWords(slices.Clone([]string(s.Command)))
	}
	if s.Entrypoint != nil {
		doc.Entrypoint = deviceWords(slices.Clone([]string(s.Entrypoint)))
		if len(s.Entrypoint) == 0 {
			doc.Entrypoint = []string{""}
		}
	}
	var err error
	if doc.Healthcheck, err = healthcheck(where, s.HealthCheck); err != nil {
		return doc, err
	}
	if doc.Networks, err = networks(where, s, a); err != nil {
		return doc, err
	}
	if doc.Addresses, err = addresses(where, s); err != nil {
		return doc, err
	}
	if err := c.mounts(where, s, a, &doc); err != nil {
		return doc, err
	}
	if doc.DependsOn, err = c.dependsOn(where, s); err != nil {
		return doc, err
	}
	if doc.Update, err = update(where, s); err != nil {
		return doc, err
	}
	doc.RunArgs = a.String()
	return doc, nil
}

// paramsIn refuses a placeholder in key, except in the values that the
// device substitutes: environment and label values, command, entrypoint,
// published ports and the health check's test.
func paramsIn(where, key string, v reflect.Value) error {
	check := func(x any) error {
		if p := scan(reflect.ValueOf(x)); p != "" {
			return paramError(where, key, p)
		}
		return nil
	}
	switch key {
	case "command", "entrypoint":
		return nil
	case "environment", "labels":
		var keys []string
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		return check(keys)
	case "ports":
		for _, p := range v.Interface().([]types.ServicePortConfig) {
			p.Published = ""
			if err := check(p); err != nil {
				return err
			}
		}
		return nil
	case "healthcheck":
		hc := *v.Interface().(*types.HealthCheckConfig)
		hc.Test = nil
		return check(hc)
	}
	return check(v.Interface())
}

// args builds run_args: each word quoted so that spec.SplitWords gives it
// back exactly.
type args struct{ words []string }

func (a *args) flag(name string, values ...string) {
	for _, v := range values {
		a.words = append(a.words, name, v)
	}
}

func (a *args) bool(name string, on bool) {
	if on {
		a.words = append(a.words, name)
	}
}

func (a *args) String() string {
	q := make([]string, len(a.words))
	for i, w := range a.words {
		q[i] = quote(deviceWord(w))
	}
	return strings.Join(q, " ")
}

// quote leaves plain words as they are and single-quotes the rest.
func quote(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// container maps what docker run flags express.
func (c *compiler) container(where string, s types.ServiceConfig, a *args) error {
	if s.Scale != nil && *s.Scale != 1 {
		return fmt.Errorf("%s: scale: %w: one container per service", where, ErrUnsupported)
	}
	a.flag("--name", nonEmpty(s.ContainerName)...)
	a.flag("--hostname", nonEmpty(s.Hostname)...)
	mac, err := macAddress(where, s)
	if err != nil {
		return err
	}
	a.flag("--mac-address", nonEmpty(mac)...)
	a.flag("--user", nonEmpty(s.User)...)
	a.flag("--workdir", nonEmpty(s.WorkingDir)...)
	a.bool("--privileged", s.Privileged)
	a.bool("--read-only", s.ReadOnly)
	a.bool("--init", s.Init != nil && *s.Init)
	a.bool("--tty", s.Tty)
	a.bool("--interactive", s.StdinOpen)
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if v := s.Environment[k]; v != nil {
			a.flag("--env", k+"="+*v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		a.flag("--label", k+"="+s.Labels[k])
	}
	for _, p := range s.Ports {
		if err := extra(where+": ports", p, "target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"); err != nil {
			return err
		}
		spec := strconv.FormatUint(uint64(p.Target), 10)
		if p.Published != "" {
			spec = p.Published + ":" + spec
		}
		if p.HostIP != "" {
			ip := p.HostIP
			if strings.Contains(ip, ":") {
				ip = "[" + ip + "]"
			}
			if p.Published == "" {
				spec = ":" + spec
			}
			spec = ip + ":" + spec
		}
		if p.Protocol != "" {
			spec += "/" + p.Protocol
		}
		a.flag("--publish", spec)
	}
	a.flag("--cap-add", s.CapAdd...)
	a.flag("--cap-drop", s.CapDrop...)
	for _, d := range s.Devices {
		v := d.Source
		if d.Target != "" || d.Permissions != "" {
			v += ":" + d.Target
		}
		if d.Permissions != "" {
			v += ":" + d.Permissions
		}
		a.flag("--device", v)
	}
	a.flag("--device-cgroup-rule", s.DeviceCgroupRules...)
	a.flag("--security-opt", s.SecurityOpt...)
	for _, k := range slices.Sorted(maps.Keys(s.Sysctls)) {
		a.flag("--sysctl", k+"="+s.Sysctls[k])
	}
	a.flag("--group-add", s.GroupAdd...)
	a.flag("--tmpfs", s.Tmpfs...)
	if err := c.resources(where, s, a); err != nil {
		return err
	}
	a.flag("--dns", s.DNS...)
	a.flag("--dns-search", s.DNSSearch...)
	a.flag("--dns-option", s.DNSOpts...)
	a.flag("--domainname", nonEmpty(s.DomainName)...)
	for _, h := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[h] {
			a.flag("--add-host", h+"="+ip)
		}
	}
	a.flag("--stop-signal", nonEmpty(s.StopSignal)...)
	if s.StopGracePeriod != nil {
		a.flag("--stop-timeout", strconv.Itoa(int(math.Ceil(time.Duration(*s.StopGracePeriod).Seconds()))))
	}
	for _, ns := range []struct{ key, flag, v string }{
		{"pid", "--pid", s.Pid}, {"ipc", "--ipc", s.Ipc}, {"uts", "--uts", s.Uts}, {"userns_mode", "--userns", s.UserNSMode},
	} {
		if strings.HasPrefix(ns.v, types.ServicePrefix) {
			return fmt.Errorf("%s: %s: %s: %w: joining another service's namespace", where, ns.key, ns.v, ErrUnsupported)
		}
		a.flag(ns.flag, nonEmpty(ns.v)...)
	}
	logDriver, logOpts := s.LogDriver, map[string]string(s.LogOpt)
	if s.Logging != nil {
		if err := extra(where+": logging", s.Logging, "driver", "options"); err != nil {
			return err
		}
		if s.Logging.Driver != "" {
			logDriver = s.Logging.Driver
		}
		if len(s.Logging.Options) > 0 {
			logOpts = s.Logging.Options
		}
	}
	a.flag("--log-driver", nonEmpty(logDriver)...)
	for _, k := range slices.Sorted(maps.Keys(logOpts)) {
		a.flag("--log-opt", k+"="+logOpts[k])
	}
	return nil
}

// resources maps the resource keys, and deploy as docker compose up reads
// it: resources.limits (cpus, memory, pids), resources.reservations.memory
// and restart_policy; the rest of deploy is swarm's and is ignored with a
// warning, as docker compose does, but replicas other than 1.
func (c *compiler) resources(where string, s types.ServiceConfig, a *args) error {
	mem, cpus, pids, reserve := int64(s.MemLimit), s.CPUS, s.PidsLimit, int64(s.MemReservation)
	restart := s.Restart
	if d := s.Deploy; d != nil {
		if r := d.Replicas; r != nil && *r != 1 {
			return fmt.Errorf("%s: deploy: replicas: %d: %w: one container per service (the device runs no swarm to balance copies); give replicas: 1 or leave it out", where, *r, ErrUnsupported)
		}
		if d.Mode != "" && d.Mode != "replicated" {
			return fmt.Errorf("%s: deploy: mode: %s: %w: one container per service; leave it out", where, d.Mode, ErrUnsupported)
		}
		for _, k := range slices.Sorted(maps.Keys(fields(d))) {
			switch k {
			case "replicas", "mode", "resources", "restart_policy":
			default:
				c.warn("%s: deploy.%s is swarm's and ignored, as docker compose up ignores it", where, k)
			}
		}
		if err := extra(where+": deploy.resources", d.Resources, "limits", "reservations"); err != nil {
			return err
		}
		if l := d.Resources.Limits; l != nil {
			if err := extra(where+": deploy.resources.limits", l, "cpus", "memory", "pids"); err != nil {
				return err
			}
			// docker compose up: the service's own keys win.
			if mem == 0 {
				mem = int64(l.MemoryBytes)
			}
			if cpus == 0 {
				cpus = float32(l.NanoCPUs)
			}
			if pids == 0 {
				pids = l.Pids
			}
		}
		if r := d.Resources.Reservations; r != nil {
			if len(r.Devices) > 0 || len(r.GenericResources) > 0 {
				return fmt.Errorf("%s: deploy.resources.reservations: devices, generic_resources: %w: no GPU or generic resource requests; give devices for device files", where, ErrUnsupported)
			}
			if r.NanoCPUs != 0 || r.Pids != 0 {
				c.warn("%s: deploy.resources.reservations cpus and pids are ignored, as docker compose up ignores them", where)
			}
			if reserve == 0 {
				reserve = int64(r.MemoryBytes)
			}
		}
		if p := d.RestartPolicy; p != nil {
			var err error
			if restart, err = restartPolicy(where, p, restart); err != nil {
				return err
			}
			if p.Delay != nil || p.Window != nil {
				c.warn("%s: deploy.restart_policy delay and window are swarm's and ignored, as docker compose up ignores them", where)
			}
		}
	}
	// What the engine refuses together, said in Compose's keys.
	if cpus != 0 && (s.CPUPeriod != 0 || s.CPUQuota != 0) {
		return fmt.Errorf("%s: cpus with cpu_period or cpu_quota: the engine takes one or the other; give cpus, or cpu_quota with cpu_period", where)
	}
	if s.MemSwapLimit > 0 && mem == 0 {
		return fmt.Errorf("%s: memswap_limit without mem_limit (or deploy.resources.limits.memory): the engine needs the memory limit with it", where)
	}
	a.flag("--restart", nonEmpty(restart)...)
	if s.ShmSize != 0 {
		a.flag("--shm-size", strconv.FormatInt(int64(s.ShmSize), 10))
	}
	if mem != 0 {
		a.flag("--memory", strconv.FormatInt(mem, 10))
	}
	if reserve != 0 {
		a.flag("--memory-reservation", strconv.FormatInt(reserve, 10))
	}
	if s.MemSwapLimit != 0 {
		a.flag("--memory-swap", strconv.FormatInt(int64(s.MemSwapLimit), 10))
	}
	if cpus != 0 {
		a.flag("--cpus", strconv.FormatFloat(float64(cpus), 'f', -1, 32))
	}
	for _, r := range []struct {
		flag string
		v    int64
	}{{"--cpu-shares", s.CPUShares}, {"--cpu-period", s.CPUPeriod}, {"--cpu-quota", s.CPUQuota}, {"--pids-limit", pids}, {"--oom-score-adj", s.OomScoreAdj}} {
		if r.v != 0 {
			a.flag(r.flag, strconv.FormatInt(r.v, 10))
		}
	}
	a.flag("--cpuset-cpus", nonEmpty(s.CPUSet)...)
	a.bool("--oom-kill-disable", s.OomKillDisable)
	if b := s.BlkioConfig; b != nil {
		if err := extra(where+": blkio_config", b, "weight"); err != nil {
			return fmt.Errorf("%w (only weight: per-device limits name the device's disks)", err)
		}
		if b.Weight != 0 {
			a.flag("--blkio-weight", strconv.FormatUint(uint64(b.Weight), 10))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Ulimits)) {
		u := s.Ulimits[name]
		soft, hard := u.Soft, u.Hard
		if u.Single != 0 {
			soft, hard = u.Single, u.Single
		}
		a.flag("--ulimit", fmt.Sprintf("%s=%d:%d", name, soft, hard))
	}
	return nil
}

// restartPolicy is deploy.restart_policy as docker compose up maps it
// (without a condition: restart's value).
func restartPolicy(where string, p *types.RestartPolicy, restart string) (string, error) {
	var name string
	switch p.Condition {
	case "none":
		name = "no"
	case "on-failure":
		name = "on-failure"
		if p.MaxAttempts != nil && *p.MaxAttempts > 0 {
			name += ":" + strconv.FormatUint(*p.MaxAttempts, 10)
		}
	case "any", "always":
		name = "always"
	case "":
		name = restart
	case "unless-stopped":
		name = "unless-stopped"
	default:
		return "", fmt.Errorf("%s: deploy.restart_policy.condition: %q: want none, on-failure or any", where, p.Condition)
	}
	return name, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func healthcheck(where string, h *types.HealthCheckConfig) (*spec.HealthcheckDoc, error) {
	if h == nil {
		return nil, nil
	}
	if err := extra(where+": healthcheck", h, "test", "interval", "timeout", "start_period", "retries", "disable"); err != nil {
		return nil, err
	}
	if h.Disable {
		return &spec.HealthcheckDoc{Test: []string{"NONE"}}, nil
	}
	if len(h.Test) == 0 {
		return nil, fmt.Errorf("%s: healthcheck: give test (durations alone, on top of the image's HEALTHCHECK, cannot be expressed)", where)
	}
	d := &spec.HealthcheckDoc{Test: deviceWords(slices.Clone([]string(h.Test)))}
	dur := func(p *types.Duration) string {
		if p == nil {
			return ""
		}
		return time.Duration(*p).String()
	}
	d.Interval, d.Timeout, d.StartPeriod = dur(h.Interval), dur(h.Timeout), dur(h.StartPeriod)
	if h.Retries != nil {
		d.Retries = int(*h.Retries)
	}
	return d, nil
}

// networks: the service's networks with its aliases, the service's name
// first (Compose's own alias), or network_mode.
func networks(where string, s types.ServiceConfig, a *args) (map[string][]string, error) {
	if s.NetworkMode != "" {
		if strings.HasPrefix(s.NetworkMode, types.ServicePrefix) || strings.HasPrefix(s.NetworkMode, types.ContainerPrefix) {
			return nil, fmt.Errorf("%s: network_mode: %s: %w: joining another container's network", where, s.NetworkMode, ErrUnsupported)
		}
		a.flag("--network", s.NetworkMode)
		return nil, nil
	}
	if len(s.Networks) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		aliases := []string{}
		cfg := s.Networks[n]
		if cfg == nil || cfg.UseServiceNameAlias == nil || *cfg.UseServiceNameAlias {
			aliases = append(aliases, s.Name)
		}
		if cfg != nil {
			if err := extra(where+": networks."+n, cfg, "aliases", "use_service_name_alias", "ipv4_address", "ipv6_address", "mac_address"); err != nil {
				return nil, fmt.Errorf("%w: leave it out (a service's network takes aliases, ipv4_address, ipv6_address and mac_address; the container joins its networks in name order, the first one as its primary)", err)
			}
			for _, al := range cfg.Aliases {
				if !slices.Contains(aliases, al) {
					aliases = append(aliases, al)
				}
			}
		}
		out[n] = aliases
	}
	return out, nil
}

// mounts: volumes, configs and secrets.
func (c *compiler) mounts(where string, s types.ServiceConfig, a *args, doc *spec.ServiceDoc) error {
	addFile := func(key, target, name string) error {
		_, dupT := doc.Templates[target]
		if _, dup := doc.Files[target]; dup || dupT {
			return fmt.Errorf("%s: %s: %s is mounted twice", where, key, target)
		}
		if c.isTemplate(name) {
			if err := c.checkTemplate(name); err != nil {
				return fmt.Errorf("%s: %s: %w", where, key, err)
			}
			if doc.Templates == nil {
				doc.Templates = map[string]string{}
			}
			doc.Templates[target] = name
			return nil
		}
		if doc.Files == nil {
			doc.Files = map[string]string{}
		}
		doc.Files[target] = name
		return nil
	}
	// The other mounts, for the mount points they need inside a shipped
	// project directory.
	var mountPoints []mountPoint
	for _, t := range s.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		mountPoints = append(mountPoints, mountPoint{target, true})
	}
	for _, v := range s.Volumes {
		key := "volumes: " + v.Target
		ro := ""
		if v.ReadOnly {
			ro = ":ro"
		}
		switch v.Type {
		case types.VolumeTypeVolume:
			if err := extra(where+": "+key, v, "type", "source", "target", "read_only", "consistency", "volume"); err != nil {
				return err
			}
			if v.Volume != nil && !reflect.ValueOf(*v.Volume).IsZero() {
				return fmt.Errorf("%s: %s: volume options (nocopy, subpath): %w", where, key, ErrUnsupported)
			}
			if v.Source == "" {
				a.flag("--volume", v.Target+ro)
			} else {
				a.flag("--volume", v.Source+":"+v.Target+ro)
			}
			mountPoints = append(mountPoints, mountPoint{v.Target, true})
		case types.VolumeTypeBind:
			if v.Bind != nil && (v.Bind.Propagation != "" || v.Bind.Recursive != "") {
				return fmt.Errorf("%s: %s: bind options (propagation, recursive): %w", where, key, ErrUnsupported)
			}
			if err := extra(where+": "+key, v, "type", "source", "target", "read_only", "consistency", "bind"); err != nil {
				return err
			}
			selinux := ""
			if v.Bind != nil {
				selinux = v.Bind.SELinux
			}
			src := v.Source
			if strings.HasPrefix(src, "~") {
				return fmt.Errorf("%s: %s: %s: a home directory means nothing on the device; give an absolute path, or a named volume for data", where, key, src)
			}
			if !filepath.IsAbs(src) {
				abs, err := inside(c.dir, src)
				if err != nil {
					return fmt.Errorf("%s: %s: %s: %w (only files inside it are shipped; give an absolute path for a host path)", where, key, src, err)
				}
				src = abs
			}
			if within(c.dir, filepath.Clean(src)) {
				if err := projectBind(where, key, v, src, selinux); err != nil {
					return err
				}
				name, err := c.files.addProject(filepath.Clean(src))
				if err != nil {
					return fmt.Errorf("%s: %s: %w", where, key, err)
				}
				if err := addFile(key, path.Clean(v.Target), name); err != nil {
					return err
				}
				continue
			}
			opts := slices.DeleteFunc([]string{strings.TrimPrefix(ro, ":"), selinux}, func(o string) bool { return o == "" })
			if len(opts) > 0 {
				a.flag("--volume", src+":"+v.Target+":"+strings.Join(opts, ","))
			} else {
				a.flag("--volume", src+":"+v.Target)
			}
			mountPoints = append(mountPoints, mountPoint{v.Target, !isFile(src)})
		case types.VolumeTypeTmpfs:
			if err := extra(where+": "+key, v, "type", "target", "tmpfs", "source"); err != nil {
				return err
			}
			t := v.Target
			var opts []string
			if v.Tmpfs != nil {
				if v.Tmpfs.Size != 0 {
					opts = append(opts, "size="+strconv.FormatInt(int64(v.Tmpfs.Size), 10))
				}
				if v.Tmpfs.Mode != 0 {
					opts = append(opts, "mode="+strconv.FormatUint(uint64(v.Tmpfs.Mode), 8))
				}
			}
			if len(opts) > 0 {
				t += ":" + strings.Join(opts, ",")
			}
			a.flag("--tmpfs", t)
			mountPoints = append(mountPoints, mountPoint{v.Target, true})
		default:
			return fmt.Errorf("%s: %s: type %s: %w", where, key, v.Type, ErrUnsupported)
		}
	}
	for _, ref := range s.Configs {
		name, target, err := c.fileObject(where, "configs", types.FileReferenceConfig(ref), "/")
		if err != nil {
			return err
		}
		if err := addFile("configs", target, name); err != nil {
			return err
		}
	}
	for _, ref := range s.Secrets {
		name, target, err := c.fileObject(where, "secrets", types.FileReferenceConfig(ref), "/run/secrets/")
		if err != nil {
			return err
		}
		if err := addFile("secrets", target, name); err != nil {
			return err
		}
	}
	// A template is a file mounted like the others.
	mounted := maps.Clone(doc.Files)
	for t, n := range doc.Templates {
		if mounted == nil {
			mounted = map[string]string{}
		}
		mounted[t] = n
	}
	return c.nestedMountPoints(mounted, mountPoints)
}

// mountPoint is a mount's target in the container, and whether it is a
// directory.
type mountPoint struct {
	target string
	dir    bool
}

// nestedMountPoints adds to a shipped project directory the mount points
// of the mounts inside it (./frontend:/usr/src/app with an anonymous
// volume at /usr/src/app/node_modules, as docker compose runs it): the
// device mounts the directory read-only, where the engine could not make
// them.
func (c *compiler) nestedMountPoints(files map[string]string, others []mountPoint) error {
	for target, name := range files {
		if !c.files.isDir(name) {
			continue
		}
		for f, n := range files {
			if f != target {
				others = append(others, mountPoint{f, c.files.isDir(n)})
			}
		}
		for _, m := range others {
			rel, ok := strings.CutPrefix(path.Clean(m.target), target+"/")
			if !ok || target == "/" {
				continue
			}
			c.files.addMountPoint(path.Join(name, rel), m.dir)
		}
	}
	return nil
}

// projectBind refuses a bind of a project file (src) that the read-only
// copy the device mounts cannot stand for.
func projectBind(where, key string, v types.ServiceVolumeConfig, src, selinux string) error {
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %s: %s does not exist in the project (docker compose would create an empty directory, the device ships only what exists): for data, use a named volume (NAME:%s and a top-level volumes: NAME:)", where, key, v.Source, v.Target)
	}
	if !v.ReadOnly {
		return fmt.Errorf("%s: %s: %s: %w: project files are shipped and mounted as a read-only copy; add :ro (read_only: true) if the service only reads them, or use a named volume for what it writes", where, key, v.Source, ErrWritableBind)
	}
	if selinux != "" {
		return fmt.Errorf("%s: %s: :%s: %w on a project file (the device mounts its own copy); drop it, or bind an absolute host path", where, key, selinux, ErrUnsupported)
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// fileObject puts a config or secret in the files archive and returns its
// path there and its target in the container.
func (c *compiler) fileObject(where, kind string, ref types.FileReferenceConfig, base string) (string, string, error) {
	key := kind + ": " + ref.Source
	if err := extra(where+": "+key, ref, "source", "target"); err != nil {
		return "", "", fmt.Errorf("%w (files are mounted read-only as the archive holds them: mode 0644, owner root)", err)
	}
	var obj types.FileObjectConfig
	var ok bool
	if kind == "configs" {
		var o types.ConfigObjConfig
		o, ok = c.project.Configs[ref.Source]
		obj = types.FileObjectConfig(o)
	} else {
		var o types.SecretConfig
		o, ok = c.project.Secrets[ref.Source]
		obj = types.FileObjectConfig(o)
	}
	if !ok {
		return "", "", fmt.Errorf("%s: %s: not in the top-level %s", where, key, kind)
	}
	if p := scan(reflect.ValueOf(obj)); p != "" {
		return "", "", paramError(where, key, p)
	}
	if bool(obj.External) {
		return "", "", fmt.Errorf("%s: %s: external: %w: the device has no %s store", where, key, ErrUnsupported, kind)
	}
	if err := extra(where+": "+key, obj, "name", "file", "content", "environment", "labels"); err != nil {
		return "", "", err
	}
	target := ref.Target
	if target == "" {
		target = ref.Source
	}
	if !path.IsAbs(target) {
		target = base + target
	}
	target = path.Clean(target)
	switch {
	case obj.File != "":
		abs, err := inside(c.dir, obj.File)
		if err != nil {
			return "", "", fmt.Errorf("%s: %s: file %s: %w", where, key, obj.File, err)
		}
		name, err := c.files.addProject(abs)
		if err != nil {
			return "", "", fmt.Errorf("%s: %s: %w", where, key, err)
		}
		return name, target, nil
	case obj.Environment != "":
		v, ok := c.project.Environment[obj.Environment]
		if !ok {
			return "", "", fmt.Errorf("%s: %s: environment variable %s is not set", where, key, obj.Environment)
		}
		return c.files.addContent(kind, ref.Source, []byte(v)), target, nil
	default:
		return c.files.addContent(kind, ref.Source, []byte(obj.Content)), target, nil
	}
}

func (c *compiler) dependsOn(where string, s types.ServiceConfig) (map[string]string, error) {
	if len(s.DependsOn) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[dep]
		if _, ok := c.project.Services[dep]; !ok {
			if !d.Required {
				continue
			}
			return nil, fmt.Errorf("%s: depends_on: %s is not a service of the project (with the profiles enabled)", where, dep)
		}
		cond := d.Condition
		if cond == "" {
			cond = spec.ServiceStarted
		}
		out[dep] = cond
	}
	return out, nil
}

func update(where string, s types.ServiceConfig) (string, error) {
	x, ok := s.Extensions[UpdateExtension]
	if !ok {
		return "", nil
	}
	v, _ := x.(string)
	switch spec.Strategy(v) {
	case spec.Recreate:
	case spec.HandOver:
		for _, p := range s.Ports {
			if p.Published != "" {
				return "", fmt.Errorf("%s: %s: hand-over starts a second copy beside the first, and host port %s (ports) can be published by only one: two copies cannot coexist", where, UpdateExtension, p.Published)
			}
		}
		if s.ContainerName != "" {
			return "", fmt.Errorf("%s: %s: hand-over starts a second copy beside the first, and container_name %s is one fixed name: two copies cannot coexist", where, UpdateExtension, s.ContainerName)
		}
	default:
		return "", fmt.Errorf("%s: %s: %v: want recreate or hand-over", where, UpdateExtension, x)
	}
	return v, nil
}

// links gives each link's alias (links: [db:database]) to the linked
// service on the networks it shares with the linking one; the loader made
// the link a dependency already. Unlike a legacy link, the alias is seen
// by every container on those networks.
func links(p *types.Project, docs []spec.ServiceDoc) error {
	byName := map[string]*spec.ServiceDoc{}
	for i := range docs {
		byName[docs[i].Name] = &docs[i]
	}
	for _, name := range p.ServiceNames() {
		from := byName[name]
		for _, l := range p.Services[name].Links {
			target, alias, _ := strings.Cut(l, ":")
			to, ok := byName[target]
			if !ok {
				return fmt.Errorf("service %s: links: %s is not a service of the project (with the profiles enabled)", name, target)
			}
			if alias == "" || alias == target {
				continue
			}
			shared := false
			for n := range from.Networks {
				if aliases, ok := to.Networks[n]; ok {
					shared = true
					if !slices.Contains(aliases, alias) {
						to.Networks[n] = append(aliases, alias)
					}
				}
			}
			if !shared {
				return fmt.Errorf("service %s: links: %s: %s and %s share no network (network_mode?); put both on one, and give %s the alias %s there", name, l, name, target, target, alias)
			}
		}
	}
	return nil
}
