package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// graphKeysRun is the meta-data way of TestKeysReachEngine: for each key
// of the meta-data that configures a container (run_args flags and the
// service graph's own keys), dockerapi creates the container from the
// parsed meta-data on the real engine. Nothing is started: the engine
// keeps what it was given at creation, and a start would need what the
// test machine may lack (a route, cgroup controllers).
func graphKeysRun(t *testing.T) *keyRun {
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
					"--user 1000:1000 --workdir /srv --hostname ckhost -t -i --mac-address 02:42:0a:00:00:99",
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
				Entrypoint: []string{"/testapp", "-healthy-after", "0s"},
				Command:    []string{"-need", "/etc/app.conf"},
				Healthcheck: &spec.HealthcheckDoc{
					Test:     []string{"CMD", "/testapp", "check"},
					Interval: "1s", Timeout: "2s", StartPeriod: "1s", Retries: 3,
				},
				Networks: map[string][]string{"front": {"web", "www"}, "back": {"api"}},
			},
			{
				Name:  "host",
				Image: ref,
				RunArgs: "--network none --privileged --pid host --ipc shareable --uts host --userns host" +
					" --device /dev/full:/dev/xfull:r --device-cgroup-rule 'c 1:3 rwm'" +
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
	t.Cleanup(func() { c.Close() })
	inspect := map[string]container.InspectResponse{}
	for name, id := range ids {
		res, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		require.NoError(t, err, name)
		require.NotNil(t, res.Container.Config, name)
		require.NotNil(t, res.Container.HostConfig, name)
		inspect[name] = res.Container
	}
	return &keyRun{
		ctx: ctx, e: e, c: c, run: run, app: app, image: ref, hostDir: hostDir,
		front: spec.ResourceName(app, "front"), back: spec.ResourceName(app, "back"), vol: spec.ResourceName(app, "data"),
		fixture: string(data), metaData: data, inspect: inspect,
	}
}

func withTestLabel(labels map[string]string, run string) map[string]string {
	out := map[string]string{enginetest.TestLabel: run}
	for k, v := range labels {
		out[k] = v
	}
	return out
}
