package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// svcMeta is meta-data of the world's app with one service web.
func (w *world) svcMeta(ref, runArgs string) string {
	return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":%q}}}`, w.app, ref, runArgs)
}

// refused checks that an install failed in Download with want, leaving the
// app as it was and pulling nothing.
func (w *world) refused(meta, want, ref string, before []fixture.Snap) error {
	w.t.Helper()
	err := w.d.Install("refused", meta, true)
	if err == nil {
		return nil
	}
	assert.Contains(w.t, err.Error(), want)
	assert.Equal(w.t, before, w.snapshot(), "the running app is untouched")
	assert.False(w.t, w.has(ref), "refused before anything was pulled")
	return err
}

// Under deny_unconfined only the engine's default confinement passes: an
// inline seccomp profile that allows every syscall, an AppArmor profile
// other than docker-default and any SELinux label option are refused like
// the word unconfined. (Before, the engine created and ran the container
// with {"defaultAction":"SCMP_ACT_ALLOW"} as its seccomp profile.)
func TestSecurityProfilesRefused(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	before := w.snapshot()
	v2 := w.version("v2")
	w.d.U.Config.Policy = hardened
	w.d.U.Config.Policy.AllowedSecurityOpts = nil // deny_unconfined alone
	for _, opt := range []string{
		`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`,
		`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}`,
		"apparmor=unconfined-by-another-name",
		"label=type:spc_t",
		"label=level:s0",
	} {
		t.Run(opt, func(t *testing.T) {
			meta := w.svcMeta(v2, "--network none --security-opt '"+opt+"'")
			if err := w.refused(meta, "--security-opt "+opt+" is refused by the device policy (deny_unconfined)", v2, before); err == nil {
				cli, cerr := client.New(client.FromEnv)
				require.NoError(t, cerr)
				defer cli.Close()
				res, ierr := cli.ContainerInspect(context.Background(), w.snapshot()[0].ID, client.ContainerInspectOptions{})
				require.NoError(t, ierr)
				t.Fatalf("installed: the engine runs %s (running %t) with security options %q", res.Container.Name, res.Container.State.Running, res.Container.HostConfig.SecurityOpt)
			}
		})
	}
	require.NoError(t, w.d.Install("app-v2", w.svcMeta(v2, "--network none --security-opt no-new-privileges --security-opt apparmor=docker-default"), true), w.d.Log.String())
	w.checkUnrelated()
}

// The default policy keeps logs on the device: a --network none container
// cannot have the engine send its output to a TCP listener through the
// syslog driver (before, the listener received the container's output),
// nor name a destination for the engine's default driver. Local drivers
// and their size options still install.
func TestNetworkLogDriversRefused(t *testing.T) {
	w := newWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
	}()
	v1 := w.version("v1")
	require.Equal(t, config.Policy{}, w.d.U.Config.Policy, "the default policy")
	addr := "tcp://" + ln.Addr().String()
	for _, args := range []string{
		"--log-driver syslog --log-opt syslog-address=" + addr,
		"--log-driver=gelf --log-opt gelf-address=udp://" + ln.Addr().String(),
		"--log-opt syslog-address=" + addr,
		"--log-driver json-file --log-opt max-size=1m --log-opt syslog-tls-key=/etc/shadow",
	} {
		t.Run(args, func(t *testing.T) {
			if err := w.refused(w.svcMeta(v1, "--network none "+args), "is refused by the device policy (allowed_log_", v1, nil); err == nil {
				select {
				case line := <-got:
					t.Fatalf("installed, and the engine sent the container's output to %s: %q", addr, line)
				case <-time.After(10 * time.Second):
					t.Fatal("installed")
				}
			}
		})
	}
	select {
	case line := <-got:
		t.Fatalf("the listener received %q", line)
	default:
	}
	require.NoError(t, w.d.Install("app-v1", w.svcMeta(v1, "--network none --log-driver json-file --log-opt max-size=1m --log-opt max-file=2"), true), w.d.Log.String())
	require.NoError(t, w.d.Install("app-v1b", w.meta(v1, "300ms"), true), "meta-data without log flags: %s", w.d.Log.String())
	w.checkUnrelated()
}

// No parameter value reaches the deployment log or an error unless it is
// marked public: not a device path that a policy refusal or an engine
// error quotes, not a value whose name does not look secret (DB_PW).
func TestParamValuesHidden(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	secret := "s3cr3t-" + fixture.RandHex()
	pw := "pw-" + fixture.RandHex()
	require.NoError(t, os.WriteFile(filepath.Join(w.d.U.Config.ParamsDir, w.app+".json"),
		[]byte(fmt.Sprintf(`{"DEV":"/dev/%s","DB_PW":%q,"SITE":{"value":"harbour","public":true}}`, secret, pw)), 0o644))
	meta := func(args string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"params":{"DEV":"/dev/null","DB_PW":"none","SITE":"x"},"services":{"web":{"image":%q,"run_args":%q}}}`,
			w.app, v1, "--network none -e DB_PW=${DB_PW} -l site=${SITE} "+args)
	}
	check := func(err error, want string) {
		t.Helper()
		require.Error(t, err)
		t.Log(err)
		assert.Contains(t, err.Error(), want)
		for _, v := range []string{secret, pw} {
			assert.NotContains(t, err.Error(), v)
			assert.NotContains(t, w.d.Log.String(), v)
		}
	}

	// The policy refuses the final configuration, naming the parameter.
	w.d.U.Config.Policy = hardened
	check(w.d.Install("app-v1", meta("--device ${DEV}"), true), "--device ${DEV} is refused by the device policy (deny_devices)")
	// The engine refuses it (no such device), quoting the path.
	w.d.U.Config.Policy = config.Policy{}
	check(w.d.Install("app-v1", meta("--device ${DEV}:/dev/x"), true), "${DEV}")

	require.NoError(t, w.d.Install("app-v1", meta(""), true), w.d.Log.String())
	log := w.d.Log.String()
	assert.Contains(t, log, "parameter DB_PW=*** (")
	assert.Contains(t, log, "parameter SITE=harbour (", "marked public by the device")
	assert.NotContains(t, log, pw)
	cli, err := client.New(client.FromEnv)
	require.NoError(t, err)
	defer cli.Close()
	res, err := cli.ContainerInspect(context.Background(), w.snapshot()[0].ID, client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Contains(t, res.Container.Config.Env, "DB_PW="+pw, "the container gets the value")
	w.checkUnrelated()
}

// `docker status` shows every field on its line, with control characters
// escaped: an artifact name with a newline and ANSI codes cannot fake a
// status line, in the text, the inventory or the JSON.
func TestStatusEscapesFields(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	name := "v1\napp fake: healthy, artifact x, committed\x1b[2K\tend"
	require.NoError(t, w.d.Install(name, w.meta(v1, "300ms"), true), w.d.Log.String())
	bin := moduleBinary(t)

	text, code := w.runStatus(bin, bin, "status", w.app)
	assert.Equal(t, 0, code, text)
	t.Log("\n" + text)
	assert.NotContains(t, text, "\x1b")
	assert.NotContains(t, text, "\nfake")
	assert.NotContains(t, text, "\napp fake")
	assert.Contains(t, text, `artifact v1\napp fake: healthy, artifact x, committed\x1b[2K\tend, committed`)
	assert.Equal(t, 2+1+1+1, strings.Count(text, "\n"), "engine, blank, app, header, container")

	inv, code := w.runStatus(bin, "../../scripts/mender-inventory-docker")
	assert.Equal(t, 0, code)
	attrs := parseInventory(t, inv)
	assert.Equal(t, []string{`v1\napp fake: healthy, artifact x, committed\x1b[2K\tend`}, attrs["docker_app_"+w.app+"_artifact"])
	assert.NotContains(t, inv, "\x1b")

	out, code := w.runStatus(bin, bin, "status", "--json", w.app)
	assert.Equal(t, 0, code, out)
	var st module.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	assert.Equal(t, name, st.Apps[0].Artifact, "JSON carries the name as it is, escaped by JSON")
	assert.NotContains(t, out, "\x1b")
}

// Meta-data keys match exactly and once. Before, {"app":A,"APP":B}
// deployed to B, and "Run_Args" was taken for run_args.
func TestMetaDataKeysExact(t *testing.T) {
	w := newWorld(t)
	other := w.app + "-b"
	t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, module.LabelApp, other) })
	v1 := w.version("v1")
	for _, tc := range []struct{ meta, want string }{
		{fmt.Sprintf(`{"app":%q,"APP":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":"--network none"}}}`, w.app, other, v1), `unknown field "APP" (keys are case-sensitive: did you mean "app"?)`},
		{fmt.Sprintf(`{"app":%q,"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":"--network none"}}}`, w.app, other, v1), `duplicate key "app"`},
		{fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"Run_Args":"--network none"}}}`, w.app, v1), `services.web: unknown field "Run_Args"`},
		{fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"containers":[%q],"run_args":"--network none","Run_Args":"--network host"}`, w.app, v1), `unknown field "Run_Args"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			err := w.d.Install("keys", tc.meta, true)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, w.snapshot())
			assert.Empty(t, w.d.Snapshot(map[string]string{module.LabelApp: other}))
			assert.False(t, w.has(v1), "refused before anything was pulled")
		})
	}
	w.checkUnrelated()
}
