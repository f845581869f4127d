package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Input that must be refused is refused in Download against the real
// engine: the running set is untouched and the new image never pulled.
func TestRefusedInDownload(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	before := w.snapshot()
	v2 := w.version("v2")
	withArgs := func(args string) string {
		return strings.Replace(w.meta(v2, "300ms"), `"run_args":"`, `"run_args":"`+args+` `, 1)
	}
	// ln -s / allowed/escape, then -v allowed/escape:/host.
	allowed := filepath.Join(t.TempDir(), "allowed")
	require.NoError(t, os.MkdirAll(allowed, 0o755))
	require.NoError(t, os.Symlink("/", filepath.Join(allowed, "escape")))

	for _, tc := range []struct {
		policy     config.Policy
		args, want string
	}{
		{config.Policy{}, "--dns notanip", `--dns: "notanip": not an IP address`},
		{config.Policy{}, "--security-opt seccomp=/etc/profile.json", "inline JSON profile"},
		{config.Policy{DenyUnconfined: true}, "--security-opt seccomp=unconfined", "--security-opt seccomp=unconfined is refused by the device policy (deny_unconfined)"},
		{config.Policy{DenyUnconfined: true}, "--security-opt apparmor=unconfined", "--security-opt apparmor=unconfined is refused"},
		{config.Policy{AllowedSecurityOpts: []string{"no-new-privileges=true"}}, "--security-opt label=disable", "allowed_security_opts: no-new-privileges=true"},
		{config.Policy{DenyHostNamespaces: true}, "--uts host", "--uts host is refused"},
		{config.Policy{DenyHostNamespaces: true}, "--userns host", "--userns host is refused"},
		{config.Policy{DenyContainerNamespaces: true}, "--ipc container:" + before[0].Name, "--ipc container:" + before[0].Name + " is refused"},
		{config.Policy{DenyDeviceCgroupRules: true}, "--device-cgroup-rule 'c *:* rwm'", "--device-cgroup-rule c *:* rwm is refused"},
		{config.Policy{BindMountPaths: []string{allowed}}, "-v " + allowed + "/escape:/host", "-v " + allowed + "/escape:/host is refused by the device policy (bind_mount_paths"},
		{config.Policy{AllowedRegistries: []string{"registry.example.com"}}, "", "registry 127.0.0.1:"},
	} {
		w.d.U.Config.Policy = tc.policy
		err := w.d.Install("app-v2", withArgs(tc.args), true)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.want, tc.args)
		assert.Equal(t, before, w.snapshot(), tc.args)
		assert.False(t, w.has(v2), "refused before anything was pulled: %s", tc.args)
	}
	w.checkUnrelated()
}

// The flags the policy can now name reach the engine as docker run would
// send them.
func TestNamespaceAndSecurityFlags(t *testing.T) {
	fixture.Need(t, exec.Command("docker", "version").Run() == nil, "the docker CLI, to inspect")
	w := newWorld(t)
	v1 := w.version("v1")
	w.d.U.Config.Policy = config.Policy{AllowedRegistries: []string{w.reg.Addr}, AllowedSecurityOpts: []string{"no-new-privileges", "systempaths=unconfined"}}
	args := "--uts host --userns host --device-cgroup-rule 'c 1:3 rmw' --security-opt no-new-privileges --security-opt systempaths=unconfined --dns 127.0.0.53"
	meta := strings.Replace(w.meta(v1, "300ms"), `"run_args":"`, `"run_args":"`+args+` `, 1)
	require.NoError(t, w.d.Install("app-v1", meta, true), w.d.Log.String())
	s := w.snapshot()
	require.Len(t, s, 1)
	assert.True(t, s[0].Running)
	out, err := exec.Command("docker", "inspect", "-f", "{{json .HostConfig}}", s[0].ID).Output()
	require.NoError(t, err)
	var hc struct {
		UTSMode, UsernsMode            string
		DeviceCgroupRules, SecurityOpt []string
		MaskedPaths, ReadonlyPaths     []string
		DNS                            []string `json:"Dns"`
	}
	require.NoError(t, json.Unmarshal(out, &hc))
	assert.Equal(t, "host", hc.UTSMode)
	assert.Equal(t, "host", hc.UsernsMode)
	assert.Equal(t, []string{"c 1:3 rmw"}, hc.DeviceCgroupRules)
	assert.Equal(t, []string{"no-new-privileges=true"}, hc.SecurityOpt)
	assert.Empty(t, hc.MaskedPaths, "systempaths=unconfined unmasks /proc")
	assert.Empty(t, hc.ReadonlyPaths)
	assert.Equal(t, []string{"127.0.0.53"}, hc.DNS)
	w.checkUnrelated()
}
