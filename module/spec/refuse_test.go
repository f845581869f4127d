package spec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Flags that widen a container's view of the host parse into the fields a
// device policy reads; security options come out in one spelling.
func TestRunArgsNamespacesAndSecurity(t *testing.T) {
	for _, tc := range []struct {
		args string
		want engine.ContainerConfig
	}{
		{"--userns host --uts host", engine.ContainerConfig{UsernsMode: "host", UTSMode: "host"}},
		{"--device-cgroup-rule 'c 1:3 rwm' --device-cgroup-rule='b *:* m'", engine.ContainerConfig{DeviceCgroupRules: []string{"c 1:3 rwm", "b *:* m"}}},
		{"--pid container:db --ipc shareable", engine.ContainerConfig{PidMode: "container:db", IpcMode: "shareable"}},
		{"--cap-add cap_net_admin --cap-drop ALL --stop-signal SIGRTMIN+3 -m 6m", engine.ContainerConfig{CapAdd: []string{"cap_net_admin"}, CapDrop: []string{"ALL"}, StopSignal: "SIGRTMIN+3", Memory: 6 << 20}},
		{"--dns 127.0.0.53 --dns ::1 --add-host h:::1 --add-host g=host-gateway", engine.ContainerConfig{DNS: []string{"127.0.0.53", "::1"}, ExtraHosts: []string{"h:::1", "g=host-gateway"}}},
		{"--security-opt no-new-privileges --security-opt seccomp:unconfined --security-opt apparmor=docker-default",
			engine.ContainerConfig{SecurityOpt: []string{"no-new-privileges=true", "seccomp=unconfined", "apparmor=docker-default"}}},
		{`--security-opt label=type:svirt_t --security-opt systempaths=unconfined --security-opt 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'`,
			engine.ContainerConfig{SecurityOpt: []string{"label=type:svirt_t", "systempaths=unconfined", `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var got engine.ContainerConfig
			require.NoError(t, spec.ParseRunArgs(tc.args, &got))
			assert.Equal(t, tc.want, got)
		})
	}
}

// Values the engine would refuse at container create are refused when the
// meta-data is read, in Download.
func TestRunArgsValuesCheckedEarly(t *testing.T) {
	for args, want := range map[string]string{
		"--dns notanip":                          `--dns: "notanip": not an IP address`,
		"--security-opt foo=bar":                 `--security-opt: "foo=bar": not a security option`,
		"--security-opt nonsense":                `--security-opt: "nonsense": want key=value`,
		"--security-opt seccomp=/etc/prof.json":  "inline JSON profile",
		"--security-opt apparmor=":               "want apparmor=PROFILE",
		"--security-opt label=bogus":             "want label=",
		"--security-opt no-new-privileges=maybe": "want no-new-privileges=true or false",
		"--security-opt systempaths=open":        "systempaths=unconfined",
		"--userns private":                       `--userns: "private": the only mode is host`,
		"--uts container:x":                      `--uts: "container:x"`,
		"--device-cgroup-rule 'c 1 rwm'":         "--device-cgroup-rule:",
		"--pid sometimes":                        "--pid:",
		"--ipc container:":                       "--ipc:",
		"--add-host db:notanip":                  `--add-host: "db:notanip": "notanip" is not an IP address`,
		"-p 1.2.3:80:80":                         `"1.2.3" is not an IP address`,
		"--cap-add 'NET ADMIN'":                  `--cap-add: "NET ADMIN": not a capability name`,
		"--cap-drop=-x":                          "--cap-drop:",
		"--stop-signal 'TERM;KILL'":              "--stop-signal:",
		"-m 1m":                                  `-m: "1m": the engine's minimum is 6m`,
	} {
		var c engine.ContainerConfig
		err := spec.ParseRunArgs(args, &c)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
	}
}

// A run argument whose value came from a parameter fails naming the flag
// and the parameter, never the value, which may be a secret.
func TestParamValuesStayOutOfErrors(t *testing.T) {
	const secret = `tok-abc"123`
	lookup := func(name string) (string, string, bool) {
		switch name {
		case "CPUS":
			return secret, "device", true
		case "FLAG":
			return "--" + secret, "device", true
		}
		return "", "", false
	}
	for args, want := range map[string]string{
		"--cpus ${CPUS}":                    "--cpus: ${CPUS} (value not shown): want a positive number of CPUs",
		"--cpus=${CPUS}":                    "--cpus: ${CPUS} (value not shown)",
		"--dns x${CPUS}y":                   "--dns: ${CPUS} (value not shown): not an IP address",
		"-p ${CPUS}:80":                     "-p: ${CPUS} (value not shown)",
		"--security-opt ${CPUS}":            "--security-opt: ${CPUS} (value not shown)",
		"-l io.mender.docker.app=${CPUS}":   "-l: ${CPUS} (value not shown)",
		"-d ${CPUS}":                        "${CPUS} (value not shown): only flags are allowed here",
		"${FLAG}":                           "run_args: ${FLAG}: not a supported docker run flag",
		"--restart ${CPUS} --memory 1g":     "--restart: ${CPUS} (value not shown)",
		"--add-host db:${CPUS} --dns 1.1.1": "--add-host: ${CPUS} (value not shown)",
	} {
		meta := `{"containers":["` + img + `"],"run_args":"` + strings.ReplaceAll(args, `"`, `\"`) + `"}`
		_, err := spec.ParseWith([]byte(meta), spec.ParseOptions{Lookup: lookup})
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
		for _, part := range []string{secret, "abc", "123", `tok-abc\"123`} {
			assert.NotContains(t, err.Error(), part, args)
		}
	}
	// An error in a literal word after a substituted one still quotes it.
	_, err := spec.ParseWith([]byte(`{"containers":["`+img+`"],"run_args":"-e A=${CPUS} --dns 1.1.1"}`), spec.ParseOptions{Lookup: lookup})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--dns: "1.1.1": not an IP address`)
}
