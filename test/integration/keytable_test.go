package integration

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/spec"
)

// hostConfigCheck checks that one key shows in a container the real
// engine inspected; k is the run the container came from.
type hostConfigCheck func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse)

// keySide is where a row's key is set: the service and the text that
// sets it, a snippet of the Compose project (composeKeysProject) or of the
// meta-data's JSON (graphKeysDoc: run_args and the service graph's keys).
// The zero keySide: the key has no such form (or this test has no
// container for it).
type keySide struct{ service, snippet string }

// keyRow is one key: set in a Compose project, compiled by the generator
// and installed by the module; and set in meta-data (a run_args flag or a
// key of the service graph) parsed by the module and created by dockerapi.
// Each way's container gets the same check.
type keyRow struct {
	name             string
	compose, metaArg keySide
	check            hostConfigCheck
}

// keyRun is one way's containers, by service, and what its checks need.
type keyRun struct {
	ctx                      context.Context
	e                        *dockerapi.Engine
	c                        *client.Client
	run, app, image, hostDir string
	stateDir                 string // the module's (Compose only)
	front, back, vol         string // engine names of the app's resources
	fixture                  string // the project or the meta-data's JSON
	metaData                 []byte // as the module read it
	warnings                 []string
	inspect                  map[string]container.InspectResponse
}

// TestKeysReachEngine: every key, both ways, on the real engine (as
// artifactgen/cli TestArgv: one row per key). The Compose way goes through
// the real generator into an artifact the module installs (so its
// containers run); the meta-data way creates each container from the
// parsed meta-data with dockerapi, nothing started (keys a start would
// need what this machine lacks for).
func TestKeysReachEngine(t *testing.T) {
	start := time.Now()
	ways := []struct {
		name string
		run  *keyRun
		side func(keyRow) keySide
	}{
		{"compose", composeKeysRun(t), func(r keyRow) keySide { return r.compose }},
		{"run_arg", graphKeysRun(t), func(r keyRow) keySide { return r.metaArg }},
	}
	t.Logf("both ways set up in %s", time.Since(start).Round(time.Millisecond))
	for _, row := range keyRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			for _, w := range ways {
				s := w.side(row)
				if s.service == "" {
					continue
				}
				t.Run(w.name, func(t *testing.T) {
					require.Contains(t, w.run.fixture, s.snippet, "the row's snippet is what the %s fixture sets", w.name)
					in, ok := w.run.inspect[s.service]
					require.True(t, ok, "no container for service %s", s.service)
					row.check(t, w.run, in.Config, in.HostConfig, in)
				})
			}
		})
	}
}

// TestKeyRowsHaveASide: a row with neither side would check nothing.
func TestKeyRowsHaveASide(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range keyRows {
		assert.False(t, r.compose.service == "" && r.metaArg.service == "", r.name)
		assert.False(t, seen[r.name], "%s: two rows of one name", r.name)
		seen[r.name] = true
	}
}

func fromCompose(service, snippet string) keySide { return keySide{service, snippet} }
func fromMeta(service, snippet string) keySide    { return keySide{service, snippet} }

var keyRows = []keyRow{
	{"image (pinned by digest)", fromCompose("main", "image: %[1]s"), fromMeta("full", `"image":`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, k.image, cc.Image)
	}},
	{"entrypoint", fromCompose("main", `entrypoint: ["/testapp", "-healthy-after", "0s"]`), fromMeta("full", `"entrypoint":["/testapp","-healthy-after","0s"]`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"/testapp", "-healthy-after", "0s"}, []string(cc.Entrypoint))
	}},
	{"command", fromCompose("main", `command: ["-need", "/etc/app.conf"]`), fromMeta("full", `"command":["-need","/etc/app.conf"]`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"-need", "/etc/app.conf"}, []string(cc.Cmd))
	}},
	{"environment", fromCompose("main", `SPACED: "a b"`), fromMeta("full", "-e FOO=bar -e 'SPACED=a b'"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Subset(t, cc.Env, []string{"FOO=bar", "SPACED=a b"})
	}},
	{"env_file", fromCompose("main", "env_file: env/main.env"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, cc.Env, "FROM_FILE=yes")
	}},
	{"labels", fromCompose("main", "com.example.role: web"), fromMeta("full", "--label com.example.role=web"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "web", cc.Labels["com.example.role"])
	}},
	{"label_file", fromCompose("main", "label_file: main.labels"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "yes", cc.Labels["com.example.from-file"])
	}},
	{"hostname", fromCompose("main", "hostname: ckhost"), fromMeta("full", "--hostname ckhost"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "ckhost", cc.Hostname)
	}},
	{"mac_address", fromCompose("main", `mac_address: "02:42:0a:00:00:99"`), fromMeta("full", "--mac-address 02:42:0a:00:00:99"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		// The client library has no Config.MacAddress any more; the CLI's
		// template reads the engine's JSON (API 1.41 keeps it there).
		assert.Equal(t, "02:42:0a:00:00:99", inspectField(t, r.ID, "{{.Config.MacAddress}}"))
		if r.State != nil && r.State.Running {
			primary := string(hc.NetworkMode) // the first in name order: back
			assert.Equal(t, k.back, primary)
			assert.Equal(t, "02:42:0a:00:00:99", r.NetworkSettings.Networks[primary].MacAddress.String(), "on the primary network")
			assert.NotEqual(t, "02:42:0a:00:00:99", r.NetworkSettings.Networks[k.front].MacAddress.String(), "the engine's own on another")
		}
	}},
	{"user", fromCompose("main", `user: "1000:1000"`), fromMeta("full", "--user 1000:1000"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "1000:1000", cc.User)
	}},
	{"working_dir", fromCompose("main", "working_dir: /srv"), fromMeta("full", "--workdir /srv"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "/srv", cc.WorkingDir)
	}},
	{"restart on-failure:N", fromCompose("main", "restart: on-failure:3"), fromMeta("full", "--restart on-failure:3"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, hc.RestartPolicy)
	}},
	{"restart no", fromCompose("migrate", `restart: "no"`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, []container.RestartPolicyMode{"", "no"}, hc.RestartPolicy.Name)
	}},
	{"restart unless-stopped", keySide{}, fromMeta("plain", "--restart unless-stopped"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.RestartPolicyMode("unless-stopped"), hc.RestartPolicy.Name)
	}},
	{"read_only", fromCompose("main", "read_only: true"), fromMeta("full", "--read-only"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, hc.ReadonlyRootfs)
	}},
	{"init", fromCompose("main", "init: true"), fromMeta("full", "--init"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, hc.Init != nil && *hc.Init)
	}},
	{"tty", fromCompose("main", "tty: true"), fromMeta("full", " -t "), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, cc.Tty)
	}},
	{"stdin_open", fromCompose("main", "stdin_open: true"), fromMeta("full", " -i "), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, cc.OpenStdin)
	}},
	{"cap_add", fromCompose("main", "cap_add: [NET_ADMIN]"), fromMeta("full", "--cap-add NET_ADMIN"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"NET_ADMIN"}, trimCap(hc.CapAdd))
	}},
	{"cap_drop", fromCompose("main", "cap_drop: [MKNOD]"), fromMeta("full", "--cap-drop MKNOD"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"MKNOD"}, trimCap(hc.CapDrop))
	}},
	{"tmpfs", fromCompose("main", `tmpfs: ["/tmp"]`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, hc.Tmpfs, "/tmp")
	}},
	{"tmpfs with options", keySide{}, fromMeta("full", "--tmpfs /run:rw,size=1m"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, map[string]string{"/run": "rw,size=1m"}, hc.Tmpfs)
	}},
	{"volumes type tmpfs", fromCompose("main", "tmpfs: {size: 1048576}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.Contains(t, hc.Tmpfs, "/cache")
		assert.Contains(t, hc.Tmpfs["/cache"], "size=1048576")
	}},
	{"shm_size", fromCompose("main", "shm_size: 16m"), fromMeta("full", "--shm-size 16m"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(16<<20), hc.ShmSize)
	}},
	{"mem_limit", fromCompose("main", "mem_limit: 64m"), fromMeta("full", "--memory 64m"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(64<<20), hc.Memory)
	}},
	{"cpus", fromCompose("main", "cpus: 0.5"), fromMeta("full", "--cpus 0.5"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(5e8), hc.NanoCPUs)
	}},
	{"deploy.resources.limits.memory", fromCompose("dep", "memory: 32m"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(32<<20), hc.Memory)
	}},
	{"deploy.resources.limits.pids", fromCompose("dep", "pids: 50"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, hc.PidsLimit)
		assert.Equal(t, int64(50), *hc.PidsLimit)
	}},
	{"deploy.resources.reservations.memory", fromCompose("dep", "reservations: {memory: 16m}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(16<<20), hc.MemoryReservation)
	}},
	{"deploy.restart_policy", fromCompose("dep", "restart_policy: {condition: on-failure, max_attempts: 2}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, hc.RestartPolicy)
	}},
	{"deploy.placement (swarm's: ignored with a warning)", fromCompose("dep", "placement: {constraints: [node.role==manager]}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"service dep: deploy.placement is swarm's and ignored, as docker compose up ignores it"}, k.warnings)
	}},
	{"links (a dependency, and the alias on the shared network)", fromCompose("dep", `links: ["main:mainlink"]`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		m := k.inspect["main"]
		require.NotNil(t, m.NetworkSettings)
		require.Contains(t, m.NetworkSettings.Networks, k.back)
		assert.Contains(t, m.NetworkSettings.Networks[k.back].Aliases, "mainlink")
		assert.NotContains(t, m.NetworkSettings.Networks[k.front].Aliases, "mainlink", "only where dep sees main")
		assert.Greater(t, r.State.StartedAt, m.State.StartedAt)
	}},
	{"oom_kill_disable", fromCompose("dep", "oom_kill_disable: true"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, hc.OomKillDisable)
		assert.True(t, *hc.OomKillDisable)
	}},
	{"memswap_limit", fromCompose("main", "memswap_limit: 128m"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(128<<20), hc.MemorySwap)
	}},
	{"mem_reservation", fromCompose("main", "mem_reservation: 32m"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(32<<20), hc.MemoryReservation)
	}},
	{"pids_limit", fromCompose("main", "pids_limit: 100"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, hc.PidsLimit)
		assert.Equal(t, int64(100), *hc.PidsLimit)
	}},
	{"ulimits", fromCompose("main", "nofile: {soft: 1024, hard: 2048}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		var got []string
		for _, u := range hc.Ulimits {
			got = append(got, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
		assert.ElementsMatch(t, []string{"nofile=1024:2048", "nproc=512:512"}, got)
	}},
	{"cpu_shares, cpu_period, cpu_quota, cpuset", fromCompose("host", "cpu_shares: 512"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, [3]int64{512, 100000, 50000}, [3]int64{hc.CPUShares, hc.CPUPeriod, hc.CPUQuota})
		assert.Equal(t, "0", hc.CpusetCpus)
	}},
	{"oom_score_adj", fromCompose("host", "oom_score_adj: 100"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, 100, hc.OomScoreAdj)
	}},
	{"blkio_config weight (sent to the engine; this kernel has no I/O weight, so the engine discards it)", fromCompose("host", "blkio_config: {weight: 300}"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, uint16(300), metaService(t, k, "host").Config.BlkioWeight)
		assert.Contains(t, []uint16{0, 300}, hc.BlkioWeight)
	}},
	{"deploy.resources.limits.cpus", fromCompose("dep", `limits: {cpus: "0.25"`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, int64(2.5e8), hc.NanoCPUs)
	}},
	{"sysctls", fromCompose("main", `sysctls: {net.core.somaxconn: "512"}`), fromMeta("full", "--sysctl net.core.somaxconn=512"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, map[string]string{"net.core.somaxconn": "512"}, hc.Sysctls)
	}},
	{"group_add", fromCompose("main", `group_add: ["1234"]`), fromMeta("full", "--group-add 1234"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"1234"}, hc.GroupAdd)
	}},
	{"security_opt no-new-privileges", fromCompose("main", `security_opt: ["no-new-privileges:true"]`), fromMeta("full", "--security-opt no-new-privileges"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		// The engine's form of both spellings.
		assert.Equal(t, []string{"no-new-privileges=true"}, hc.SecurityOpt)
	}},
	{"security_opt systempaths=unconfined", keySide{}, fromMeta("plain", "--security-opt systempaths=unconfined"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Empty(t, hc.MaskedPaths)
		assert.Empty(t, hc.ReadonlyPaths)
		// A container without it has the engine's defaults.
		def := k.inspect["full"].HostConfig
		assert.NotEmpty(t, def.MaskedPaths)
		assert.NotEmpty(t, def.ReadonlyPaths)
	}},
	{"dns", fromCompose("main", "dns: [127.0.0.1]"), fromMeta("full", "--dns 127.0.0.1"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, hc.DNS)
	}},
	{"dns_search, dns_opt", fromCompose("main", "dns_search: [example.internal]"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"example.internal"}, hc.DNSSearch)
		assert.Equal(t, []string{"ndots:2"}, hc.DNSOptions)
	}},
	{"domainname", fromCompose("main", "domainname: example.internal"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "example.internal", cc.Domainname)
	}},
	{"extra_hosts", fromCompose("main", `extra_hosts: ["db.local=10.0.0.5"]`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"db.local:10.0.0.5"}, hc.ExtraHosts)
	}},
	{"add-host spellings", keySide{}, fromMeta("full", "--add-host db:10.0.0.5 --add-host cache=10.0.0.6 --add-host v6=[::1]"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		// host:ip is what the engine reads; host=ip and [v6] are the
		// docker CLI's other spellings, which it sends as host:ip.
		assert.Equal(t, []string{"db:10.0.0.5", "cache:10.0.0.6", "v6:::1"}, hc.ExtraHosts)
	}},
	{"logging", fromCompose("main", "options: {max-size: 1m, max-file: \"2\"}"), fromMeta("full", "--log-driver json-file --log-opt max-size=1m --log-opt max-file=2"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}}, hc.LogConfig)
	}},
	{"stop_signal", fromCompose("main", "stop_signal: SIGINT"), fromMeta("full", "--stop-signal SIGINT"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "SIGINT", cc.StopSignal, "not the image's SIGTERM")
	}},
	{"stop_grace_period (rounded up)", fromCompose("main", "stop_grace_period: 1500ms"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.StopTimeout)
		assert.Equal(t, 2, *cc.StopTimeout)
	}},
	{"stop-timeout", keySide{}, fromMeta("full", "--stop-timeout 7"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.StopTimeout)
		assert.Equal(t, 7, *cc.StopTimeout)
	}},
	{"healthcheck", fromCompose("main", `test: ["CMD", "/testapp", "check"]`), fromMeta("full", `"healthcheck":{"test":["CMD","/testapp","check"]`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.Healthcheck)
		assert.Equal(t, container.HealthConfig{
			Test: []string{"CMD", "/testapp", "check"}, Interval: time.Second, Timeout: 2 * time.Second,
			StartPeriod: time.Second, Retries: 3,
		}, *cc.Healthcheck)
	}},
	{"healthcheck waited for (service_healthy)", fromCompose("main", "condition: service_healthy"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, r.State.Health)
		assert.Equal(t, container.Healthy, r.State.Health.Status, "dep waited for it")
	}},
	{"health-* flags", keySide{}, fromMeta("host", "--health-cmd 'test -e /tmp' --health-interval 3s --health-timeout 1s --health-start-period 2s --health-retries 2"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.Healthcheck)
		assert.Equal(t, container.HealthConfig{Test: []string{"CMD-SHELL", "test -e /tmp"}, Interval: 3 * time.Second, Timeout: time.Second, StartPeriod: 2 * time.Second, Retries: 2}, *cc.Healthcheck)
	}},
	{"healthcheck CMD-SHELL with $${VAR}: the container's own variable, not the device parameter", fromCompose("shell", `test: ["CMD-SHELL", "echo \"probe=$${PROBE}\"; test \"$${PROBE}\" = inside"]`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.Healthcheck)
		assert.Equal(t, []string{"CMD-SHELL", `echo "probe=${PROBE}"; test "${PROBE}" = inside`}, cc.Healthcheck.Test)
		require.NotNil(t, r.State.Health)
		assert.Equal(t, container.Healthy, r.State.Health.Status, "the install waited for it")
		require.NotEmpty(t, r.State.Health.Log)
		assert.Equal(t, "probe=inside\n", r.State.Health.Log[0].Output)
	}},
	{"healthcheck disable", fromCompose("host", "disable: true"), fromMeta("plain", "--no-healthcheck"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, cc.Healthcheck, "the image's check would apply")
		assert.Equal(t, []string{"NONE"}, cc.Healthcheck.Test)
	}},
	{"volumes anonymous and tmpfs inside a project directory bind (their mount points shipped)", fromCompose("shell", "- /srv/app/node_modules"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/srv/app", k.stateDir, "app.conf", "app config "+k.run+"\n")
		m := mountAt(r, "/srv/app/node_modules")
		require.NotNil(t, m, "%+v", r.Mounts)
		assert.Equal(t, mount.TypeVolume, m.Type)
		assert.True(t, m.RW)
		assert.Contains(t, hc.Tmpfs, "/srv/app/cache")
	}},
	{"volumes bind :z (SELinux label, passed to the engine)", fromCompose("shell", ":/srv/host:ro,z"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, hc.Binds, k.hostDir+":/srv/host:ro,z")
		m := mountAt(r, "/srv/host")
		require.NotNil(t, m, "%+v", r.Mounts)
		assert.Equal(t, "z", m.Mode[len(m.Mode)-1:], m.Mode)
	}},
	{"ports", fromCompose("main", `- "127.0.0.1::80"`), fromMeta("full", "-p 127.0.0.1::80 -p 127.0.0.1::53/udp"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		var got []string
		for p, bs := range hc.PortBindings {
			for _, b := range bs {
				got = append(got, b.HostIP.String()+":"+b.HostPort+"->"+p.String())
			}
		}
		assert.ElementsMatch(t, []string{"127.0.0.1:->80/tcp", "127.0.0.1:->53/udp"}, got)
		for _, p := range []string{"80/tcp", "53/udp"} {
			assert.Contains(t, cc.ExposedPorts, network.MustParsePort(p), p)
		}
	}},
	{"publish-all", keySide{}, fromMeta("full", " -P"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, hc.PublishAllPorts)
	}},
	{"volumes named", fromCompose("main", "- data:/data"), fromMeta("full", "-v data:/data"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, hc.Binds, k.vol+":/data", "the app's volume by its engine name")
		m := mountAt(r, "/data")
		require.NotNil(t, m, "%+v", r.Mounts)
		assert.Equal(t, mount.TypeVolume, m.Type)
		assert.Equal(t, k.vol, m.Name, "<app>_<name>")
		assert.True(t, m.RW)
	}},
	{"volumes (top level)", fromCompose("main", "labels: {kind: data}"), fromMeta("full", `"kind":"data"`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		res, err := k.c.VolumeInspect(k.ctx, k.vol, client.VolumeInspectOptions{})
		require.NoError(t, err)
		assert.Equal(t, "local", res.Volume.Driver)
		assert.Equal(t, "data", res.Volume.Labels["kind"])
		assert.Empty(t, res.Volume.Options, "no driver options")
	}},
	{"volumes anonymous", fromCompose("dep", `volumes: ["/anon"]`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		m := mountAt(r, "/anon")
		require.NotNil(t, m, "%+v", r.Mounts)
		assert.Equal(t, mount.TypeVolume, m.Type)
	}},
	{"volumes bind absolute :ro", fromCompose("main", "- %[3]s:/host:ro"), fromMeta("full", ":/host:ro"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Contains(t, hc.Binds, k.hostDir+":/host:ro")
		m := mountAt(r, "/host")
		require.NotNil(t, m, "%+v", r.Mounts)
		assert.Equal(t, mount.TypeBind, m.Type)
		assert.Equal(t, k.hostDir, m.Source)
		assert.False(t, m.RW)
	}},
	{"volumes bind inside the project", fromCompose("main", "- ./conf:/etc/shop:ro"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/etc/shop", k.stateDir, "app.conf", "app config "+k.run+"\n")
	}},
	{"volumes bind of a project file", fromCompose("main", "- ./conf/app.conf:/etc/single.conf:ro"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/etc/single.conf", k.stateDir, "", "app config "+k.run+"\n")
	}},
	{"configs file", fromCompose("main", "target: /etc/app.conf"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/etc/app.conf", k.stateDir, "", "app config "+k.run+"\n")
	}},
	{"configs content (default target)", fromCompose("main", `content: "hello motd\n"`), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/motd", k.stateDir, "", "hello motd\n")
	}},
	{"secrets environment (default target)", fromCompose("main", "environment: %[4]s"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/run/secrets/token", k.stateDir, "", "s3cret-"+k.run)
	}},
	{"secrets file (long syntax target)", fromCompose("main", "target: /etc/pw"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		checkFileMount(t, r, "/etc/pw", k.stateDir, "", "pw-"+k.run)
	}},
	{"networks with aliases", fromCompose("main", "aliases: [web, www]"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, r.NetworkSettings)
		require.Contains(t, r.NetworkSettings.Networks, k.front)
		require.Contains(t, r.NetworkSettings.Networks, k.back)
		assert.Subset(t, r.NetworkSettings.Networks[k.front].Aliases, []string{"main", "web", "www"})
		assert.Contains(t, r.NetworkSettings.Networks[k.back].Aliases, "main")
	}},
	{"networks of the meta-data (the first by name is the network mode)", keySide{}, fromMeta("full", `"networks":{"back":["api"],"front":["web","www"]}`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.NetworkMode(k.back), hc.NetworkMode)
		require.NotNil(t, r.NetworkSettings)
		nets := r.NetworkSettings.Networks
		require.Contains(t, nets, k.front)
		require.Contains(t, nets, k.back)
		assert.Len(t, nets, 2)
		assert.Subset(t, nets[k.front].Aliases, []string{"web", "www"})
		assert.Subset(t, nets[k.back].Aliases, []string{"api"})
		c, err := k.e.InspectContainer(k.ctx, r.ID)
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{k.front: {"web", "www"}, k.back: {"api"}}, c.Networks, "as dockerapi reports them")
	}},
	{"networks (top level: internal, labels)", fromCompose("main", "labels: {tier: front}"), fromMeta("full", `"tier":"front"`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		for _, n := range []string{k.front, k.back} {
			res, err := k.c.NetworkInspect(k.ctx, n, client.NetworkInspectOptions{})
			require.NoError(t, err, n)
			assert.True(t, res.Network.Internal, n)
			assert.Equal(t, "bridge", res.Network.Driver, n)
		}
		res, err := k.c.NetworkInspect(k.ctx, k.front, client.NetworkInspectOptions{})
		require.NoError(t, err)
		assert.Equal(t, "front", res.Network.Labels["tier"])
	}},
	{"networks list form", fromCompose("dep", "networks: [back]"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		require.NotNil(t, r.NetworkSettings)
		assert.Len(t, r.NetworkSettings.Networks, 1)
		require.Contains(t, r.NetworkSettings.Networks, k.back)
		assert.Contains(t, r.NetworkSettings.Networks[k.back].Aliases, "dep")
	}},
	{"network of the app by name", keySide{}, fromMeta("netflag", "--network front"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.NetworkMode(k.front), hc.NetworkMode)
		require.NotNil(t, r.NetworkSettings)
		assert.Equal(t, []string{k.front}, slices.Sorted(maps.Keys(r.NetworkSettings.Networks)))
	}},
	{"network_mode none", fromCompose("migrate", "network_mode: none"), fromMeta("host", "--network none"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.NetworkMode("none"), hc.NetworkMode)
	}},
	{"container_name", fromCompose("dep", "container_name: %[2]s-fixed"), fromMeta("plain", "-fixed"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "/"+k.app+"-fixed", r.Name)
	}},
	{"container name by default", keySide{}, fromMeta("full", `"full":{`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, "/"+k.app+"-full", r.Name)
	}},
	{"entrypoint cleared (run_args --entrypoint '')", keySide{}, fromMeta("plain", "--entrypoint ''"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.NotEqual(t, []string{"/testapp"}, cc.Entrypoint, "the image's entrypoint is cleared")
		assert.Empty(t, strings.Join(cc.Entrypoint, ""))
		assert.Equal(t, []string{"/testapp", "-quiet"}, cc.Cmd)
	}},
	{"entrypoint [\"\"]", keySide{}, fromMeta("netflag", `"entrypoint":[""]`), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Empty(t, strings.Join(cc.Entrypoint, ""), "the image's entrypoint is cleared")
		assert.Equal(t, []string{"/testapp"}, cc.Cmd)
	}},
	{"depends_on service_completed_successfully", fromCompose("main", "condition: service_completed_successfully"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		m := k.inspect["migrate"]
		require.NotNil(t, m.State)
		assert.Equal(t, 0, m.State.ExitCode)
		assert.Greater(t, r.State.StartedAt, m.State.FinishedAt, "main starts after migrate exited")
	}},
	{"depends_on service_healthy", fromCompose("dep", "condition: service_healthy"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Greater(t, r.State.StartedAt, k.inspect["main"].State.StartedAt)
	}},
	{"depends_on service_started (required: false on a service of an inactive profile dropped)", fromCompose("host", "required: false"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.NotContains(t, k.inspect, "ghost", "profiles")
		assert.Greater(t, r.State.StartedAt, k.inspect["dep"].State.StartedAt)
	}},
	{"privileged (created only: this dockerd cannot start it)", fromCompose("priv", "privileged: true"), fromMeta("host", "--privileged"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.True(t, hc.Privileged)
	}},
	{"pid", fromCompose("host", "pid: host"), fromMeta("host", "--pid host"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.PidMode("host"), hc.PidMode)
	}},
	{"ipc", fromCompose("host", "ipc: shareable"), fromMeta("host", "--ipc shareable"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.IpcMode("shareable"), hc.IpcMode)
	}},
	{"uts", fromCompose("host", "uts: host"), fromMeta("host", "--uts host"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.UTSMode("host"), hc.UTSMode)
	}},
	{"userns_mode", fromCompose("host", "userns_mode: host"), fromMeta("host", "--userns host"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, container.UsernsMode("host"), hc.UsernsMode)
	}},
	{"devices", fromCompose("host", `devices: ["/dev/full:/dev/xfull:r"]`), fromMeta("host", "--device /dev/full:/dev/xfull:r"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []container.DeviceMapping{{PathOnHost: "/dev/full", PathInContainer: "/dev/xfull", CgroupPermissions: "r"}}, hc.Devices)
	}},
	{"device_cgroup_rules", fromCompose("host", `device_cgroup_rules: ["c 1:3 rwm"]`), fromMeta("host", "--device-cgroup-rule 'c 1:3 rwm'"), func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		assert.Equal(t, []string{"c 1:3 rwm"}, hc.DeviceCgroupRules)
	}},
	{"x-mender-update (not inspectable: the meta-data the module read)", fromCompose("host", "x-mender-update: hand-over"), keySide{}, func(t *testing.T, k *keyRun, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
		// The strategy shows only when a later update changes the
		// service; here: what the module parsed from FILES_DIR.
		assert.Equal(t, spec.HandOver, metaService(t, k, "host").Update)
	}},
}

// metaService is service name of the meta-data the module read.
func metaService(t *testing.T, k *keyRun, name string) spec.Service {
	t.Helper()
	m, err := spec.Parse(k.metaData)
	require.NoError(t, err)
	for _, s := range m.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s in the meta-data", name)
	return spec.Service{}
}

// checkFileMount: target is a read-only bind from the module's state dir
// whose host side (the file, or name inside the directory) holds content.
func checkFileMount(t *testing.T, r container.InspectResponse, target, stateDir, name, content string) {
	t.Helper()
	m := mountAt(r, target)
	require.NotNil(t, m, "%+v", r.Mounts)
	assert.Equal(t, mount.TypeBind, m.Type)
	assert.False(t, m.RW, "read-only")
	assert.True(t, strings.HasPrefix(m.Source, stateDir+string(filepath.Separator)), "%s is in the module's state dir %s", m.Source, stateDir)
	b, err := os.ReadFile(filepath.Join(m.Source, name))
	require.NoError(t, err)
	assert.Equal(t, content, string(b))
}

// trimCap drops the CAP_ prefix that the client library adds.
func trimCap(caps []string) []string {
	out := []string{}
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(c, "CAP_"))
	}
	return out
}

func mountAt(r container.InspectResponse, dst string) *container.MountPoint {
	i := slices.IndexFunc(r.Mounts, func(m container.MountPoint) bool { return m.Destination == dst })
	if i < 0 {
		return nil
	}
	return &r.Mounts[i]
}
