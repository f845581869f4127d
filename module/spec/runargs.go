package spec

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
)

// ReservedLabelPrefix marks the labels the module sets itself; run
// arguments may not set them.
const ReservedLabelPrefix = "io.mender.docker."

// SplitWords splits s into words the way a POSIX shell would for a simple
// command, without any expansion: blanks separate words, single quotes keep
// everything literal, double quotes keep blanks and honour \" \\ \$ \`, and
// a backslash outside quotes escapes the next character. The shell module
// left run_args unquoted, so plain words split the same way there and here.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

type flagDef struct {
	names []string // long name first, then the short one if any
	// apply is called with the flag's value; boolean flags get "true"
	// unless given as --flag=false.
	apply  func(c *engine.ContainerConfig, v string) error
	isBool bool
}

// unsupported flags with the reason we give; every other unknown flag gets a
// generic message.
var refused = map[string]string{
	"--rm":           "the module keeps the previous container for rollback",
	"--env-file":     "put the variables in run_args with -e, or use services",
	"--mount":        "use -v/--volume or --tmpfs",
	"--cidfile":      "not meaningful for managed containers",
	"--volumes-from": "containers are replaced on every update",
	"--link":         "legacy links are not supported; use a network",
	"--pull":         "images are always pulled by digest in Download",
	"-a":             "containers run detached",
	"--attach":       "containers run detached",
}

var flagDefs = []flagDef{
	{names: []string{"--detach", "-d"}, isBool: true, apply: func(c *engine.ContainerConfig, v string) error { return nil }},
	{names: []string{"--tty", "-t"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.Tty = b })},
	{names: []string{"--interactive", "-i"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.OpenStdin = b })},
	{names: []string{"--privileged"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.Privileged = b })},
	{names: []string{"--read-only"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.ReadOnly = b })},
	{names: []string{"--init"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.Init = b })},
	{names: []string{"--publish-all", "-P"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.PublishAll = b })},
	{names: []string{"--no-healthcheck"}, isBool: true, apply: func(c *engine.ContainerConfig, v string) error {
		if v == "true" {
			c.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}}
		}
		return nil
	}},
	{names: []string{"--env", "-e"}, apply: func(c *engine.ContainerConfig, v string) error {
		if strings.HasPrefix(v, "=") || v == "" {
			return fmt.Errorf("invalid variable %q", v)
		}
		c.Env = append(c.Env, v)
		return nil
	}},
	{names: []string{"--publish", "-p"}, apply: func(c *engine.ContainerConfig, v string) error {
		p, err := parsePublish(v)
		c.Ports = append(c.Ports, p...)
		return err
	}},
	{names: []string{"--volume", "-v"}, apply: func(c *engine.ContainerConfig, v string) error {
		if err := checkVolume(v); err != nil {
			return err
		}
		c.Binds = append(c.Binds, v)
		return nil
	}},
	{names: []string{"--tmpfs"}, apply: func(c *engine.ContainerConfig, v string) error {
		dst, opts, _ := strings.Cut(v, ":")
		if !strings.HasPrefix(dst, "/") {
			return fmt.Errorf("%q: path must be absolute", v)
		}
		if c.Tmpfs == nil {
			c.Tmpfs = map[string]string{}
		}
		c.Tmpfs[dst] = opts
		return nil
	}},
	{names: []string{"--restart"}, apply: func(c *engine.ContainerConfig, v string) error {
		name, n, hasN := strings.Cut(v, ":")
		switch name {
		case "no", "always", "unless-stopped":
			if hasN {
				return fmt.Errorf("%q: only on-failure takes a retry count", v)
			}
		case "on-failure":
			if hasN {
				k, err := strconv.Atoi(n)
				if err != nil || k < 0 {
					return fmt.Errorf("%q: bad retry count", v)
				}
				c.RestartRetries = k
			}
		default:
			return fmt.Errorf("%q: want no, always, unless-stopped or on-failure[:N]", v)
		}
		c.RestartPolicy = name
		return nil
	}},
	{names: []string{"--name"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !containerNameRE.MatchString(v) {
			return fmt.Errorf("%q: not a valid container name", v)
		}
		c.Name = v
		return nil
	}},
	{names: []string{"--network", "--net"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v == "" || strings.HasPrefix(v, "container:") {
			return fmt.Errorf("%q: not supported", v)
		}
		c.NetworkMode = v
		return nil
	}},
	{names: []string{"--label", "-l"}, apply: func(c *engine.ContainerConfig, v string) error {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return fmt.Errorf("%q: empty label key", v)
		}
		if strings.HasPrefix(k, ReservedLabelPrefix) {
			return fmt.Errorf("%q: labels %s* are the module's own", v, ReservedLabelPrefix)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = val
		return nil
	}},
	{names: []string{"--log-driver"}, apply: func(c *engine.ContainerConfig, v string) error { c.LogDriver = v; return nil }},
	{names: []string{"--log-opt"}, apply: func(c *engine.ContainerConfig, v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want key=value", v)
		}
		if c.LogOpts == nil {
			c.LogOpts = map[string]string{}
		}
		c.LogOpts[k] = val
		return nil
	}},
	{names: []string{"--memory", "-m"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		if c.Memory, err = parseBytes(v); err == nil && c.Memory < minMemory {
			err = fmt.Errorf("%q: the engine's minimum is 6m", v)
		}
		return err
	}},
	{names: []string{"--shm-size"}, apply: func(c *engine.ContainerConfig, v string) (err error) { c.ShmSize, err = parseBytes(v); return }},
	{names: []string{"--cpus"}, apply: func(c *engine.ContainerConfig, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1024 {
			return fmt.Errorf("%q: want a positive number of CPUs", v)
		}
		c.NanoCPUs = int64(f * 1e9)
		return nil
	}},
	{names: []string{"--memory-reservation"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		c.MemoryReservation, err = parseBytes(v)
		return err
	}},
	{names: []string{"--memory-swap"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		if v == "-1" {
			c.MemorySwap = -1
			return nil
		}
		c.MemorySwap, err = parseBytes(v)
		return err
	}},
	{names: []string{"--cpu-shares", "-c"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		c.CPUShares, err = intIn(v, 2, 262144)
		return err
	}},
	{names: []string{"--cpu-period"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		c.CPUPeriod, err = intIn(v, 1000, 1000000)
		return err
	}},
	{names: []string{"--cpu-quota"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		c.CPUQuota, err = intIn(v, 1000, 1<<40)
		return err
	}},
	{names: []string{"--cpuset-cpus"}, apply: func(c *engine.ContainerConfig, v string) error {
		c.CpusetCpus = v
		return checkCpuset(v)
	}},
	{names: []string{"--cpuset-mems"}, apply: func(c *engine.ContainerConfig, v string) error {
		c.CpusetMems = v
		return checkCpuset(v)
	}},
	{names: []string{"--blkio-weight"}, apply: func(c *engine.ContainerConfig, v string) error {
		w, err := intIn(v, 10, 1000)
		c.BlkioWeight = uint16(w)
		return err
	}},
	{names: []string{"--pids-limit"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		if v == "-1" {
			c.PidsLimit = -1
			return nil
		}
		c.PidsLimit, err = intIn(v, 1, 1<<32)
		return err
	}},
	{names: []string{"--oom-score-adj"}, apply: func(c *engine.ContainerConfig, v string) error {
		n, err := intIn(v, -1000, 1000)
		c.OomScoreAdj = int(n)
		return err
	}},
	{names: []string{"--oom-kill-disable"}, isBool: true, apply: boolTo(func(c *engine.ContainerConfig, b bool) { c.OomKillDisable = b })},
	{names: []string{"--ulimit"}, apply: func(c *engine.ContainerConfig, v string) error {
		u, err := parseUlimit(v)
		c.Ulimits = append(c.Ulimits, u)
		return err
	}},
	{names: []string{"--dns-search"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v == "" || strings.ContainsAny(v, " \t\n") {
			return fmt.Errorf("%q: want a domain", v)
		}
		c.DNSSearch = append(c.DNSSearch, v)
		return nil
	}},
	{names: []string{"--dns-option"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v == "" || strings.ContainsAny(v, " \t\n") {
			return fmt.Errorf("%q: want a resolver option such as ndots:2", v)
		}
		c.DNSOptions = append(c.DNSOptions, v)
		return nil
	}},
	{names: []string{"--domainname"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v == "" || strings.ContainsAny(v, " \t\n/") {
			return fmt.Errorf("%q: want a domain", v)
		}
		c.Domainname = v
		return nil
	}},
	{names: []string{"--cap-add"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !capRE().MatchString(v) {
			return fmt.Errorf("%q: not a capability name such as NET_ADMIN", v)
		}
		c.CapAdd = append(c.CapAdd, v)
		return nil
	}},
	{names: []string{"--cap-drop"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !capRE().MatchString(v) {
			return fmt.Errorf("%q: not a capability name such as NET_RAW", v)
		}
		c.CapDrop = append(c.CapDrop, v)
		return nil
	}},
	{names: []string{"--device"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("%q: want /dev/path[:/container/path[:perms]]", v)
		}
		c.Devices = append(c.Devices, v)
		return nil
	}},
	{names: []string{"--user", "-u"}, apply: func(c *engine.ContainerConfig, v string) error { c.User = v; return nil }},
	{names: []string{"--workdir", "-w"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("%q: path must be absolute", v)
		}
		c.WorkingDir = v
		return nil
	}},
	{names: []string{"--entrypoint"}, apply: func(c *engine.ContainerConfig, v string) error {
		// docker run takes one word here; an empty one clears the image's.
		c.Entrypoint = []string{}
		if v != "" {
			c.Entrypoint = []string{v}
		}
		return nil
	}},
	{names: []string{"--hostname", "-h"}, apply: func(c *engine.ContainerConfig, v string) error { c.Hostname = v; return nil }},
	{names: []string{"--mac-address"}, apply: func(c *engine.ContainerConfig, v string) (err error) {
		c.MacAddress, err = ParseMAC(v)
		return err
	}},
	{names: []string{"--add-host"}, apply: func(c *engine.ContainerConfig, v string) error {
		// host=ip, or host:ip with the host cut at the first colon (an
		// IPv6 address keeps the rest), as the docker CLI reads it.
		host, ip, ok := strings.Cut(v, "=")
		if !ok {
			host, ip, ok = strings.Cut(v, ":")
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if !ok || host == "" {
			return fmt.Errorf("%q: want host:ip", v)
		}
		if _, err := netip.ParseAddr(ip); err != nil && ip != "host-gateway" {
			return fmt.Errorf("%q: %q is not an IP address (or host-gateway)", v, ip)
		}
		c.ExtraHosts = append(c.ExtraHosts, v)
		return nil
	}},
	{names: []string{"--dns"}, apply: func(c *engine.ContainerConfig, v string) error {
		if _, err := netip.ParseAddr(v); err != nil {
			return fmt.Errorf("%q: not an IP address", v)
		}
		c.DNS = append(c.DNS, v)
		return nil
	}},
	{names: []string{"--security-opt"}, apply: func(c *engine.ContainerConfig, v string) error {
		o, err := SecurityOpt(v)
		if err != nil {
			return err
		}
		c.SecurityOpt = append(c.SecurityOpt, o)
		return nil
	}},
	{names: []string{"--device-cgroup-rule"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !cgroupRuleRE().MatchString(v) {
			return fmt.Errorf("%q: want a rule such as \"c 1:3 rwm\" (type a, b or c; major:minor or *; r, w, m)", v)
		}
		c.DeviceCgroupRules = append(c.DeviceCgroupRules, v)
		return nil
	}},
	{names: []string{"--userns"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v != "host" && v != "" {
			return fmt.Errorf("%q: the only mode is host", v)
		}
		c.UsernsMode = v
		return nil
	}},
	{names: []string{"--uts"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v != "host" && v != "" {
			return fmt.Errorf("%q: the only mode is host", v)
		}
		c.UTSMode = v
		return nil
	}},
	{names: []string{"--group-add"}, apply: func(c *engine.ContainerConfig, v string) error { c.GroupAdd = append(c.GroupAdd, v); return nil }},
	{names: []string{"--sysctl"}, apply: func(c *engine.ContainerConfig, v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: want key=value", v)
		}
		if c.Sysctls == nil {
			c.Sysctls = map[string]string{}
		}
		c.Sysctls[k] = val
		return nil
	}},
	{names: []string{"--pid"}, apply: func(c *engine.ContainerConfig, v string) error {
		if v != "" && v != "host" && !joinsContainer(v) {
			return fmt.Errorf("%q: want host or container:NAME", v)
		}
		c.PidMode = v
		return nil
	}},
	{names: []string{"--ipc"}, apply: func(c *engine.ContainerConfig, v string) error {
		switch v {
		case "", "none", "private", "shareable", "host":
		default:
			if !joinsContainer(v) {
				return fmt.Errorf("%q: want none, private, shareable, host or container:NAME", v)
			}
		}
		c.IpcMode = v
		return nil
	}},
	{names: []string{"--stop-signal"}, apply: func(c *engine.ContainerConfig, v string) error {
		if !signalRE().MatchString(v) {
			return fmt.Errorf("%q: want a signal such as SIGTERM, TERM or 15", v)
		}
		c.StopSignal = v
		return nil
	}},
	{names: []string{"--stop-timeout"}, apply: func(c *engine.ContainerConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q: want seconds", v)
		}
		c.StopTimeout = &n
		return nil
	}},
	{names: []string{"--health-cmd"}, apply: func(c *engine.ContainerConfig, v string) error {
		hc(c).Test = []string{"CMD-SHELL", v}
		return nil
	}},
	{names: []string{"--health-interval"}, apply: healthDur(func(h *engine.Healthcheck, d time.Duration) { h.Interval = d })},
	{names: []string{"--health-timeout"}, apply: healthDur(func(h *engine.Healthcheck, d time.Duration) { h.Timeout = d })},
	{names: []string{"--health-start-period"}, apply: healthDur(func(h *engine.Healthcheck, d time.Duration) { h.StartPeriod = d })},
	{names: []string{"--health-retries"}, apply: func(c *engine.ContainerConfig, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q: want a whole number", v)
		}
		hc(c).Retries = n
		return nil
	}},
}

var flagIndex = func() map[string]*flagDef {
	m := map[string]*flagDef{}
	for i := range flagDefs {
		for _, n := range flagDefs[i].names {
			m[n] = &flagDefs[i]
		}
	}
	return m
}()

func boolTo(set func(*engine.ContainerConfig, bool)) func(*engine.ContainerConfig, string) error {
	return func(c *engine.ContainerConfig, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q: want true or false", v)
		}
		set(c, b)
		return nil
	}
}

func hc(c *engine.ContainerConfig) *engine.Healthcheck {
	if c.Healthcheck == nil || (len(c.Healthcheck.Test) == 1 && c.Healthcheck.Test[0] == "NONE") {
		c.Healthcheck = &engine.Healthcheck{}
	}
	return c.Healthcheck
}

func healthDur(set func(*engine.Healthcheck, time.Duration)) func(*engine.ContainerConfig, string) error {
	return func(c *engine.ContainerConfig, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q: want a duration such as 30s", v)
		}
		set(hc(c), d)
		return nil
	}
}

// ParseRunArgs parses docker run flags (no image, no command) into cfg.
// Errors name the offending flag.
func ParseRunArgs(runArgs string, cfg *engine.ContainerConfig) error {
	return parseRunArgs(runArgs, cfg, nil)
}

// parseRunArgs is ParseRunArgs with ${NAME} placeholders replaced in each
// word by sub.
func parseRunArgs(runArgs string, cfg *engine.ContainerConfig, sub *substituter) error {
	words, err := SplitWords(runArgs)
	if err != nil {
		return err
	}
	orig := slices.Clone(words)
	if sub != nil {
		for i, w := range words {
			if words[i], err = sub.word(w); err != nil {
				return err
			}
		}
	}
	for i := 0; i < len(words); i++ {
		start := i
		if err := parseFlag(words, &i, cfg); err != nil {
			return sub.hideValues(err, orig[start:min(i+1, len(orig))])
		}
	}
	if err := checkResources(cfg); err != nil {
		return err
	}
	return checkMAC(cfg)
}

// checkResources refuses the resource flags that the engine refuses
// together at container create.
func checkResources(c *engine.ContainerConfig) error {
	switch {
	case c.NanoCPUs != 0 && (c.CPUPeriod != 0 || c.CPUQuota != 0):
		return fmt.Errorf("--cpus with --cpu-period or --cpu-quota: the engine takes one or the other")
	case c.MemorySwap > 0 && c.Memory == 0:
		return fmt.Errorf("--memory-swap without -m/--memory: the engine needs the memory limit with it")
	case c.MemorySwap > 0 && c.MemorySwap < c.Memory:
		return fmt.Errorf("--memory-swap %d is below -m/--memory %d (it is memory plus swap)", c.MemorySwap, c.Memory)
	case c.OomKillDisable && c.Memory == 0:
		// The engine only warns; unkillable and unlimited, the container
		// could take all of the device's memory.
		return fmt.Errorf("--oom-kill-disable without -m/--memory: the container could take all of the device's memory")
	case c.MemoryReservation > 0 && c.Memory > 0 && c.MemoryReservation > c.Memory:
		return fmt.Errorf("--memory-reservation %d is above -m/--memory %d", c.MemoryReservation, c.Memory)
	}
	return nil
}

// parseFlag applies the flag at words[*i], moving *i past its value.
func parseFlag(words []string, i *int, cfg *engine.ContainerConfig) error {
	w := words[*i]
	if w == "--" || !strings.HasPrefix(w, "-") || w == "-" {
		return fmt.Errorf("%q: only flags are allowed here, not an image or command", w)
	}
	name, value, hasValue := w, "", false
	if strings.HasPrefix(w, "--") {
		name, value, hasValue = strings.Cut(w, "=")
	} else if len(w) > 2 {
		// -p8080:80, or a group of boolean short flags such as -dt.
		if d := flagIndex[w[:2]]; d != nil && !d.isBool {
			name, value, hasValue = w[:2], w[2:], true
		} else {
			for _, r := range w[1:] {
				short := "-" + string(r)
				d := flagIndex[short]
				if d == nil || !d.isBool {
					return fmt.Errorf("%s (in %s): %w", short, w, unsupported(short))
				}
				if err := d.apply(cfg, "true"); err != nil {
					return fmt.Errorf("%s: %w", short, err)
				}
			}
			return nil
		}
	}
	d := flagIndex[name]
	if d == nil {
		return fmt.Errorf("%s: %w", name, unsupported(name))
	}
	if !hasValue {
		if d.isBool {
			value = "true"
		} else {
			if *i+1 >= len(words) {
				return fmt.Errorf("%s: needs a value", name)
			}
			*i++
			value = words[*i]
		}
	}
	if err := d.apply(cfg, value); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func unsupported(name string) error {
	if why, ok := refused[name]; ok {
		return fmt.Errorf("not supported: %s", why)
	}
	return fmt.Errorf("not a supported docker run flag")
}

// parsePublish parses -p [ip:][hostPort:]containerPort[/proto], where ports
// may be equal-length ranges such as 8000-8001:80-81.
func parsePublish(v string) ([]engine.PortBinding, error) {
	spec, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("%q: protocol must be tcp, udp or sctp", v)
	}
	var ip string
	if strings.HasPrefix(spec, "[") { // [::1]:80:80
		end := strings.Index(spec, "]:")
		if end < 0 {
			return nil, fmt.Errorf("%q: bad IPv6 address", v)
		}
		ip, spec = spec[1:end], spec[end+2:]
	}
	parts := strings.Split(spec, ":")
	var hostPart, ctrPart string
	switch {
	case len(parts) == 1:
		ctrPart = parts[0]
	case len(parts) == 2:
		hostPart, ctrPart = parts[0], parts[1]
	case len(parts) == 3 && ip == "":
		ip, hostPart, ctrPart = parts[0], parts[1], parts[2]
	default:
		return nil, fmt.Errorf("%q: want [ip:][hostPort:]containerPort[/proto]", v)
	}
	if _, err := netip.ParseAddr(ip); ip != "" && err != nil {
		return nil, fmt.Errorf("%q: %q is not an IP address", v, ip)
	}
	cLo, cHi, err := portRange(ctrPart)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", v, err)
	}
	var hLo, hHi int
	if hostPart != "" {
		if hLo, hHi, err = portRange(hostPart); err != nil {
			return nil, fmt.Errorf("%q: %w", v, err)
		}
		if hHi-hLo != cHi-cLo && hLo != hHi {
			return nil, fmt.Errorf("%q: host and container ranges differ in length", v)
		}
	}
	var out []engine.PortBinding
	for p := cLo; p <= cHi; p++ {
		b := engine.PortBinding{HostIP: ip, ContainerPort: uint16(p), Proto: proto}
		if hostPart != "" {
			hp := hLo
			if hHi != hLo {
				hp = hLo + (p - cLo)
			}
			b.HostPort = strconv.Itoa(hp)
		}
		out = append(out, b)
	}
	return out, nil
}

func portRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("bad port %q", a)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > 65535 {
			return 0, 0, fmt.Errorf("bad port range %q", s)
		}
	}
	return lo, hi, nil
}

// checkVolume accepts [src:]dst[:opts] with an absolute dst, where src is an
// absolute host path or a volume name.
func checkVolume(v string) error {
	parts := strings.Split(v, ":")
	var src, dst string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		if strings.HasPrefix(parts[1], "/") {
			src, dst = parts[0], parts[1]
		} else {
			dst = parts[0] // /dst:ro
		}
	case 3:
		src, dst = parts[0], parts[1]
	default:
		return fmt.Errorf("%q: want [source:]/target[:options]", v)
	}
	if !strings.HasPrefix(dst, "/") {
		return fmt.Errorf("%q: target path must be absolute", v)
	}
	if src != "" && !strings.HasPrefix(src, "/") && !volumeNameRE.MatchString(src) {
		return fmt.Errorf("%q: %q is neither an absolute path nor a volume name", v, src)
	}
	return nil
}

// parseBytes parses docker's size syntax: 512, 64k, 512m, 1g (binary units).
func parseBytes(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(v), "b"), "i"))
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q: want a size such as 512m", v)
	}
	return int64(f * float64(mult)), nil
}

// Cheap forms of values the engine checks at create: capability and
// signal names (which ones exist is the kernel's business), and the
// smallest memory limit the engine accepts.
var (
	capRE    = lazy(`^(?i:(?:cap_)?[a-z0-9_]+)$`)
	signalRE = lazy(`^(?i:(?:sig)?[a-z0-9]+(?:[+-][0-9]+)?)$`)
)

const minMemory = 6 << 20

// intIn parses a whole number from lo to hi.
func intIn(v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return n, fmt.Errorf("%q: want a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}

var cpusetRE = lazy(`^[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*$`)

func checkCpuset(v string) error {
	if !cpusetRE().MatchString(v) {
		return fmt.Errorf("%q: want a list such as 0-2,4", v)
	}
	return nil
}

// ulimitRE is --ulimit NAME=SOFT[:HARD] with the names the engine knows.
var ulimitRE = lazy(`^(core|cpu|data|fsize|locks|memlock|msgqueue|nice|nofile|nproc|rss|rtprio|rttime|sigpending|stack)=(-1|[0-9]+)(?::(-1|[0-9]+))?$`)

func parseUlimit(v string) (engine.Ulimit, error) {
	m := ulimitRE().FindStringSubmatch(v)
	if m == nil {
		return engine.Ulimit{}, fmt.Errorf("%q: want NAME=SOFT[:HARD] (nofile, nproc, memlock, core, stack...; -1 unlimited)", v)
	}
	soft, _ := strconv.ParseInt(m[2], 10, 64)
	hard := soft
	if m[3] != "" {
		hard, _ = strconv.ParseInt(m[3], 10, 64)
	}
	if soft > hard && hard != -1 || soft == -1 && hard != -1 {
		return engine.Ulimit{}, fmt.Errorf("%q: the soft limit is above the hard one", v)
	}
	return engine.Ulimit{Name: m[1], Soft: soft, Hard: hard}, nil
}

// cgroupRuleRE is the form the engine accepts for --device-cgroup-rule.
var cgroupRuleRE = lazy(`^[acb] (?:[0-9]+|\*):(?:[0-9]+|\*) [rwm]{1,3}$`)

// joinsContainer tells whether a --pid or --ipc mode is container:NAME.
func joinsContainer(v string) bool {
	name, ok := strings.CutPrefix(v, "container:")
	return ok && containerNameRE.MatchString(strings.TrimPrefix(name, "/"))
}

// SecurityOpt checks a --security-opt value against the forms the Docker
// engine accepts, so that a bad one fails in Download rather than at
// container create, and returns it as key=value: the engine's older
// key:value spelling and a bare no-new-privileges are rewritten, so that a
// device policy compares one spelling. systempaths=unconfined is the
// docker CLI's own, kept here for the engine adapter to translate.
func SecurityOpt(v string) (string, error) {
	if v == "no-new-privileges" {
		return "no-new-privileges=true", nil
	}
	key, val, ok := strings.Cut(v, "=")
	if !ok {
		key, val, ok = strings.Cut(v, ":")
	}
	if !ok {
		return "", fmt.Errorf("%q: want key=value (no-new-privileges, seccomp=, apparmor=, label=, systempaths=unconfined)", v)
	}
	switch key {
	case "no-new-privileges":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return "", fmt.Errorf("%q: want no-new-privileges=true or false", v)
		}
		val = strconv.FormatBool(b)
	case "seccomp":
		// The docker CLI reads a profile file on the client; the device
		// has no such file, so only an inline JSON profile works.
		if val != "unconfined" && !(strings.HasPrefix(val, "{") && json.Valid([]byte(val))) {
			return "", fmt.Errorf("%q: want seccomp=unconfined or an inline JSON profile (a profile file is not read on the device)", v)
		}
	case "apparmor":
		if val == "" || strings.ContainsAny(val, " \t\n") {
			return "", fmt.Errorf("%q: want apparmor=PROFILE or apparmor=unconfined", v)
		}
	case "label":
		k, arg, hasArg := strings.Cut(val, ":")
		switch {
		case (k == "disable" || k == "nested") && !hasArg:
		case (k == "user" || k == "role" || k == "type" || k == "level" || k == "filetype") && arg != "":
		default:
			return "", fmt.Errorf("%q: want label=user:, role:, type:, level:, filetype:VALUE, label=disable or label=nested", v)
		}
	case "systempaths":
		if val != "unconfined" {
			return "", fmt.Errorf("%q: the only value is systempaths=unconfined", v)
		}
	default:
		return "", fmt.Errorf("%q: not a security option the engine knows (no-new-privileges, seccomp=, apparmor=, label=, systempaths=unconfined)", v)
	}
	return key + "=" + val, nil
}
