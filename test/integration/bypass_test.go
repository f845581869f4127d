package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
)

// hardened is the policy a careful fleet operator sets.
var hardened = config.Policy{
	DenyPrivileged: true, DenyHostNamespaces: true, DenyContainerNamespaces: true, DenyUnconfined: true,
	DenyCapAdd: true, DenyDevices: true, DenyDeviceCgroupRules: true,
	AllowedSecurityOpts: []string{"no-new-privileges=true"},
}

// Every way that the Compose runtime of earlier releases let an artifact
// around the device policy, written as the hostile meta-data a tampered
// generator could emit now: with the module as the only runtime, each is
// refused in Download under a hardened policy, before anything is pulled or
// created, and the running app is untouched.
func TestPolicyBypassesRefused(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	before := w.snapshot()
	v2 := w.version("v2")
	bindRoot := t.TempDir()
	w.d.U.Config.Policy = hardened
	w.d.U.Config.Policy.BindMountPaths = []string{bindRoot}
	svc := func(fields string, top ...string) string {
		extra := ""
		for _, s := range top {
			extra += "," + s
		}
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q%s}}%s}`, w.app, v2, fields, extra)
	}
	const files = `"files":{"archive":"files.tar","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`
	for _, tc := range []struct{ bypass, meta, want string }{
		{"network_mode: ${NET} with a parameter", svc(`,"run_args":"--network ${NET}"`, `"params":{"NET":"host"}`), "--network ${NET} is refused by the device policy"},
		{"pid: ${P:-host}", svc(`,"run_args":"--pid ${P}"`, `"params":{"P":"host"}`), "--pid ${P} is refused"},
		{"long-syntax bind of ../../../../etc (as a file of the project)", svc(`,"files":{"/host":"../../../../etc"}`, files), "must be a clean relative path inside the files archive"},
		{"long-syntax bind of ../../../../etc (as a host path)", svc(`,"run_args":"-v /etc:/host"`), "-v /etc:/host is refused by the device policy (bind_mount_paths"},
		{"device_cgroup_rules", svc(`,"run_args":"--device-cgroup-rule 'c *:* rwm'"`), "--device-cgroup-rule c *:* rwm is refused"},
		{"secret with file: /etc/shadow", svc(`,"files":{"/run/secrets/s":"/etc/shadow"}`, files), "must be a clean relative path inside the files archive"},
		{"env_file: /etc/shadow", svc(`,"env_file":"/etc/shadow"`), `unknown field "env_file"`},
		{"extends of a privileged service", svc(`,"run_args":"--privileged"`), "--privileged is refused"},
		{"named volume with driver_opts binding /", svc(`,"run_args":"-v root:/host"`, `"volumes":{"root":{"driver_opts":{"type":"none","o":"bind","device":"/"}}}`), `unknown field "driver_opts"`},
		{"userns_mode: host", svc(`,"run_args":"--userns host"`), "--userns host is refused"},
		{"uts: host", svc(`,"run_args":"--uts host"`), "--uts host is refused"},
		{"security_opt", svc(`,"run_args":"--security-opt seccomp=unconfined"`), "--security-opt seccomp=unconfined is refused"},
		{"security_opt outside the allowed list", svc(`,"run_args":"--security-opt label=disable"`), "refused"},
		{"a placeholder in a network name", svc(`,"networks":{"${NET}":[]}`, `"networks":{"n":{}}`, `"params":{"NET":"host"}`), `"${NET}" is not in the top-level networks`},
		// Round three (issue 17): one row per class; each class has a test
		// of its own beside this one (bypass_binds_test.go,
		// bypass_resources_test.go, bypass_misc_test.go) that acts it out.
		{"a bind inside another writable bind (replaced by a link, the engine follows it at the next start)", svc(fmt.Sprintf(`,"run_args":"-v %s/app:/w -v %s/app/x:/host"`, bindRoot, bindRoot)), "the engine follows symbolic links in a bind's source at every start"},
		{"an inline seccomp profile that allows every syscall", svc(`,"run_args":"--security-opt 'seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}'"`), "is refused by the device policy (deny_unconfined"},
		{"an AppArmor profile other than the engine's", svc(`,"run_args":"--security-opt apparmor=unconfined-by-another-name"`), "is refused by the device policy (deny_unconfined"},
		{"an SELinux type that widens access", svc(`,"run_args":"--security-opt label=type:spc_t"`), "is refused by the device policy (deny_unconfined"},
		{"a log driver that sends output over the network", svc(`,"run_args":"--log-driver syslog"`), "--log-driver syslog is refused"},
		{"a log option that names a destination", svc(`,"run_args":"--log-opt syslog-address=udp://127.0.0.1:514"`), "--log-opt syslog-address"},
		{"a name in the module's own space (_prev)", svc(`,"run_args":"--name other-web_prev"`), "_prev"},
		{"a parameter's value in a refusal", svc(`,"run_args":"--device ${DEV}"`, `"params":{"DEV":"/dev/s3cr3t-value"}`), "--device ${DEV} is refused"},
		{"a key that matches only ignoring case", svc(`,"Run_Args":"--privileged"`), `unknown field "Run_Args"`},
		{"a key given twice", svc(`,"run_args":"","run_args":"--privileged"`), `duplicate key "run_args"`},
	} {
		t.Run(tc.bypass, func(t *testing.T) {
			err := w.d.Install("app-v2", tc.meta, true)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error()+w.d.Log.String(), "s3cr3t", "no parameter value in an error or the log")
			assert.Equal(t, before, w.snapshot(), "the running app is untouched")
			assert.False(t, w.has(v2), "refused before anything was pulled")
			ctx := context.Background()
			nets, err := w.d.Eng.ListNetworks(ctx, map[string]string{module.LabelApp: w.app})
			require.NoError(t, err)
			assert.Empty(t, nets, "no network created")
			vols, err := w.d.Eng.ListVolumes(ctx, map[string]string{module.LabelApp: w.app})
			require.NoError(t, err)
			assert.Empty(t, vols, "no volume created")
		})
	}
	w.checkUnrelated()
}
