package module_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// templated is an app whose web service mounts a template rendered from
// the attributes, beside side, which has none.
func templatedMeta(archive []byte, web, side, extra string) string {
	return fmt.Sprintf(`{"app":"tpl","health":{"window":"5ms","timeout":"50ms"},
"files":{"archive":"files.tar","digest":%q},
"attributes":{"site":"artifact","db":{"host":"db.local","port":5432}},
"secret_attributes":["token"]%s,
"services":{
 "web":{"image":%q,"run_args":"--restart always","templates":{"/etc/app.conf":"app.conf.tmpl"}},
 "side":{"image":%q,"run_args":"--restart always"}}}`, digestOf(archive), extra, web, side)
}

func (d *device) deviceConfig(json string) {
	require.NoError(d.t, os.WriteFile(d.u.Config.MenderConfigureFile, []byte(json), 0o644))
}

func (d *device) byService(app string) map[string]string {
	out := map[string]string{}
	for _, c := range d.containers() {
		if c.Labels[module.LabelApp] == app && c.State.Running {
			out[c.Labels[module.LabelService]] = c.ID
		}
	}
	return out
}

// renderedFile is the content the running container of service mounts at
// target, read from its bind's host path.
func (d *device) renderedFile(app, service, target string) (string, os.FileMode) {
	for _, c := range d.containers() {
		if c.Labels[module.LabelApp] != app || c.Labels[module.LabelService] != service || !c.State.Running {
			continue
		}
		ci, err := d.eng.InspectContainer(context.Background(), c.ID)
		require.NoError(d.t, err)
		for _, b := range ci.Binds {
			if b.Destination == target {
				require.True(d.t, strings.HasPrefix(b.Source, filepath.Join(d.u.Config.StateDir, app, "rendered")), b.Source)
				require.True(d.t, b.ReadOnly)
				data, err := os.ReadFile(b.Source)
				require.NoError(d.t, err)
				fi, err := os.Stat(b.Source)
				require.NoError(d.t, err)
				return string(data), fi.Mode().Perm()
			}
		}
	}
	d.t.Fatalf("no running %s/%s mounts %s", app, service, target)
	return "", 0
}

func TestTemplatesRenderedAndReplacedAlone(t *testing.T) {
	d := newDevice(t)
	web, side := d.image("web", "1", memengine.Behavior{}), d.image("side", "1", memengine.Behavior{})
	archive := filesTar(t, map[string]string{"app.conf.tmpl": "site={{ .site }}\ndb={{ .db.host }}:{{ .db.port }}\n"})
	d.payload = map[string][]byte{"files.tar": archive}
	d.deviceConfig(`{"site":"oslo"}`)
	require.NoError(t, d.install("tpl-1", templatedMeta(archive, web, side, ""), true))
	conf, mode := d.renderedFile("tpl", "web", "/etc/app.conf")
	assert.Equal(t, "site=oslo\ndb=db.local:5432\n", conf)
	assert.Equal(t, os.FileMode(0o644), mode)
	before := d.byService("tpl")

	// The same artifact again after the device's attribute changed: web
	// is replaced, side kept.
	d.deviceConfig(`{"site":"lyon","db.host":"db.lyon"}`)
	require.NoError(t, d.install("tpl-2", templatedMeta(archive, web, side, ""), true))
	after := d.byService("tpl")
	assert.NotEqual(t, before["web"], after["web"])
	assert.Equal(t, before["side"], after["side"])
	conf, _ = d.renderedFile("tpl", "web", "/etc/app.conf")
	assert.Equal(t, "site=lyon\ndb=db.lyon:5432\n", conf)
	// Commit left only the installed rendering.
	entries, err := os.ReadDir(filepath.Join(d.u.Config.StateDir, "tpl", "rendered"))
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	// status and the inventory show the rendering's digest; render shows
	// each attribute's layer and the rendered file.
	st := d.u.Status(context.Background(), "tpl")
	require.Len(t, st.Apps, 1)
	assert.Len(t, st.Apps[0].Rendered["web"], 64)
	assert.NotContains(t, st.Apps[0].Rendered, "side")
	require.True(t, strings.HasPrefix(st.Apps[0].ConfigDigest, "sha256:"))
	var inv strings.Builder
	require.NoError(t, st.WriteInventory(&inv))
	assert.Contains(t, inv.String(), "docker_app_tpl_config="+st.Apps[0].ConfigDigest[7:19]+"\n")
	var shown strings.Builder
	require.NoError(t, d.u.Render("tpl", "", &shown))
	assert.Contains(t, shown.String(), "site = lyon  (device: "+d.u.Config.MenderConfigureFile+")")
	assert.Contains(t, shown.String(), "db.port = 5432  (artifact: artifact)")
	assert.Contains(t, shown.String(), "--- web:/etc/app.conf\nsite=lyon\ndb=db.lyon:5432\n")

	// Unchanged attributes: nothing replaced.
	require.NoError(t, d.install("tpl-3", templatedMeta(archive, web, side, ""), true))
	assert.Equal(t, after, d.byService("tpl"))
}

func TestTemplateMissingAttributeChangesNothing(t *testing.T) {
	d := newDevice(t)
	web, side := d.image("web", "1", memengine.Behavior{}), d.image("side", "1", memengine.Behavior{})
	good := filesTar(t, map[string]string{"app.conf.tmpl": "site={{ .site }}\n"})
	d.payload = map[string][]byte{"files.tar": good}
	require.NoError(t, d.install("tpl-1", templatedMeta(good, web, side, ""), true))
	before := d.snapshot()

	web2 := d.image("web", "2", memengine.Behavior{})
	bad := filesTar(t, map[string]string{"app.conf.tmpl": "site={{ .site }}\nx={{ .not_set }}\n"})
	d.payload = map[string][]byte{"files.tar": bad}
	err := d.install("tpl-bad", templatedMeta(bad, web2, side, ""), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "app.conf.tmpl:2")
	assert.Contains(t, err.Error(), "not_set")
	assert.Equal(t, before, d.snapshot())
	has, herr := d.eng.HasImage(context.Background(), web2)
	require.NoError(t, herr)
	assert.False(t, has, "nothing pulled for a template that cannot render")
}

func TestTemplateSecretFileAndLog(t *testing.T) {
	d := newDevice(t)
	web, side := d.image("web", "1", memengine.Behavior{}), d.image("side", "1", memengine.Behavior{})
	archive := filesTar(t, map[string]string{"app.conf.tmpl": "token={{ .token }}\n"})
	d.payload = map[string][]byte{"files.tar": archive}
	const secret = "tok-9f8e7d6c5b4a"
	require.NoError(t, os.MkdirAll(d.u.Config.AttributesDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.AttributesDir, "10-device.json"), []byte(`{"token":{"secret":true,"value":"`+secret+`"}}`), 0o644))
	require.NoError(t, d.install("tpl-1", templatedMeta(archive, web, side, ""), true))
	conf, mode := d.renderedFile("tpl", "web", "/etc/app.conf")
	assert.Equal(t, "token="+secret+"\n", conf)
	assert.Equal(t, os.FileMode(0o600), mode, "a file holding a secret is 0600")
	assert.NotContains(t, d.Log.String(), secret)
	var shown strings.Builder
	require.NoError(t, d.u.Render("tpl", "", &shown))
	assert.Contains(t, shown.String(), "token = ***")
	assert.Contains(t, shown.String(), "token=***")
	assert.NotContains(t, shown.String(), secret)
}

// A reconfiguration whose new rendering does not come up is rolled back
// to the old container, which still mounts the old rendering.
func TestTemplateReconfigureRollsBackToOldRendering(t *testing.T) {
	d := newDevice(t)
	web, side := d.image("web", "1", memengine.Behavior{}), d.image("side", "1", memengine.Behavior{})
	archive := filesTar(t, map[string]string{"app.conf.tmpl": "mode={{ .mode }}\n"})
	d.payload = map[string][]byte{"files.tar": archive}
	meta := strings.Replace(templatedMeta(archive, web, side, ""), `"run_args":"--restart always","templates"`, `"run_args":"--restart always -e MODE=${mode}","templates"`, 1)
	d.deviceConfig(`{"mode":"good"}`)
	require.NoError(t, d.install("tpl-1", meta, true))
	before := d.byService("tpl")

	d.eng.CrashEnv = "MODE=broken"
	d.deviceConfig(`{"mode":"broken"}`)
	require.Error(t, d.u.Reconfigure(context.Background(), nil))
	assert.Equal(t, before, d.byService("tpl"), "the old containers run again")
	conf, _ := d.renderedFile("tpl", "web", "/etc/app.conf")
	assert.Equal(t, "mode=good\n", conf, "with the old rendering")
	entries, err := os.ReadDir(filepath.Join(d.u.Config.StateDir, "tpl", "rendered"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the failed rendering is removed")
}
