package integration

import (
	"context"
	"maps"
	"net/netip"
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

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// TestGraphKeysReachEngine: for each key of the meta-data that configures
// a container (run_args flags and the service graph's own keys), the
// container that dockerapi creates from the parsed meta-data shows it when
// the real engine inspects it. Nothing is started: the engine keeps what
// it was given at creation, and a start would need what the test machine
// may lack (a route, cgroup controllers).
func TestGraphKeysReachEngine(t *testing.T) {
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	run := fixture.RandHex()
	app := "gk-" + run
	ref := fixture.MustPush(t, reg, "it/graphkeys", run, fixture.Image{Version: run, Healthcheck: true})
	require.NoError(t, e.PullImage(ctx, ref))
	t.Cleanup(func() { e.RemoveImage(ctx, ref) })
	t.Cleanup(func() { enginetest.RemoveLabelled(t, e, enginetest.TestLabel, run) })
	hostDir := t.TempDir()

	doc := spec.Document{
		App: app,
		Networks: map[string]spec.NetworkDoc{
			"front": {Internal: true, Labels: map[string]string{"tier": "front"}},
			"back":  {Internal: true},
		},
		Volumes: map[string]spec.VolumeDoc{"data": {Labels: map[string]string{"kind": "data"}}},
		Services: spec.Services{
			{
				Name:  "full",
				Image: ref,
				RunArgs: strings.Join([]string{
					"-e FOO=bar -e 'SPACED=a b'",
					"--label com.example.role=web",
					"--user 1000:1000 --workdir /srv --hostname gkhost -t -i",
					"--restart on-failure:3 --read-only --init",
					"--cap-add NET_ADMIN --cap-drop MKNOD",
					"--tmpfs /run:rw,size=1m",
					"-v data:/data -v " + hostDir + ":/host:ro",
					"-p 127.0.0.1::80 -p 127.0.0.1::53/udp -P",
					"--add-host db:10.0.0.5 --add-host cache=10.0.0.6 --add-host v6=[::1]",
					"--dns 127.0.0.1",
					"--memory 64m --cpus 0.5 --shm-size 16m",
					"--log-driver json-file --log-opt max-size=1m --log-opt max-file=2",
					"--stop-signal SIGINT --stop-timeout 7",
					"--sysctl net.core.somaxconn=512",
					"--group-add 1234",
					"--security-opt no-new-privileges",
				}, " "),
				Entrypoint: []string{"/testapp", "-quiet"},
				Command:    []string{"serve", "--port", "80"},
				Healthcheck: &spec.HealthcheckDoc{
					Test:     []string{"CMD", "/testapp", "check"},
					Interval: "5s", Timeout: "2s", StartPeriod: "1s", Retries: 4,
				},
				Networks: map[string][]string{"front": {"web", "www"}, "back": {"api"}},
			},
			{
				Name:  "host",
				Image: ref,
				RunArgs: "--network none --privileged --pid host --ipc shareable --uts host --userns host" +
					" --device /dev/null:/dev/xnull:r --device-cgroup-rule 'c 1:3 rwm'" +
					" --health-cmd 'test -e /tmp' --health-interval 3s --health-timeout 1s --health-start-period 2s --health-retries 2",
			},
			{
				Name:    "plain",
				Image:   ref,
				RunArgs: "--network none --name " + app + "-fixed --no-healthcheck --entrypoint '' --security-opt systempaths=unconfined --restart unless-stopped",
				// Without the image's entrypoint, the command is all.
				Command: []string{"/testapp", "-quiet"},
			},
			{
				// --network NAME of one of the app's networks, and the
				// document's way to clear the entrypoint.
				Name:       "netflag",
				Image:      ref,
				RunArgs:    "--network front",
				Entrypoint: []string{""},
				Command:    []string{"/testapp"},
			},
		},
	}
	data, err := doc.JSON()
	require.NoError(t, err)
	meta, err := spec.Parse(data)
	require.NoError(t, err)

	for _, n := range meta.Networks {
		require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: n.EngineName, Internal: n.Internal, Labels: withTestLabel(n.Labels, run)}))
	}
	for _, v := range meta.Volumes {
		require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: v.EngineName, Labels: withTestLabel(v.Labels, run)}))
	}
	ids := map[string]string{}
	for _, s := range meta.Services {
		cfg := s.Config
		cfg.Labels = withTestLabel(cfg.Labels, run)
		id, err := e.CreateContainer(ctx, cfg)
		require.NoError(t, err, s.Name)
		for _, ep := range cfg.Networks[min(1, len(cfg.Networks)):] {
			require.NoError(t, e.ConnectNetwork(ctx, id, ep.Network, ep.Aliases), s.Name)
		}
		ids[s.Name] = id
	}

	c, err := client.New(client.FromEnv)
	require.NoError(t, err)
	defer c.Close()
	inspect := map[string]container.InspectResponse{}
	for name, id := range ids {
		res, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		require.NoError(t, err, name)
		require.NotNil(t, res.Container.Config, name)
		require.NotNil(t, res.Container.HostConfig, name)
		inspect[name] = res.Container
	}
	front, back, vol := spec.ResourceName(app, "front"), spec.ResourceName(app, "back"), spec.ResourceName(app, "data")

	rows := []keyRow{
		{"run_args --env", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Subset(t, cc.Env, []string{"FOO=bar", "SPACED=a b"})
		}},
		{"run_args --label", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "web", cc.Labels["com.example.role"])
		}},
		{"run_args --user", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "1000:1000", cc.User)
		}},
		{"run_args --workdir", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "/srv", cc.WorkingDir)
		}},
		{"run_args --hostname", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "gkhost", cc.Hostname)
		}},
		{"run_args --tty", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, cc.Tty)
		}},
		{"run_args --interactive", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, cc.OpenStdin)
		}},
		{"run_args --restart on-failure:N", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, hc.RestartPolicy)
		}},
		{"run_args --restart", "plain", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.RestartPolicyMode("unless-stopped"), hc.RestartPolicy.Name)
		}},
		{"run_args --read-only", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.ReadonlyRootfs)
		}},
		{"run_args --init", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.Init != nil && *hc.Init)
		}},
		{"run_args --cap-add", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"NET_ADMIN"}, trimCap(hc.CapAdd))
		}},
		{"run_args --cap-drop", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"MKNOD"}, trimCap(hc.CapDrop))
		}},
		{"run_args --tmpfs", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, map[string]string{"/run": "rw,size=1m"}, hc.Tmpfs)
		}},
		{"run_args -v named volume", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, hc.Binds, vol+":/data", "the app's volume by its engine name")
			m := mountAt(r, "/data")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeVolume, m.Type)
			assert.Equal(t, vol, m.Name)
			assert.True(t, m.RW)
		}},
		{"run_args -v bind", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, hc.Binds, hostDir+":/host:ro")
			m := mountAt(r, "/host")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeBind, m.Type)
			assert.Equal(t, hostDir, m.Source)
			assert.False(t, m.RW)
		}},
		{"run_args --publish", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			lo := netip.MustParseAddr("127.0.0.1")
			for _, p := range []string{"80/tcp", "53/udp"} {
				port := network.MustParsePort(p)
				assert.Contains(t, cc.ExposedPorts, port, p)
				assert.Equal(t, []network.PortBinding{{HostIP: lo}}, hc.PortBindings[port], p)
			}
		}},
		{"run_args --publish-all", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.PublishAllPorts)
		}},
		{"run_args --add-host", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			// host:ip is what the engine reads; host=ip and [v6] are the
			// docker CLI's other spellings, which it sends as host:ip.
			assert.Equal(t, []string{"db:10.0.0.5", "cache:10.0.0.6", "v6:::1"}, hc.ExtraHosts)
		}},
		{"run_args --dns", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, hc.DNS)
		}},
		{"run_args --memory", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(64<<20), hc.Memory)
		}},
		{"run_args --cpus", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(5e8), hc.NanoCPUs)
		}},
		{"run_args --shm-size", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(16<<20), hc.ShmSize)
		}},
		{"run_args --log-driver --log-opt", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "json-file", hc.LogConfig.Type)
			assert.Equal(t, map[string]string{"max-size": "1m", "max-file": "2"}, hc.LogConfig.Config)
		}},
		{"run_args --stop-signal", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "SIGINT", cc.StopSignal, "not the image's SIGTERM")
		}},
		{"run_args --stop-timeout", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.StopTimeout)
			assert.Equal(t, 7, *cc.StopTimeout)
		}},
		{"run_args --sysctl", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, map[string]string{"net.core.somaxconn": "512"}, hc.Sysctls)
		}},
		{"run_args --group-add", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"1234"}, hc.GroupAdd)
		}},
		{"run_args --security-opt no-new-privileges", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"no-new-privileges=true"}, hc.SecurityOpt)
		}},
		{"run_args --security-opt systempaths=unconfined", "plain", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Empty(t, hc.MaskedPaths)
			assert.Empty(t, hc.ReadonlyPaths)
			// A container without it has the engine's defaults.
			def := inspect["full"].HostConfig
			assert.NotEmpty(t, def.MaskedPaths)
			assert.NotEmpty(t, def.ReadonlyPaths)
		}},
		{"run_args --network none", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.NetworkMode("none"), hc.NetworkMode)
		}},
		{"run_args --privileged", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.Privileged)
		}},
		{"run_args --pid", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.PidMode("host"), hc.PidMode)
		}},
		{"run_args --ipc", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.IpcMode("shareable"), hc.IpcMode)
		}},
		{"run_args --uts", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.UTSMode("host"), hc.UTSMode)
		}},
		{"run_args --userns", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.UsernsMode("host"), hc.UsernsMode)
		}},
		{"run_args --device", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/xnull", CgroupPermissions: "r"}}, hc.Devices)
		}},
		{"run_args --device-cgroup-rule", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"c 1:3 rwm"}, hc.DeviceCgroupRules)
		}},
		{"run_args --health-*", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck)
			assert.Equal(t, container.HealthConfig{Test: []string{"CMD-SHELL", "test -e /tmp"}, Interval: 3 * time.Second, Timeout: time.Second, StartPeriod: 2 * time.Second, Retries: 2}, *cc.Healthcheck)
		}},
		{"run_args --no-healthcheck", "plain", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck, "the image's check would apply")
			assert.Equal(t, []string{"NONE"}, cc.Healthcheck.Test)
		}},
		{"run_args --entrypoint ''", "plain", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.NotEqual(t, []string{"/testapp"}, cc.Entrypoint, "the image's entrypoint is cleared")
			assert.Empty(t, strings.Join(cc.Entrypoint, ""))
			assert.Equal(t, []string{"/testapp", "-quiet"}, cc.Cmd)
		}},
		{"run_args --name", "plain", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "/"+app+"-fixed", r.Name)
		}},
		{"container name", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "/"+app+"-full", r.Name)
		}},
		{"image", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, ref, cc.Image)
		}},
		{"entrypoint", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"/testapp", "-quiet"}, cc.Entrypoint)
		}},
		{"command", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"serve", "--port", "80"}, cc.Cmd)
		}},
		{"healthcheck", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck)
			assert.Equal(t, container.HealthConfig{Test: []string{"CMD", "/testapp", "check"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 4}, *cc.Healthcheck)
		}},
		{"networks", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			// The first network by name is the network mode.
			assert.Equal(t, container.NetworkMode(back), hc.NetworkMode)
			require.NotNil(t, r.NetworkSettings)
			nets := r.NetworkSettings.Networks
			require.Contains(t, nets, front)
			require.Contains(t, nets, back)
			assert.Len(t, nets, 2)
			assert.Subset(t, nets[front].Aliases, []string{"web", "www"})
			assert.Subset(t, nets[back].Aliases, []string{"api"})
			c, err := e.InspectContainer(ctx, r.ID)
			require.NoError(t, err)
			assert.Equal(t, map[string][]string{front: {"web", "www"}, back: {"api"}}, c.Networks, "as dockerapi reports them")
		}},
		{"run_args --network of the app", "netflag", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.NetworkMode(front), hc.NetworkMode)
			require.NotNil(t, r.NetworkSettings)
			assert.Equal(t, []string{front}, slices.Sorted(maps.Keys(r.NetworkSettings.Networks)))
		}},
		{"entrypoint [\"\"]", "netflag", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Empty(t, strings.Join(cc.Entrypoint, ""), "the image's entrypoint is cleared")
			assert.Equal(t, []string{"/testapp"}, cc.Cmd)
		}},
		{"networks (top level)", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			for _, n := range []string{front, back} {
				res, err := c.NetworkInspect(ctx, n, client.NetworkInspectOptions{})
				require.NoError(t, err, n)
				assert.True(t, res.Network.Internal, n)
				assert.Equal(t, "bridge", res.Network.Driver, n)
			}
			res, err := c.NetworkInspect(ctx, front, client.NetworkInspectOptions{})
			require.NoError(t, err)
			assert.Equal(t, "front", res.Network.Labels["tier"])
		}},
		{"volumes (top level)", "full", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			res, err := c.VolumeInspect(ctx, vol, client.VolumeInspectOptions{})
			require.NoError(t, err)
			assert.Equal(t, "local", res.Volume.Driver)
			assert.Equal(t, "data", res.Volume.Labels["kind"])
			assert.Empty(t, res.Volume.Options, "no driver options")
		}},
	}
	checkKeys(t, rows, inspect)
}

// keyRow checks that one key shows in the inspected container of service.
type keyRow struct {
	key     string
	service string
	check   func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse)
}

// checkKeys runs each row, as a subtest named after its key and service,
// against inspect (containers by service).
func checkKeys(t *testing.T, rows []keyRow, inspect map[string]container.InspectResponse) {
	for _, r := range rows {
		t.Run(r.key+"/"+r.service, func(t *testing.T) {
			in, ok := inspect[r.service]
			require.True(t, ok, "no container for service %s", r.service)
			r.check(t, in.Config, in.HostConfig, in)
		})
	}
}

func withTestLabel(labels map[string]string, run string) map[string]string {
	out := map[string]string{enginetest.TestLabel: run}
	for k, v := range labels {
		out[k] = v
	}
	return out
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
