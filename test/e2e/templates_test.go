package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// templateProject writes a Compose project whose web service mounts a
// rendered template and prints it at start, beside a side service with no
// template; attributes.yml is the artifact's layer. tmpl replaces the
// template's text when set.
func templateProject(t *testing.T, reg, tmpl string) string {
	dir := t.TempDir()
	compose := `services:
  web:
    image: ` + reg + `/e2e/tweb:1
    command: ["-show", "/etc/app.conf"]
    network_mode: none
    configs:
      - source: appconf
        target: /etc/app.conf
  side:
    image: ` + reg + `/e2e/tweb:1
    network_mode: none
configs:
  appconf:
    file: ./app.conf.tmpl
x-mender-secret-attributes: [token]
`
	attrs := `site: artifact-site
type_name: artifact
group_name: artifact
device_name: artifact
local_name: artifact
db:
  host: db.artifact
  port: 5432
token: artifact-token
`
	if tmpl == "" {
		tmpl = `site={{ .site }}
type={{ .type_name }}
group={{ .group_name }}
device={{ .device_name }}
local={{ .local_name }}
db={{ .db.host }}:{{ .db.port }}
token={{ .token }}
`
	}
	for name, content := range map[string]string{"compose.yaml": compose, "attributes.yml": attrs, "app.conf.tmpl": tmpl} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

// templateDevice is a sandbox whose attribute layers live in the sandbox:
// attributes.d (type, group and device files), Mender Configure's
// device-config.json and the local override file.
func templateDevice(t *testing.T, cl client, site, token string) *sandbox {
	s := newSandbox(t, cl, "", map[string]any{
		"attributes_dir":        "ATTRS",
		"attributes_local_file": "LOCAL",
		"mender_configure_file": "CONFIGURE",
		"group":                 "lab",
		"device_type_file":      "DEVTYPE",
	})
	conf, err := os.ReadFile(s.path("mender-docker.conf"))
	require.NoError(t, err)
	r := strings.NewReplacer(`"ATTRS"`, `"`+s.path("attributes.d")+`"`, `"LOCAL"`, `"`+s.path("attributes.local.json")+`"`,
		`"CONFIGURE"`, `"`+s.path("device-config.json")+`"`, `"DEVTYPE"`, `"`+s.path("device_type")+`"`)
	s.write("mender-docker.conf", r.Replace(string(conf)))
	require.NoError(t, os.MkdirAll(s.path("attributes.d"), 0o755))
	s.write("attributes.d/type-test-device.json", `{"type_name":"type","group_name":"type","device_name":"type","local_name":"type"}`)
	s.write("attributes.d/type-other-device.json", `{"type_name":"wrong type"}`)
	s.write("attributes.d/group-lab.json", `{"group_name":"group","device_name":"group","local_name":"group"}`)
	s.write("attributes.d/group-other.json", `{"group_name":"wrong group"}`)
	s.write("attributes.d/10-site.json", `{"site":"`+site+`","device_name":"device","local_name":"device","token":{"secret":true,"value":"`+token+`"}}`)
	s.write("attributes.local.json", `{"local_name":"local"}`)
	s.write("device-config.json", `{"db.host":"db.`+site+`"}`)
	return s
}

// One artifact, two devices with their own attributes: each renders its
// own configuration, layer by layer (artifact < type < group < device <
// local); the secret is never in the deployment log; a template that reads
// an attribute no layer sets fails Download with nothing changed; and a
// changed device attribute, applied by reconfigure, replaces only the
// service whose rendering changed.
func TestTemplatesThroughMender(t *testing.T) { eachClient(t, testTemplatesThroughMender) }

func testTemplatesThroughMender(t *testing.T, cl client) {
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	web1 := fixture.MustPush(t, reg, "e2e/tweb", "1", fixture.Image{Version: "tweb1"})
	a := templateDevice(t, cl, "alpha", "secret-alpha-7f3e9")
	b := templateDevice(t, cl, "beta", "secret-beta-2c81d")
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, a.app)
		enginetest.RemoveLabelled(t, e, module.LabelApp, b.app)
		e.RemoveImage(ctx, web1)
	})
	// No --app: each device installs it as its own default app.
	art := a.generate("tmpl-1", "--health-window", "1s", "--compose", templateProject(t, reg.Addr, ""))
	shown := func(s *sandbox) (web, side string, conf string) {
		l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
		require.NoError(t, err)
		for _, c := range l {
			switch c.Labels[module.LabelService] {
			case "web":
				web = c.ID
				out, err := exec.Command("docker", "logs", c.ID).CombinedOutput()
				require.NoError(t, err, "%s", out)
				conf = string(out)
			case "side":
				side = c.ID
			}
		}
		return web, side, conf
	}
	for _, dev := range []struct {
		s           *sandbox
		site, token string
	}{{a, "alpha", "secret-alpha-7f3e9"}, {b, "beta", "secret-beta-2c81d"}} {
		out, err := dev.s.mender("install", art)
		require.NoError(t, err, out)
		assert.NotContains(t, out, dev.token, "a secret attribute is never in the deployment log")
		out, err = dev.s.mender("commit")
		require.NoError(t, err, out)
		assert.NotContains(t, out, dev.token)
		_, _, conf := shown(dev.s)
		for _, line := range []string{"site=" + dev.site, "type=type", "group=group", "device=device", "local=local",
			"db=db." + dev.site + ":5432", "token=" + dev.token} {
			assert.Contains(t, conf, line, "device %s", dev.site)
		}
	}

	// A template that reads an attribute nobody set: refused in Download,
	// naming the template, its line and the attribute; nothing changed.
	web0, side0, _ := shown(a)
	bad := a.generate("tmpl-bad", "--health-window", "1s", "--compose", templateProject(t, reg.Addr, "ok\nsite={{ .site }}\nmissing={{ .not_set_anywhere }}\n"))
	out, err := a.mender("install", bad)
	require.Error(t, err, out)
	assert.Contains(t, out, "app.conf.tmpl:3")
	assert.Contains(t, out, "not_set_anywhere")
	web1ID, side1ID, _ := shown(a)
	assert.Equal(t, []string{web0, side0}, []string{web1ID, side1ID}, "a refused template changes nothing")
	assert.Equal(t, "tmpl-1", a.showArtifact())

	// Mender Configure changes db.host: reconfigure replaces web only.
	a.write("device-config.json", `{"db.host":"db.moved"}`)
	cmd := exec.Command(a.modulePath(), "reconfigure")
	cmd.Env = a.env
	rout, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", rout)
	assert.NotContains(t, string(rout), "secret-alpha-7f3e9")
	web2, side2, conf := shown(a)
	assert.NotEqual(t, web0, web2, "web renders db.host: replaced")
	assert.Equal(t, side0, side2, "side has no template: kept")
	assert.Contains(t, conf, "db=db.moved:5432")
	assert.Equal(t, "tmpl-1", a.showArtifact(), "a reconfiguration is no new artifact")
}
