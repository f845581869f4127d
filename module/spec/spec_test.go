package spec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var img = "127.0.0.1:5000/acme/web@" + dig

// The shell docker-artifact-gen writes exactly this shape.
func TestParseShellFormat(t *testing.T) {
	m, err := spec.Parse([]byte(`{"containers":["` + img + `","127.0.0.1:5000/acme/db@` + dig + `"],"run_args":"-p 8080:80 --restart always -e A=1"}`))
	require.NoError(t, err)
	assert.Equal(t, "default", m.App)
	require.Len(t, m.Services, 2)
	s := m.Services[0]
	assert.Equal(t, "web", s.Name)
	assert.Equal(t, "default-web", s.Config.Name)
	assert.Equal(t, img, s.Config.Image)
	assert.True(t, s.Config.Tty, "the shell module ran docker run -dt")
	assert.Equal(t, "always", s.Config.RestartPolicy)
	assert.Equal(t, []string{"A=1"}, s.Config.Env)
	assert.Equal(t, []engine.PortBinding{{HostPort: "8080", ContainerPort: 80, Proto: "tcp"}}, s.Config.Ports)
	assert.Equal(t, "db", m.Services[1].Name)
	assert.Equal(t, []string{img, "127.0.0.1:5000/acme/db@" + dig}, m.Images())
}

func TestParseShellFormatNoRunArgs(t *testing.T) {
	// What the shell generator writes when --run-args is not given.
	m, err := spec.Parse([]byte(`{"containers":["` + img + `"],"run_args":""}`))
	require.NoError(t, err)
	assert.Len(t, m.Services, 1)
}

// The generator's form: services by name (Mender forbids objects in
// lists); they start in name order.
func TestParseServicesByName(t *testing.T) {
	m, err := spec.Parse([]byte(`{"app":"shop","services":{"worker":{"image":"` + img + `"},"web":{"image":"` + img + `","run_args":"--network host","command":["-x"]}}}`))
	require.NoError(t, err)
	require.Len(t, m.Services, 2)
	assert.Equal(t, "web", m.Services[0].Name)
	assert.Equal(t, "host", m.Services[0].Config.NetworkMode)
	assert.Equal(t, []string{"-x"}, m.Services[0].Config.Cmd)
	assert.Equal(t, "shop-worker", m.Services[1].Config.Name)
	_, err = spec.Parse([]byte(`{"services":{"web":{"image":"` + img + `","run_args":"--rm"}}}`))
	assert.ErrorContains(t, err, "services.web.run_args: --rm")
	_, err = spec.Parse([]byte(`{"services":{"web":{"image":"` + img + `","ports":[]}}}`))
	assert.ErrorContains(t, err, `unknown field "ports"`)
}

func TestParseServices(t *testing.T) {
	m, err := spec.Parse([]byte(`{"app":"shop","health":{"window":"2s","timeout":"30s"},"services":[
		{"name":"web","image":"` + img + `","run_args":"--network host -v data:/data -v /etc/x:/x:ro --name shopweb","command":["-listen","127.0.0.1:8080"]},
		{"name":"worker","image":"` + img + `"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "shop", m.App)
	assert.Equal(t, spec.Health{Window: 2 * time.Second, Timeout: 30 * time.Second}, m.Health)
	web := m.Services[0].Config
	assert.Equal(t, "shopweb", web.Name)
	assert.Equal(t, "host", web.NetworkMode)
	assert.Equal(t, []string{"data:/data", "/etc/x:/x:ro"}, web.Binds)
	assert.Equal(t, []string{"-listen", "127.0.0.1:8080"}, web.Cmd)
	assert.False(t, web.Tty)
	assert.Equal(t, "shop-worker", m.Services[1].Config.Name)
	assert.Equal(t, []string{img}, m.Images(), "an image used twice is pulled once")
}

func TestParseErrors(t *testing.T) {
	huge := `{"containers":["` + img + `"],"run_args":"` + strings.Repeat("-d ", spec.MaxMetaDataBytes/3+1) + `"}`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not JSON", `{"containers": [`, "not valid JSON"},
		{"not an object", `["` + img + `"]`, "not a JSON object"},
		{"null", `null`, "empty"},
		{"empty", ``, "empty"},
		{"missing containers", `{"run_args":"-d"}`, "containers: missing"},
		{"empty list", `{"containers":[]}`, "containers: empty list"},
		{"tag without digest", `{"containers":["127.0.0.1:5000/acme/web:1.0"]}`, `containers[0]: "127.0.0.1:5000/acme/web:1.0" is not pinned by digest`},
		{"short digest", `{"containers":["127.0.0.1:5000/web@sha256:abc"]}`, "malformed digest"},
		{"uppercase digest", `{"containers":["127.0.0.1:5000/web@sha256:` + strings.Repeat("A", 64) + `"]}`, "malformed digest"},
		{"other algorithm", `{"containers":["127.0.0.1:5000/web@md5:` + strings.Repeat("a", 32) + `"]}`, "malformed digest"},
		{"bad repo", `{"containers":["127.0.0.1:5000/Web@` + dig + `"]}`, "not a valid image reference"},
		{"not a string", `{"containers":[42]}`, "not valid JSON"},
		{"unsupported flag", `{"containers":["` + img + `"],"run_args":"--rm"}`, "run_args: --rm: not supported"},
		{"unknown flag", `{"containers":["` + img + `"],"run_args":"--frobnicate"}`, "run_args: --frobnicate: not a supported docker run flag"},
		{"flag needs value", `{"containers":["` + img + `"],"run_args":"-p"}`, "run_args: -p: needs a value"},
		{"bad port", `{"containers":["` + img + `"],"run_args":"-p 99999:80"}`, "run_args: -p: "},
		{"bad restart", `{"containers":["` + img + `"],"run_args":"--restart sometimes"}`, "run_args: --restart:"},
		{"positional word", `{"containers":["` + img + `"],"run_args":"-d 42"}`, `run_args: "42": only flags`},
		{"unterminated quote", `{"containers":["` + img + `"],"run_args":"-e 'A=1"}`, "run_args: unterminated single quote"},
		{"reserved label", `{"containers":["` + img + `"],"run_args":"-l io.mender.docker.app=x"}`, "the module's own"},
		{"name for two", `{"containers":["` + img + `","127.0.0.1:5000/acme/db@` + dig + `"],"run_args":"--name x"}`, `--name "x" given to services`},
		{"bad app", `{"app":"Bad App","containers":["` + img + `"]}`, "app:"},
		{"unknown field", `{"containers":["` + img + `"],"ports":[]}`, `unknown field "ports"`},
		{"both forms", `{"containers":["` + img + `"],"services":[]}`, "give one or the other"},
		{"run_args with services", `{"run_args":"-d","services":[{"name":"a","image":"` + img + `"}]}`, "run_args: goes inside each service"},
		{"service without name", `{"services":[{"image":"` + img + `"}]}`, "services[0].name"},
		{"duplicate service", `{"services":[{"name":"a","image":"` + img + `"},{"name":"a","image":"` + img + `"}]}`, `services[1].name: "a" used twice`},
		{"service bad flag", `{"services":[{"name":"a","image":"` + img + `","run_args":"--mount type=bind"}]}`, "services[0].run_args: --mount: not supported"},
		{"bad health", `{"health":{"window":"soon"},"containers":["` + img + `"]}`, "health.window"},
		{"trailing data", `{"containers":["` + img + `"]} {}`, "trailing data"},
		{"huge input", huge, "larger than"},
		{"bad param name", `{"params":{"bad-name":"x"},"containers":["` + img + `"]}`, `params: "bad-name"`},
		{"param without value", `{"containers":["` + img + `"],"run_args":"-e A=${NOPE}"}`, "run_args: ${NOPE} has no value"},
		{"param in command", `{"services":[{"name":"a","image":"` + img + `","command":["${NOPE}"]}]}`, "services[0].command[0]: ${NOPE} has no value"},
		{"param default breaks a flag", `{"params":{"P":"x"},"containers":["` + img + `"],"run_args":"-p ${P}:80"}`, "run_args: -p:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse([]byte(tc.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, spec.ErrInvalid), "wraps ErrInvalid: %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one-line error")
		})
	}
}

func TestRunArgs(t *testing.T) {
	for _, tc := range []struct {
		args string
		want engine.ContainerConfig
	}{
		{"", engine.ContainerConfig{}},
		{"-dt", engine.ContainerConfig{Tty: true}},
		{"-it --init", engine.ContainerConfig{Tty: true, OpenStdin: true, Init: true}},
		{"-p8080:80/udp", engine.ContainerConfig{Ports: []engine.PortBinding{{HostPort: "8080", ContainerPort: 80, Proto: "udp"}}}},
		{"-p 127.0.0.1:80:8080 -p 9000", engine.ContainerConfig{Ports: []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: "80", ContainerPort: 8080, Proto: "tcp"}, {ContainerPort: 9000, Proto: "tcp"}}}},
		{"-p [::1]:80:81", engine.ContainerConfig{Ports: []engine.PortBinding{{HostIP: "::1", HostPort: "80", ContainerPort: 81, Proto: "tcp"}}}},
		{"-p 8000-8001:80-81", engine.ContainerConfig{Ports: []engine.PortBinding{{HostPort: "8000", ContainerPort: 80, Proto: "tcp"}, {HostPort: "8001", ContainerPort: 81, Proto: "tcp"}}}},
		{`-e "MSG=hello world" -e 'Q=a"b' --env=X=\$y`, engine.ContainerConfig{Env: []string{"MSG=hello world", `Q=a"b`, "X=$y"}}},
		{"--restart on-failure:3 -m 512m --cpus 1.5 --shm-size 64k", engine.ContainerConfig{RestartPolicy: "on-failure", RestartRetries: 3, Memory: 512 << 20, NanoCPUs: 1500000000, ShmSize: 64 << 10}},
		{"--log-driver json-file --log-opt max-size=10m -l a=b", engine.ContainerConfig{LogDriver: "json-file", LogOpts: map[string]string{"max-size": "10m"}, Labels: map[string]string{"a": "b"}}},
		{"--entrypoint /bin/x -u 1000:1000 -w /srv -h dev --read-only --privileged", engine.ContainerConfig{Entrypoint: []string{"/bin/x"}, User: "1000:1000", WorkingDir: "/srv", Hostname: "dev", ReadOnly: true, Privileged: true}},
		{"--health-cmd 'true' --health-interval 5s --health-retries 2", engine.ContainerConfig{Healthcheck: &engine.Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second, Retries: 2}}},
		{"--no-healthcheck", engine.ContainerConfig{Healthcheck: &engine.Healthcheck{Test: []string{"NONE"}}}},
		{"--tmpfs /run:size=1m --device /dev/ttyUSB0 --cap-add NET_ADMIN --add-host db:127.0.0.1", engine.ContainerConfig{Tmpfs: map[string]string{"/run": "size=1m"}, Devices: []string{"/dev/ttyUSB0"}, CapAdd: []string{"NET_ADMIN"}, ExtraHosts: []string{"db:127.0.0.1"}}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var got engine.ContainerConfig
			require.NoError(t, spec.ParseRunArgs(tc.args, &got))
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		``:                  nil,
		`  a   b `:          {"a", "b"},
		`a"b c"d`:           {"ab cd"},
		`'a b' "c\"d" e\ f`: {"a b", `c"d`, "e f"},
		`""`:                {""},
	} {
		got, err := spec.SplitWords(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

// FuzzParse: any input either fails with one line wrapping ErrInvalid, or
// gives meta-data of exactly one kind, fully resolved: an app removal (no
// services, project or images), a Compose app (a project and pinned
// images, no services), or at least one service with a container name and
// a pinned image or an embedded image's ID.
func FuzzParse(f *testing.F) {
	emb := `"embedded":{"` + img + `":{"id":"` + dig + `","file":"web.tar"}}`
	for _, seed := range []string{
		`{"containers":["` + img + `"],"run_args":"-p 80:80 -e A='b c'"}`,
		`{"app":"x","services":[{"name":"a","image":"` + img + `","run_args":"--restart=always"}],"health":{"window":"1s"}}`,
		`{"app":"x","services":{"web":{"image":"` + img + `","run_args":"-p ${PORT}:80","command":["--port","${PORT}"]}},"params":{"PORT":"8080"}}`,
		`{"app":"x","remove":true}`,
		graphDoc,
		`{"app":"x","remove":true,"remove_volumes":true}`,
		`{"remove":true}`,
		`{"app":"x","compose":{"project":"project.tar","images":["` + img + `"]},` + emb + `}`,
		`{"containers":["` + img + `"],` + emb + `}`,
		`null`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := spec.Parse(data)
		if err != nil {
			if !errors.Is(err, spec.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if !spec.ValidApp(m.App) {
			t.Fatalf("invalid app %q", m.App)
		}
		ids := map[string]bool{}
		for ref, e := range m.Embedded {
			if !strings.Contains(ref, "@sha256:") || !strings.HasPrefix(e.ID, "sha256:") || e.File == "" || strings.ContainsAny(e.File, "/\\") {
				t.Fatalf("embedded %s %+v not checked", ref, e)
			}
			ids[e.ID] = true
		}
		switch {
		case m.Remove:
			if len(m.Services) > 0 || len(m.Networks) > 0 || len(m.Volumes) > 0 || m.Files != nil || len(m.Embedded) > 0 || len(m.Images()) > 0 {
				t.Fatalf("an app removal with something to run: %+v", m)
			}
		default:
			if len(m.Services) == 0 {
				t.Fatal("valid meta-data with no service, no project and nothing to remove")
			}
			for _, s := range m.Services {
				if s.Config.Name == "" || !strings.Contains(s.Image, "@sha256:") || (s.Update != spec.Recreate && s.Update != spec.HandOver) {
					t.Fatalf("service %+v not fully resolved", s)
				}
				for _, f := range s.Files {
					if m.Files == nil || strings.HasPrefix(f.Source, "/") || strings.Contains("/"+f.Source+"/", "/../") || !strings.HasPrefix(f.Target, "/") {
						t.Fatalf("service %s mounts %+v unchecked", s.Name, f)
					}
				}
				if len(s.Config.Networks) > 0 && s.Config.NetworkMode != s.Config.Networks[0].Network {
					t.Fatalf("service %s: network mode %q is not its first network", s.Name, s.Config.NetworkMode)
				}
			}
		}
		if _, err := m.StartOrder(); err != nil {
			t.Fatalf("accepted meta-data with no start order: %v", err)
		}
		for _, img := range m.Images() {
			if !strings.Contains(img, "@sha256:") && !ids[img] {
				t.Fatalf("image %q neither pinned nor embedded", img)
			}
		}
	})
}
