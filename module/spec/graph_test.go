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

var graphDoc = `{
  "app": "shop",
  "networks": {"back": {"internal": true}, "front": {"internal": true, "labels": {"tier": "front"}}},
  "volumes": {"data": {}},
  "files": {"archive": "files.tar", "digest": "` + dig + `"},
  "services": {
    "db": {"image": "` + "127.0.0.1:5000/acme/db@" + dig + `", "run_args": "-v data:/var/lib/db -v /srv/x:/x:ro",
           "healthcheck": {"test": ["CMD", "/probe", "${LEVEL}"], "interval": "1s", "retries": 3},
           "networks": {"back": ["db", "database"]}},
    "migrate": {"image": "` + img + `", "networks": {"back": []}, "depends_on": {"db": "service_healthy"}},
    "web": {"image": "` + img + `", "entrypoint": ["/web", "--level=${LEVEL}"],
            "networks": {"back": [], "front": ["www"]},
            "depends_on": {"migrate": "service_completed_successfully", "db": "service_started"},
            "files": {"/etc/web.conf": "conf/web.conf"}, "update": "hand-over"},
    "tool": {"image": "` + img + `", "run_args": "--network front", "entrypoint": [""]}
  },
  "params": {"LEVEL": "2"}
}`

// A service graph becomes engine configurations: the app's networks and
// volumes under their engine names, endpoints with aliases, files to mount,
// and an order to start in.
func TestGraph(t *testing.T) {
	m, err := spec.Parse([]byte(graphDoc))
	require.NoError(t, err)
	assert.Equal(t, []spec.Network{
		{Name: "back", EngineName: "shop_back", Internal: true},
		{Name: "front", EngineName: "shop_front", Internal: true, Labels: map[string]string{"tier": "front"}},
	}, m.Networks)
	assert.Equal(t, []spec.Volume{{Name: "data", EngineName: "shop_data"}}, m.Volumes)
	assert.Equal(t, &spec.Files{Archive: "files.tar", Digest: dig}, m.Files)

	by := map[string]spec.Service{}
	for _, s := range m.Services {
		by[s.Name] = s
	}
	db, web, tool := by["db"], by["web"], by["tool"]
	assert.Equal(t, []string{"shop_data:/var/lib/db", "/srv/x:/x:ro"}, db.Config.Binds, "an app volume gets its engine name; a host path stays")
	assert.Equal(t, "shop_back", db.Config.NetworkMode)
	assert.Equal(t, []engine.Endpoint{{Network: "shop_back", Aliases: []string{"db", "database"}}}, db.Config.Networks)
	assert.Equal(t, &engine.Healthcheck{Test: []string{"CMD", "/probe", "2"}, Interval: time.Second, Retries: 3}, db.Config.Healthcheck)
	assert.Equal(t, []engine.Endpoint{{Network: "shop_back", Aliases: []string{}}, {Network: "shop_front", Aliases: []string{"www"}}}, web.Config.Networks)
	assert.Equal(t, "shop_back", web.Config.NetworkMode, "the first network is the one the container is created on")
	assert.Equal(t, []string{"/web", "--level=2"}, web.Config.Entrypoint)
	assert.Equal(t, []spec.FileMount{{Target: "/etc/web.conf", Source: "conf/web.conf"}}, web.Files)
	assert.Equal(t, spec.HandOver, web.Update)
	assert.Equal(t, spec.Recreate, db.Update)
	assert.Equal(t, []string{}, tool.Config.Entrypoint, `[""] clears the image's entrypoint`)
	assert.Equal(t, "shop_front", tool.Config.NetworkMode, "--network of an app network")

	order, err := m.StartOrder()
	require.NoError(t, err)
	var names []string
	for _, s := range order {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"db", "migrate", "tool", "web"}, names)
	assert.True(t, m.OneShot("migrate"))
	assert.False(t, m.OneShot("db"))
}

func TestGraphErrors(t *testing.T) {
	svc := func(extra string) string {
		return `{"app":"shop","networks":{"n":{}},"volumes":{"v":{}},"services":{"a":{"image":"` + img + `"` + extra + `},"b":{"image":"` + img + `"}}}`
	}
	for _, tc := range []struct{ name, in, want string }{
		{"old compose format", `{"app":"a","compose":{"project":"p.tar","images":["` + img + `"]}}`, "regenerate it with docker-artifact-gen --compose"},
		{"unknown network", svc(`,"networks":{"x":[]}`), `services.a.networks: "x" is not in the top-level networks`},
		{"network twice", svc(`,"networks":{"n":[]},"run_args":"--network host"`), "services.a.networks: run_args sets --network"},
		{"bad alias", svc(`,"networks":{"n":["-x"]}`), `services.a.networks.n: alias "-x"`},
		{"alias placeholder", svc(`,"networks":{"n":["${A}"]}`), `services.a.networks.n: alias "${A}"`},
		{"bad network name", `{"networks":{"../x":{}},"services":{"a":{"image":"` + img + `"}}}`, `networks: "../x"`},
		{"network driver", `{"networks":{"n":{"driver":"macvlan"}},"services":{"a":{"image":"` + img + `"}}}`, `unknown field "driver"`},
		{"volume driver_opts", `{"volumes":{"v":{"driver_opts":{"device":"/"}}},"services":{"a":{"image":"` + img + `"}}}`, `unknown field "driver_opts"`},
		{"reserved network label", `{"networks":{"n":{"labels":{"io.mender.docker.app":"x"}}},"services":{"a":{"image":"` + img + `"}}}`, "networks.n.labels"},
		{"unknown dependency", svc(`,"depends_on":{"c":"service_started"}`), `services.a.depends_on: "c" is not a service`},
		{"bad condition", svc(`,"depends_on":{"b":"service_ready"}`), `services.a.depends_on.b: "service_ready"`},
		{"self dependency", svc(`,"depends_on":{"a":"service_started"}`), "cannot depend on itself"},
		{"cycle", `{"services":{"a":{"image":"` + img + `","depends_on":{"b":"service_started"}},"b":{"image":"` + img + `","depends_on":{"a":"service_healthy"}}}}`, "dependency cycle a -> b -> a"},
		{"bad strategy", svc(`,"update":"blue-green"`), `services.a.update: "blue-green"`},
		{"hand-over with host port", svc(`,"update":"hand-over","run_args":"-p 127.0.0.1:8080:80"`), "services.a.update: hand-over needs two copies running at once, and host port 8080"},
		{"hand-over with name", svc(`,"update":"hand-over","run_args":"--name fixed"`), `--name "fixed" is a fixed container name`},
		{"files without archive", svc(`,"files":{"/etc/x":"x"}`), "services.a.files: the artifact has no files archive"},
		{"files escape", `{"files":{"archive":"f.tar","digest":"` + dig + `"},"services":{"a":{"image":"` + img + `","files":{"/etc/x":"../../etc/shadow"}}}}`, `must be a clean relative path`},
		{"files absolute", `{"files":{"archive":"f.tar","digest":"` + dig + `"},"services":{"a":{"image":"` + img + `","files":{"/etc/x":"/etc/shadow"}}}}`, `must be a clean relative path`},
		{"files relative target", `{"files":{"archive":"f.tar","digest":"` + dig + `"},"services":{"a":{"image":"` + img + `","files":{"etc/x":"x"}}}}`, `target "etc/x"`},
		{"files archive path", `{"files":{"archive":"../f.tar","digest":"` + dig + `"},"services":{"a":{"image":"` + img + `"}}}`, `files.archive: "../f.tar"`},
		{"files digest", `{"files":{"archive":"f.tar","digest":"md5:1"},"services":{"a":{"image":"` + img + `"}}}`, `files.digest`},
		{"healthcheck empty", svc(`,"healthcheck":{"test":[]}`), "services.a.healthcheck.test: empty"},
		{"healthcheck form", svc(`,"healthcheck":{"test":["/probe"]}`), `services.a.healthcheck.test: "/probe" must start with CMD`},
		{"healthcheck interval", svc(`,"healthcheck":{"test":["CMD","/p"],"interval":"often"}`), "services.a.healthcheck.interval"},
		{"entrypoint placeholder", svc(`,"entrypoint":["${NOPE}"]`), "services.a.entrypoint[0]: ${NOPE} has no value"},
		{"remove with services", `{"app":"a","remove":true,"networks":{"n":{}}}`, "remove: an artifact that removes an app has no"},
		{"remove_volumes alone", `{"app":"a","remove_volumes":true,"services":{"a":{"image":"` + img + `"}}}`, "remove_volumes: only an artifact that removes the app"},
		{"containers with networks", `{"containers":["` + img + `"],"networks":{"n":{}}}`, "containers: networks, volumes and files need services"},
		{"networks in a list", `{"services":{"a":{"image":"` + img + `"}},"networks":[{"name":"n"}]}`, "networks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse([]byte(tc.in))
			require.Error(t, err)
			assert.True(t, errors.Is(err, spec.ErrInvalid), "wraps ErrInvalid: %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "\n"), "one-line error")
		})
	}
}

// A device parameter fills a value, and the value is then judged as if it
// had been written there: it can never name another network or volume.
func TestGraphParamsStayValues(t *testing.T) {
	doc := `{"app":"shop","networks":{"n":{}},"volumes":{"v":{}},"params":{"NET":"n","VOL":"v"},
	  "services":{"a":{"image":"` + img + `","run_args":"--network ${NET} -v ${VOL}:/data"}}}`
	m, err := spec.Parse([]byte(doc))
	require.NoError(t, err)
	// Substituted in a word of run_args, the value is read as written there:
	// an app network or volume by its short name, like any other word.
	assert.Equal(t, "shop_n", m.Services[0].Config.NetworkMode)
	assert.Equal(t, []string{"shop_v:/data"}, m.Services[0].Config.Binds)
	host := func(string) (string, string, bool) { return "host", "device", true }
	m, err = spec.ParseWith([]byte(doc), spec.ParseOptions{Lookup: host})
	require.NoError(t, err)
	assert.Equal(t, "host", m.Services[0].Config.NetworkMode, "the device's policy judges the final value (deny_host_namespaces)")
}
