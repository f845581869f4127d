package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// composeKeysProject is a Compose project whose services together use
// every key the README marks supported. %[1]s is the image, %[2]s the app,
// %[3]s a host directory, %[4]s the secret's environment variable, %[5]s
// the volumes that put the machine's /bin/sh in the shell service (the
// test image has no shell).
const composeKeysProject = `
services:
  main:
    image: %[1]s
    entrypoint: ["/testapp", "-healthy-after", "0s"]
    command: ["-need", "/etc/app.conf"]
    environment:
      FOO: bar
      SPACED: "a b"
    env_file: env/main.env
    labels:
      com.example.role: web
    label_file: main.labels
    hostname: ckhost
    user: "1000:1000"
    working_dir: /srv
    restart: on-failure:3
    read_only: true
    init: true
    tty: true
    stdin_open: true
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    tmpfs: ["/tmp"]
    shm_size: 16m
    mem_limit: 64m
    memswap_limit: 128m
    mem_reservation: 32m
    pids_limit: 100
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    cpus: 0.5
    sysctls: {net.core.somaxconn: "512"}
    group_add: ["1234"]
    security_opt: ["no-new-privileges:true"]
    dns: [127.0.0.1]
    dns_search: [example.internal]
    dns_opt: ["ndots:2"]
    domainname: example.internal
    extra_hosts: ["db.local=10.0.0.5"]
    logging:
      driver: json-file
      options: {max-size: 1m, max-file: "2"}
    stop_signal: SIGINT
    stop_grace_period: 1500ms
    healthcheck:
      test: ["CMD", "/testapp", "check"]
      interval: 1s
      timeout: 2s
      start_period: 1s
      retries: 3
    ports:
      - "127.0.0.1::80"
      - target: 53
        host_ip: 127.0.0.1
        protocol: udp
    networks:
      front:
        aliases: [web, www]
      back: {}
    volumes:
      - data:/data
      - %[3]s:/host:ro
      - ./conf:/etc/shop:ro
      - ./conf/app.conf:/etc/single.conf:ro
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1048576}
    configs:
      - source: app
        target: /etc/app.conf
      - motd
    secrets:
      - token
      - source: pw
        target: /etc/pw
    scale: 1
    expose: ["80"]
    pull_policy: always
    depends_on:
      migrate:
        condition: service_completed_successfully
  dep:
    image: %[1]s
    container_name: %[2]s-fixed
    networks: [back]
    links: ["main:mainlink"]
    volumes: ["/anon"]
    oom_kill_disable: true
    deploy:
      replicas: 1
      placement: {constraints: [node.role==manager]}
      resources:
        limits: {cpus: "0.25", memory: 32m, pids: 50}
        reservations: {memory: 16m}
      restart_policy: {condition: on-failure, max_attempts: 2}
    depends_on:
      main:
        condition: service_healthy
  migrate:
    image: %[1]s
    command: ["-exit-after", "100ms", "-code", "0"]
    network_mode: none
    restart: "no"
  host:
    image: %[1]s
    network_mode: none
    pid: host
    ipc: shareable
    uts: host
    userns_mode: host
    devices: ["/dev/full:/dev/xfull:r"]
    cpu_shares: 512
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: "0"
    oom_score_adj: 100
    blkio_config: {weight: 300}
    device_cgroup_rules: ["c 1:3 rwm"]
    healthcheck:
      disable: true
    x-mender-update: hand-over
    depends_on:
      dep:
        condition: service_started
      ghost:
        condition: service_started
        required: false
  ghost:
    image: %[1]s
    network_mode: none
    profiles: [debug]
  shell:
    image: %[1]s
    network_mode: none
    environment:
      PROBE: inside
    volumes:
%[5]s
      - ./conf:/srv/app:ro
      - /srv/app/node_modules
      - type: tmpfs
        target: /srv/app/cache
      - %[3]s:/srv/host:ro,z
    healthcheck:
      test: ["CMD-SHELL", "echo \"probe=$${PROBE}\"; test \"$${PROBE}\" = inside"]
      interval: 1s
      retries: 60

networks:
  front:
    internal: true
    labels: {tier: front}
  back:
    internal: true

volumes:
  data:
    labels: {kind: data}

configs:
  app:
    file: ./conf/app.conf
  motd:
    content: "hello motd\n"

secrets:
  token:
    environment: %[4]s
  pw:
    file: ./conf/pw.txt
`

// composeKeysCreateOnly has the keys this test's dockerd can create but not
// start (it may not hand a container every capability): the chain is the
// same up to the engine's create, which the module would do next.
const composeKeysCreateOnly = `
services:
  priv:
    image: %[1]s
    network_mode: none
    privileged: true
`

// TestComposeKeysReachEngine closes the chain for Compose apps: each
// supported key of a Compose project goes through the real generator into
// an artifact, the module installs that artifact on the real engine, and
// the created container's inspected configuration shows the key.
func TestComposeKeysReachEngine(t *testing.T) {
	start := time.Now()
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	d := fixture.NewDevice(t, e)
	ctx := context.Background()
	run := fixture.RandHex()
	app := "ck-" + run
	tag := reg.Addr + "/it/composekeys:" + run
	pinned := fixture.MustPush(t, reg, "it/composekeys", run, fixture.Image{Version: run})
	c, err := client.New(client.FromEnv)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	var anon []string
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, app)
		for _, v := range anon {
			c.VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true})
		}
		e.RemoveImage(ctx, pinned)
	})

	dir, hostDir := t.TempDir(), t.TempDir()
	secretVar := "CK_TOKEN_" + run
	t.Setenv(secretVar, "s3cret-"+run)
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("compose.yaml", fmt.Sprintf(composeKeysProject, tag, app, hostDir, secretVar, shellVolumes(t)))
	// A device parameter named like the shell's own variable, which
	// $${PROBE} must not take.
	require.NoError(t, os.WriteFile(filepath.Join(d.U.Config.ParamsDir, app+".json"), []byte(`{"PROBE":"outside"}`), 0o644))
	write("env/main.env", "FROM_FILE=yes\n")
	write("main.labels", "com.example.from-file=yes\n")
	write("conf/app.conf", "app config "+run+"\n")
	write("conf/pw.txt", "pw-"+run)
	write("create-only.yaml", fmt.Sprintf(composeKeysCreateOnly, tag))

	out := filepath.Join(t.TempDir(), "ck.mender")
	var warnings []string
	_, err = artifactgen.Generate(ctx, artifactgen.Request{
		Options:    artifactgen.Options{ArtifactName: "ck-1", DeviceTypes: []string{"test-device"}, App: app},
		ComposeDir: dir,
		Resolver:   &image.Resolver{Keychain: authn.NewMultiKeychain()},
		Write:      artifact.WriteOptions{Compression: artifact.None},
		Output:     out,
		Warn:       func(w string) { warnings = append(warnings, w) },
	})
	require.NoError(t, err)
	d.ArtifactFile(out)
	require.NoError(t, d.Run("Download"), d.Log.String())
	// inspectApp inspects the app's containers by service, and notes their
	// anonymous volumes, which removing a container leaves behind.
	inspectApp := func() map[string]container.InspectResponse {
		l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: app})
		require.NoError(t, err)
		inspect := map[string]container.InspectResponse{}
		for _, lc := range l {
			res, err := c.ContainerInspect(ctx, lc.ID, client.ContainerInspectOptions{})
			require.NoError(t, err)
			r := res.Container
			require.NotNil(t, r.Config)
			require.NotNil(t, r.HostConfig)
			inspect[r.Config.Labels[module.LabelService]] = r
			for _, m := range r.Mounts {
				if m.Type == mount.TypeVolume && !strings.HasPrefix(m.Name, app+"_") && !slices.Contains(anon, m.Name) {
					anon = append(anon, m.Name)
				}
			}
		}
		return inspect
	}
	if err := d.Run("ArtifactInstall"); err != nil {
		inspectApp()
		d.Run("ArtifactRollback")
		d.Run("ArtifactFailure")
		d.Run("Cleanup")
		t.Fatalf("install: %v\n%s", err, d.Log.String())
	}
	t.Logf("generated and installed in %s", time.Since(start).Round(time.Millisecond))

	// The create-only project: generated the same way, its meta-data
	// parsed as the module parses it, each container created, not started.
	outCreate := filepath.Join(t.TempDir(), "ck-create.mender")
	_, err = artifactgen.Generate(ctx, artifactgen.Request{
		Options:      artifactgen.Options{ArtifactName: "ck-create", DeviceTypes: []string{"test-device"}, App: app},
		ComposeDir:   dir,
		ComposeFiles: []string{"create-only.yaml"},
		Resolver:     &image.Resolver{Keychain: authn.NewMultiKeychain()},
		Output:       outCreate,
	})
	require.NoError(t, err)
	f, err := os.Open(outCreate)
	require.NoError(t, err)
	info, err := artifact.Read(f, nil)
	f.Close()
	require.NoError(t, err)
	createOnly, err := spec.Parse(info.MetaData)
	require.NoError(t, err)
	for _, s := range createOnly.Services {
		cfg := s.Config
		cfg.Name = app + "-" + s.Name
		cfg.Labels = maps.Clone(cfg.Labels)
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[module.LabelApp], cfg.Labels[module.LabelService] = app, s.Name
		_, err := e.CreateContainer(ctx, cfg)
		require.NoError(t, err, s.Name)
	}

	inspect := inspectApp()
	require.Len(t, inspect, 6, "%v", slices.Collect(maps.Keys(inspect)))
	front, back, vol := spec.ResourceName(app, "front"), spec.ResourceName(app, "back"), spec.ResourceName(app, "data")
	nets := map[string]bool{}
	for _, n := range []string{front, back} {
		res, err := c.NetworkInspect(ctx, n, client.NetworkInspectOptions{})
		require.NoError(t, err, n)
		nets[n] = res.Network.Internal
		if n == front {
			assert.Equal(t, "front", res.Network.Labels["tier"], "networks.front.labels")
		}
	}
	stateDir := d.U.Config.StateDir

	rows := []keyRow{
		{"image", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, pinned, cc.Image, "pinned by digest")
		}},
		{"entrypoint", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"/testapp", "-healthy-after", "0s"}, []string(cc.Entrypoint))
		}},
		{"command", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"-need", "/etc/app.conf"}, []string(cc.Cmd))
		}},
		{"environment", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Subset(t, cc.Env, []string{"FOO=bar", "SPACED=a b"})
		}},
		{"env_file", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, cc.Env, "FROM_FILE=yes")
		}},
		{"labels", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "web", cc.Labels["com.example.role"])
		}},
		{"label_file", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "yes", cc.Labels["com.example.from-file"])
		}},
		{"hostname", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "ckhost", cc.Hostname)
		}},
		{"user", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "1000:1000", cc.User)
		}},
		{"working_dir", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "/srv", cc.WorkingDir)
		}},
		{"restart on-failure:N", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, hc.RestartPolicy)
		}},
		{"restart no", "migrate", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, []container.RestartPolicyMode{"", "no"}, hc.RestartPolicy.Name)
		}},
		{"read_only", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.ReadonlyRootfs)
		}},
		{"init", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.Init != nil && *hc.Init)
		}},
		{"tty", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, cc.Tty)
		}},
		{"stdin_open", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, cc.OpenStdin)
		}},
		{"cap_add", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"NET_ADMIN"}, trimCap(hc.CapAdd))
		}},
		{"cap_drop", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"MKNOD"}, trimCap(hc.CapDrop))
		}},
		{"tmpfs", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, hc.Tmpfs, "/tmp")
		}},
		{"volumes type tmpfs", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.Contains(t, hc.Tmpfs, "/cache")
			assert.Contains(t, hc.Tmpfs["/cache"], "size=1048576")
		}},
		{"shm_size", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(16<<20), hc.ShmSize)
		}},
		{"mem_limit", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(64<<20), hc.Memory)
		}},
		{"cpus", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(5e8), hc.NanoCPUs)
		}},
		{"deploy.resources.limits.memory", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(32<<20), hc.Memory)
		}},
		{"deploy.resources.limits.pids", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, hc.PidsLimit)
			assert.Equal(t, int64(50), *hc.PidsLimit)
		}},
		{"deploy.resources.reservations.memory", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(16<<20), hc.MemoryReservation)
		}},
		{"deploy.restart_policy", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, hc.RestartPolicy)
		}},
		{"deploy.placement (swarm's: ignored with a warning)", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"service dep: deploy.placement is swarm's and ignored, as docker compose up ignores it"}, warnings)
		}},
		{"links (a dependency, and the alias on the shared network)", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			m := inspect["main"]
			require.NotNil(t, m.NetworkSettings)
			require.Contains(t, m.NetworkSettings.Networks, back)
			assert.Contains(t, m.NetworkSettings.Networks[back].Aliases, "mainlink")
			assert.NotContains(t, m.NetworkSettings.Networks[front].Aliases, "mainlink", "only where dep sees main")
			assert.Greater(t, r.State.StartedAt, m.State.StartedAt)
		}},
		{"oom_kill_disable", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, hc.OomKillDisable)
			assert.True(t, *hc.OomKillDisable)
		}},
		{"memswap_limit", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(128<<20), hc.MemorySwap)
		}},
		{"mem_reservation", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(32<<20), hc.MemoryReservation)
		}},
		{"pids_limit", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, hc.PidsLimit)
			assert.Equal(t, int64(100), *hc.PidsLimit)
		}},
		{"ulimits", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			var got []string
			for _, u := range hc.Ulimits {
				got = append(got, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
			}
			assert.ElementsMatch(t, []string{"nofile=1024:2048", "nproc=512:512"}, got)
		}},
		{"cpu_shares, cpu_period, cpu_quota, cpuset", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, [3]int64{512, 100000, 50000}, [3]int64{hc.CPUShares, hc.CPUPeriod, hc.CPUQuota})
			assert.Equal(t, "0", hc.CpusetCpus)
		}},
		{"oom_score_adj", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, 100, hc.OomScoreAdj)
		}},
		{"blkio_config weight (sent to the engine; this kernel has no I/O weight, so the engine discards it)", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			data, err := os.ReadFile(filepath.Join(d.Files, "header", "meta-data"))
			require.NoError(t, err)
			m, err := spec.Parse(data)
			require.NoError(t, err)
			for _, s := range m.Services {
				if s.Name == "host" {
					assert.Equal(t, uint16(300), s.Config.BlkioWeight)
				}
			}
			assert.Contains(t, []uint16{0, 300}, hc.BlkioWeight)
		}},
		{"deploy.resources.limits.cpus", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, int64(2.5e8), hc.NanoCPUs)
		}},
		{"sysctls", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, map[string]string{"net.core.somaxconn": "512"}, hc.Sysctls)
		}},
		{"group_add", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"1234"}, hc.GroupAdd)
		}},
		{"security_opt", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			// The engine's form of Compose's no-new-privileges:true.
			assert.Equal(t, []string{"no-new-privileges=true"}, hc.SecurityOpt)
		}},
		{"dns", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.Len(t, hc.DNS, 1)
			assert.Equal(t, "127.0.0.1", hc.DNS[0].String())
		}},
		{"dns_search, dns_opt", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"example.internal"}, hc.DNSSearch)
			assert.Equal(t, []string{"ndots:2"}, hc.DNSOptions)
		}},
		{"domainname", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "example.internal", cc.Domainname)
		}},
		{"extra_hosts", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"db.local:10.0.0.5"}, hc.ExtraHosts)
		}},
		{"logging", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "2"}}, hc.LogConfig)
		}},
		{"stop_signal", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "SIGINT", cc.StopSignal)
		}},
		{"stop_grace_period (rounded up)", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.StopTimeout)
			assert.Equal(t, 2, *cc.StopTimeout)
		}},
		{"healthcheck", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck)
			assert.Equal(t, container.HealthConfig{
				Test: []string{"CMD", "/testapp", "check"}, Interval: time.Second, Timeout: 2 * time.Second,
				StartPeriod: time.Second, Retries: 3,
			}, *cc.Healthcheck)
			require.NotNil(t, r.State.Health)
			assert.Equal(t, container.Healthy, r.State.Health.Status, "dep waited for it")
		}},
		{"healthcheck CMD-SHELL with $${VAR}: the container's own variable, not the device parameter", "shell", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck)
			assert.Equal(t, []string{"CMD-SHELL", `echo "probe=${PROBE}"; test "${PROBE}" = inside`}, cc.Healthcheck.Test)
			require.NotNil(t, r.State.Health)
			assert.Equal(t, container.Healthy, r.State.Health.Status, "the install waited for it")
			require.NotEmpty(t, r.State.Health.Log)
			assert.Equal(t, "probe=inside\n", r.State.Health.Log[0].Output)
		}},
		{"volumes anonymous and tmpfs inside a project directory bind (their mount points shipped)", "shell", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/srv/app", stateDir, "app.conf", "app config "+run+"\n")
			m := mountAt(r, "/srv/app/node_modules")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeVolume, m.Type)
			assert.True(t, m.RW)
			assert.Contains(t, hc.Tmpfs, "/srv/app/cache")
		}},
		{"volumes bind :z (SELinux label, passed to the engine)", "shell", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Contains(t, hc.Binds, hostDir+":/srv/host:ro,z")
			m := mountAt(r, "/srv/host")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, "z", m.Mode[len(m.Mode)-1:], m.Mode)
		}},
		{"healthcheck disable", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, cc.Healthcheck)
			assert.Equal(t, []string{"NONE"}, cc.Healthcheck.Test)
		}},
		{"ports", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			var got []string
			for p, bs := range hc.PortBindings {
				for _, b := range bs {
					got = append(got, b.HostIP.String()+":"+b.HostPort+"->"+p.String())
				}
			}
			assert.ElementsMatch(t, []string{"127.0.0.1:->80/tcp", "127.0.0.1:->53/udp"}, got)
		}},
		{"volumes named", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			m := mountAt(r, "/data")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeVolume, m.Type)
			assert.Equal(t, vol, m.Name, "<app>_<name>")
			assert.True(t, m.RW)
			v, err := c.VolumeInspect(ctx, vol, client.VolumeInspectOptions{})
			require.NoError(t, err)
			assert.Equal(t, "data", v.Volume.Labels["kind"], "volumes.data.labels")
		}},
		{"volumes anonymous", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			m := mountAt(r, "/anon")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeVolume, m.Type)
		}},
		{"volumes bind absolute :ro", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			m := mountAt(r, "/host")
			require.NotNil(t, m, "%+v", r.Mounts)
			assert.Equal(t, mount.TypeBind, m.Type)
			assert.Equal(t, hostDir, m.Source)
			assert.False(t, m.RW)
		}},
		{"volumes bind inside the project", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/etc/shop", stateDir, "app.conf", "app config "+run+"\n")
		}},
		{"volumes bind of a project file", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/etc/single.conf", stateDir, "", "app config "+run+"\n")
		}},
		{"configs file", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/etc/app.conf", stateDir, "", "app config "+run+"\n")
		}},
		{"configs content (default target)", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/motd", stateDir, "", "hello motd\n")
		}},
		{"secrets environment (default target)", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/run/secrets/token", stateDir, "", "s3cret-"+run)
		}},
		{"secrets file (long syntax target)", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			checkFileMount(t, r, "/etc/pw", stateDir, "", "pw-"+run)
		}},
		{"networks with aliases", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, r.NetworkSettings)
			require.Contains(t, r.NetworkSettings.Networks, front)
			require.Contains(t, r.NetworkSettings.Networks, back)
			assert.Subset(t, r.NetworkSettings.Networks[front].Aliases, []string{"main", "web", "www"})
			assert.Contains(t, r.NetworkSettings.Networks[back].Aliases, "main")
		}},
		{"networks internal", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, nets[front], front)
			assert.True(t, nets[back], back)
		}},
		{"networks list form", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			require.NotNil(t, r.NetworkSettings)
			assert.Len(t, r.NetworkSettings.Networks, 1)
			require.Contains(t, r.NetworkSettings.Networks, back)
			assert.Contains(t, r.NetworkSettings.Networks[back].Aliases, "dep")
		}},
		{"network_mode", "migrate", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.NetworkMode("none"), hc.NetworkMode)
		}},
		{"container_name", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, "/"+app+"-fixed", r.Name)
		}},
		{"depends_on service_completed_successfully", "main", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			m := inspect["migrate"]
			require.NotNil(t, m.State)
			assert.Equal(t, 0, m.State.ExitCode)
			assert.Greater(t, r.State.StartedAt, m.State.FinishedAt, "main starts after migrate exited")
		}},
		{"depends_on service_healthy", "dep", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Greater(t, r.State.StartedAt, inspect["main"].State.StartedAt)
		}},
		{"depends_on service_started (required: false on a service of an inactive profile dropped)", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.NotContains(t, inspect, "ghost", "profiles")
			assert.Greater(t, r.State.StartedAt, inspect["dep"].State.StartedAt)
		}},
		{"privileged (created only: this dockerd cannot start it)", "priv", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.True(t, hc.Privileged)
		}},
		{"pid", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.PidMode("host"), hc.PidMode)
		}},
		{"ipc", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.IpcMode("shareable"), hc.IpcMode)
		}},
		{"uts", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.UTSMode("host"), hc.UTSMode)
		}},
		{"userns_mode", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, container.UsernsMode("host"), hc.UsernsMode)
		}},
		{"devices", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []container.DeviceMapping{{PathOnHost: "/dev/full", PathInContainer: "/dev/xfull", CgroupPermissions: "r"}}, hc.Devices)
		}},
		{"device_cgroup_rules", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			assert.Equal(t, []string{"c 1:3 rwm"}, hc.DeviceCgroupRules)
		}},
		{"x-mender-update (not inspectable: the meta-data the module read)", "host", func(t *testing.T, cc *container.Config, hc *container.HostConfig, r container.InspectResponse) {
			// The strategy shows only when a later update changes the
			// service; here: what the module parsed from FILES_DIR.
			data, err := os.ReadFile(filepath.Join(d.Files, "header", "meta-data"))
			require.NoError(t, err)
			m, err := spec.Parse(data)
			require.NoError(t, err)
			for _, s := range m.Services {
				if s.Name == "host" {
					assert.Equal(t, spec.HandOver, s.Update)
				}
			}
		}},
	}
	checkKeys(t, rows, inspect)
	t.Logf("%d rows in %s", len(rows), time.Since(start).Round(time.Millisecond))
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

// shellVolumes are compose volumes (one "      - SRC:DST:ro" line each)
// that bind the machine's /bin/sh and the libraries it loads, as ldd names
// them, into a container at the same paths.
func shellVolumes(t *testing.T) string {
	out, err := exec.Command("ldd", "/bin/sh").Output()
	require.NoError(t, err)
	paths := []string{"/bin/sh"}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			paths = append(paths, f)
		}
	}
	var b strings.Builder
	for _, p := range paths {
		src, err := filepath.EvalSymlinks(p)
		require.NoError(t, err)
		fmt.Fprintf(&b, "      - %s:%s:ro\n", src, p)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
