package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
)

// What the policy could not say before: other namespaces, confinement,
// security options and device cgroup rules.
func TestPolicyNamespacesAndConfinement(t *testing.T) {
	hardened := config.Policy{DenyHostNamespaces: true, DenyContainerNamespaces: true, DenyUnconfined: true, DenyDeviceCgroupRules: true}
	for _, tc := range []struct {
		c    engine.ContainerConfig
		want string
	}{
		{engine.ContainerConfig{UTSMode: "host"}, "--uts host is refused by the device policy (deny_host_namespaces)"},
		{engine.ContainerConfig{UsernsMode: "host"}, "--userns host is refused by the device policy (deny_host_namespaces)"},
		{engine.ContainerConfig{PidMode: "container:db"}, "--pid container:db is refused by the device policy (deny_container_namespaces)"},
		{engine.ContainerConfig{IpcMode: "container:db"}, "--ipc container:db is refused by the device policy (deny_container_namespaces)"},
		{engine.ContainerConfig{SecurityOpt: []string{"no-new-privileges=true", "seccomp=unconfined"}}, "--security-opt seccomp=unconfined is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"apparmor=unconfined"}}, "--security-opt apparmor=unconfined is refused"},
		{engine.ContainerConfig{SecurityOpt: []string{"systempaths=unconfined"}}, "--security-opt systempaths=unconfined is refused"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=disable"}}, "--security-opt label=disable is refused"},
		// Anything but the engine's default profiles and labels: a profile
		// can widen confinement as much as turning it off.
		{engine.ContainerConfig{SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}}, `--security-opt seccomp={"defaultAction":"SCMP_ACT_ALLOW"} is refused by the device policy (deny_unconfined)`},
		{engine.ContainerConfig{SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_ERRNO"}`}}, `--security-opt seccomp={"defaultAction":"SCMP_ACT_ERRNO"} is refused by the device policy (deny_unconfined)`},
		{engine.ContainerConfig{SecurityOpt: []string{"apparmor=my-profile"}}, "--security-opt apparmor=my-profile is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"apparmor=Docker-default"}}, "--security-opt apparmor=Docker-default is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=type:spc_t"}}, "--security-opt label=type:spc_t is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=type:unconfined_t"}}, "--security-opt label=type:unconfined_t is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=user:unconfined_u"}}, "--security-opt label=user:unconfined_u is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=role:unconfined_r"}}, "--security-opt label=role:unconfined_r is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=level:s0-s0:c0.c1023"}}, "--security-opt label=level:s0-s0:c0.c1023 is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=filetype:container_file_t"}}, "--security-opt label=filetype:container_file_t is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{SecurityOpt: []string{"label=nested"}}, "--security-opt label=nested is refused by the device policy (deny_unconfined)"},
		{engine.ContainerConfig{DeviceCgroupRules: []string{"c *:* rwm"}}, "--device-cgroup-rule c *:* rwm is refused by the device policy (deny_device_cgroup_rules)"},
		{engine.ContainerConfig{IpcMode: "shareable", PidMode: "", SecurityOpt: []string{"apparmor=docker-default", "no-new-privileges=true", "no-new-privileges=false"}}, ""},
	} {
		err := hardened.Check("web", tc.c)
		if tc.want == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), "service web: "+tc.want)
		assert.NoError(t, config.Policy{}.Check("web", tc.c), "the default policy allows %s", tc.want)
	}

	only := config.Policy{AllowedSecurityOpts: []string{"no-new-privileges=true"}}
	assert.NoError(t, only.Check("web", engine.ContainerConfig{SecurityOpt: []string{"no-new-privileges=true"}}))
	err := only.Check("web", engine.ContainerConfig{SecurityOpt: []string{"apparmor=docker-default"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--security-opt apparmor=docker-default is refused by the device policy (allowed_security_opts: no-new-privileges=true)")
	err = config.Policy{AllowedSecurityOpts: []string{}}.Check("web", engine.ContainerConfig{SecurityOpt: []string{"no-new-privileges=true"}})
	require.Error(t, err, "an empty list allows none")
}

// A symbolic link inside an allowed path does not lead out of it
// (ln -s / allowed/escape; -v allowed/escape:/host).
func TestPolicyBindMountSymlinks(t *testing.T) {
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed")
	require.NoError(t, os.MkdirAll(filepath.Join(allowed, "real", "sub"), 0o755))
	require.NoError(t, os.Symlink("/", filepath.Join(allowed, "escape")))
	require.NoError(t, os.Symlink("real", filepath.Join(allowed, "inner")))
	require.NoError(t, os.Symlink("../..", filepath.Join(allowed, "real", "up")))
	require.NoError(t, os.Symlink("real/sub", filepath.Join(allowed, "deep")))
	require.NoError(t, os.Symlink(allowed, filepath.Join(dir, "rootlink")))
	p := config.Policy{BindMountPaths: []string{allowed}}
	for src, ok := range map[string]bool{
		allowed + "/escape":             false,
		allowed + "/escape/etc":         false,
		allowed + "/escape/no/such/dir": false,
		allowed + "/real/up":            false,
		allowed + "/real/up/allowed":    true,  // back in again
		allowed + "/deep/../..":         false, // the kernel ends in allowed, but an engine that cleans it first in dir
		allowed + "/deep/../../..":      false,
		allowed + "/inner/sub":          true,
		allowed + "/new/dir":            true,
		allowed:                         true,
		dir + "/rootlink/real":          true, // a link into the allowed path
		dir:                             false,
	} {
		err := p.Check("web", engine.ContainerConfig{Binds: []string{src + ":/host"}})
		if ok {
			assert.NoError(t, err, src)
		} else if assert.Error(t, err, src) {
			assert.Contains(t, err.Error(), "-v "+src+":/host is refused by the device policy (bind_mount_paths allows "+allowed+")")
		}
	}

	// An allowed path that is itself a link allows what it points to.
	viaLink := config.Policy{BindMountPaths: []string{dir + "/rootlink"}}
	assert.NoError(t, viaLink.Check("web", engine.ContainerConfig{Binds: []string{allowed + "/real:/x"}}))
	assert.Error(t, viaLink.Check("web", engine.ContainerConfig{Binds: []string{allowed + "/escape:/x"}}))
}

func TestPolicyRegistries(t *testing.T) {
	for ref, want := range map[string]string{
		"alpine@sha256:x":                     "docker.io",
		"library/alpine@sha256:x":             "docker.io",
		"acme/web@sha256:x":                   "docker.io",
		"docker.io/acme/web@sha256:x":         "docker.io",
		"index.docker.io/acme/web@sha256:x":   "docker.io",
		"localhost/web@sha256:x":              "localhost",
		"localhost:5000/web@sha256:x":         "localhost:5000",
		"127.0.0.1:5000/it/web@sha256:x":      "127.0.0.1:5000",
		"Registry.Example.com/a/b@sha256:x":   "registry.example.com",
		"registry.example.com:443/a@sha256:x": "registry.example.com:443",
	} {
		assert.Equal(t, want, config.Registry(ref), ref)
	}
	p := config.Policy{AllowedRegistries: []string{"registry.example.com", "127.0.0.1:5000"}}
	assert.NoError(t, p.CheckImage("registry.example.com/acme/web@sha256:x"))
	assert.NoError(t, p.CheckImage("127.0.0.1:5000/acme/web@sha256:x"))
	assert.NoError(t, p.CheckImage("sha256:0123"), "an image ID names no registry")
	for _, ref := range []string{"alpine@sha256:x", "acme/web@sha256:x", "127.0.0.1:5001/acme/web@sha256:x", "registry.example.com.evil.net/a@sha256:x"} {
		err := p.CheckImage(ref)
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), "is refused by the device policy (allowed_registries: registry.example.com, 127.0.0.1:5000)")
	}
	assert.NoError(t, config.Policy{}.CheckImage("alpine@sha256:x"))
	hub := config.Policy{AllowedRegistries: []string{"docker.io"}}
	assert.NoError(t, hub.CheckImage("alpine@sha256:x"))
}

func TestLoadPolicy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.conf")
	write := func(s string) {
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	}
	write(`{"policy": {"deny_unconfined": true, "deny_container_namespaces": true, "deny_device_cgroup_rules": true,
	  "allowed_security_opts": ["no-new-privileges", "apparmor:docker-default"], "allowed_registries": ["registry.example.com"]}}`)
	c, err := config.Load(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"no-new-privileges=true", "apparmor=docker-default"}, c.Policy.AllowedSecurityOpts, "one spelling")
	assert.True(t, c.Policy.DenyUnconfined && c.Policy.DenyContainerNamespaces && c.Policy.DenyDeviceCgroupRules)
	assert.Equal(t, []string{"registry.example.com"}, c.Policy.AllowedRegistries)

	for in, want := range map[string]string{
		`{"policy": {"allowed_security_opts": ["seccomp=/x.json"]}}`: "policy.allowed_security_opts:",
		`{"policy": {"bind_mount_paths": ["data"]}}`:                 `policy.bind_mount_paths: "data" is not an absolute path`,
		`{"policy": {"allowed_registries": ["https://r.example"]}}`:  "policy.allowed_registries:",
	} {
		write(in)
		_, err := config.Load(p)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

// Logging stays on the device by default: a log driver or option that
// names a destination would have the engine send a container's output to
// the network (or read a host file as a certificate), whatever --network
// says.
func TestPolicyLogging(t *testing.T) {
	c := func(driver string, opts ...string) engine.ContainerConfig {
		cc := engine.ContainerConfig{LogDriver: driver}
		for i := 0; i+1 < len(opts); i += 2 {
			if cc.LogOpts == nil {
				cc.LogOpts = map[string]string{}
			}
			cc.LogOpts[opts[i]] = opts[i+1]
		}
		return cc
	}
	var def config.Policy
	for _, ok := range []engine.ContainerConfig{
		c(""), c("json-file", "max-size", "10m", "max-file", "3"), c("local", "compress", "true"), c("journald", "tag", "{{.Name}}"), c("none"),
		c("", "max-size", "1m"),
	} {
		assert.NoError(t, def.Check("web", ok), "%+v", ok)
	}
	for _, tc := range []struct {
		c    engine.ContainerConfig
		want string
	}{
		{c("syslog", "syslog-address", "tcp://127.0.0.1:514"), "--log-driver syslog is refused by the device policy (allowed_log_drivers: json-file, local, journald, none)"},
		{c("gelf"), "--log-driver gelf is refused"},
		{c("fluentd"), "--log-driver fluentd is refused"},
		{c("vendor/plugin:latest"), "--log-driver vendor/plugin:latest is refused"},
		// The engine's default driver may be one that sends: its address
		// is the operator's, not an artifact's.
		{c("", "syslog-address", "udp://127.0.0.1:514"), "--log-opt syslog-address=udp://127.0.0.1:514 is refused by the device policy (allowed_log_opts: max-size,"},
		{c("", "fluentd-address", "127.0.0.1:24224"), "--log-opt fluentd-address=127.0.0.1:24224 is refused"},
		{c("json-file", "max-size", "1m", "syslog-tls-key", "/etc/shadow"), "--log-opt syslog-tls-key=/etc/shadow is refused"},
	} {
		err := def.Check("web", tc.c)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), "service web: "+tc.want)
	}
	wide := config.Policy{AllowedLogDrivers: []string{"json-file", "syslog"}, AllowedLogOpts: []string{"syslog-address", "syslog-facility"}}
	assert.NoError(t, wide.Check("web", c("syslog", "syslog-address", "unix:///dev/log", "syslog-facility", "daemon")))
	assert.ErrorContains(t, wide.Check("web", c("syslog", "max-size", "1m")), "--log-opt max-size=1m is refused by the device policy (allowed_log_opts: syslog-address, syslog-facility)")
	none := config.Policy{AllowedLogDrivers: []string{}, AllowedLogOpts: []string{}}
	assert.NoError(t, none.Check("web", c("")), "no flags: the engine's default")
	assert.ErrorContains(t, none.Check("web", c("json-file")), "(allowed_log_drivers is empty)")
	assert.ErrorContains(t, none.Check("web", c("", "max-size", "1m")), "(allowed_log_opts is empty)")
}

func TestLoadPolicyLogging(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.conf")
	require.NoError(t, os.WriteFile(p, []byte(`{"policy": {"allowed_log_drivers": ["json-file", "syslog"], "allowed_log_opts": ["max-size"]}}`), 0o644))
	c, err := config.Load(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"json-file", "syslog"}, c.Policy.AllowedLogDrivers)
	assert.Equal(t, []string{"max-size"}, c.Policy.AllowedLogOpts)
	for in, want := range map[string]string{
		`{"policy": {"allowed_log_drivers": [""]}}`:         `policy.allowed_log_drivers: "" is not a log driver name`,
		`{"policy": {"allowed_log_opts": ["max-size=1m"]}}`: `policy.allowed_log_opts: "max-size=1m" is not a log option key`,
	} {
		require.NoError(t, os.WriteFile(p, []byte(in), 0o644))
		_, err := config.Load(p)
		assert.ErrorContains(t, err, want, in)
	}
}
