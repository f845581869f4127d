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
    mac_address: "02:42:0a:00:00:99"
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

// composeKeysRun closes the chain for Compose apps, the compose way of
// TestKeysReachEngine: the project goes through the real generator into
// an artifact, the module installs that artifact on the real engine, and
// the containers are inspected.
func composeKeysRun(t *testing.T) *keyRun {
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
	var anon []string
	t.Cleanup(func() {
		defer c.Close()
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
	meta, err := os.ReadFile(filepath.Join(d.Files, "header", "meta-data"))
	require.NoError(t, err)
	return &keyRun{
		ctx: ctx, e: e, c: c, run: run, app: app, image: pinned, hostDir: hostDir,
		stateDir: d.U.Config.StateDir,
		front:    spec.ResourceName(app, "front"), back: spec.ResourceName(app, "back"), vol: spec.ResourceName(app, "data"),
		fixture:  composeKeysProject + composeKeysCreateOnly,
		metaData: meta, warnings: warnings, inspect: inspect,
	}
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
