package compose_test

import (
	"archive/tar"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
)

// archive returns the files archive's regular files by name.
func archive(t *testing.T, app *compose.App) map[string]string {
	require.Len(t, app.Payload, 1)
	f, err := os.Open(app.Payload[0].Path)
	require.NoError(t, err)
	defer f.Close()
	got := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			got[h.Name] = string(b)
		}
	}
}

// The templates project: *.tmpl configs and secrets, and a bind listed in
// x-mender-templates, become templates; a plain bind stays a file;
// attributes.yml is the artifact layer, as the device decodes it.
func TestTemplatesProject(t *testing.T) {
	t.Setenv("REGISTRY", newRegistry(t))
	app, out, err := document(t, "testdata/templates", compose.Options{})
	require.NoError(t, err)
	web, db := service(t, app, "web"), service(t, app, "db")
	assert.Equal(t, map[string]string{"/etc/app/app.conf": "project/conf/app.conf.tmpl"}, web.Templates)
	assert.Equal(t, map[string]string{"/etc/app/static.txt": "project/conf/static.txt"}, web.Files)
	assert.Equal(t, map[string]string{"/etc/db/db.ini": "project/conf/db.ini", "/run/secrets/password": "project/conf/password.tmpl"}, db.Templates)
	assert.Empty(t, db.Files)
	assert.Equal(t, map[string]any{
		"site": "default-site", "replicas": float64(2), "debug": false,
		"db":   map[string]any{"host": "db", "port": float64(5432), "password": ""},
		"tags": []any{"a", "b"},
	}, app.Attributes)
	assert.Equal(t, []string{"db.password"}, app.SecretAttributes)

	m, err := spec.Parse(out)
	require.NoError(t, err)
	assert.Equal(t, app.Attributes, m.Attributes)
	assert.Equal(t, []string{"db.password"}, m.SecretAttributes)
	for _, s := range m.Services {
		if s.Name == "web" {
			assert.Equal(t, []spec.FileMount{{Target: "/etc/app/app.conf", Source: "project/conf/app.conf.tmpl"}}, s.Templates)
		}
	}
	files := archive(t, app)
	tmpl, err := os.ReadFile("testdata/templates/conf/app.conf.tmpl")
	require.NoError(t, err)
	assert.Equal(t, string(tmpl), files["project/conf/app.conf.tmpl"])
	assert.Contains(t, files, "project/conf/db.ini")
	assert.Contains(t, files, "project/conf/password.tmpl")
}

// A bad template, attributes file or extension fails at generation time,
// naming the file (relative to the project) and line, or the key.
func TestTemplateRefused(t *testing.T) {
	addr := newRegistry(t)
	svc := "services:\n  web:\n    image: " + addr + "/shop/web:7\n    configs: [{source: app, target: /etc/app.conf}]\n" +
		"configs:\n  app: {file: ./conf/app.conf.tmpl}\n"
	good := "a={{ .a }}\n"
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"syntax", map[string]string{"conf/app.conf.tmpl": "ok\n{{ .a \n"}, "conf/app.conf.tmpl:2"},
		{"forbidden function", map[string]string{"conf/app.conf.tmpl": "a\nb\n{{ env \"HOME\" }}\n"}, `conf/app.conf.tmpl:3: function "env" not defined`},
		{"listed bind", map[string]string{"conf/app.conf.tmpl": good, "x.conf": "{{ end }}", "compose.yaml": svc + "x-mender-templates: [x.conf]\n" +
			"  \n", "compose.override.yaml": "services:\n  web:\n    volumes: [./x.conf:/etc/x.conf:ro]\n"}, "x.conf:1"},
		{"unused listed", map[string]string{"conf/app.conf.tmpl": good, "y.conf": "y", "compose.yaml": svc + "x-mender-templates: [y.conf]\n"}, "x-mender-templates: y.conf is mounted by no service"},
		{"listed missing", map[string]string{"conf/app.conf.tmpl": good, "compose.yaml": svc + "x-mender-templates: [nope.conf]\n"}, "x-mender-templates[0]: nope.conf"},
		{"attribute key", map[string]string{"conf/app.conf.tmpl": good, "attributes.yml": "db:\n  bad-key: 1\n"}, `attributes.yml.db: "bad-key" is not an attribute name`},
		{"object in list", map[string]string{"conf/app.conf.tmpl": good, "attributes.yml": "l: [{a: 1}]\n"}, "attributes.yml.l[0]: want a string"},
		{"attributes yaml", map[string]string{"conf/app.conf.tmpl": good, "attributes.yml": "a: [\n"}, "attributes.yml: "},
		{"attributes list", map[string]string{"conf/app.conf.tmpl": good, "attributes.json": "[1]"}, "attributes.json: want a mapping"},
		{"two attribute files", map[string]string{"conf/app.conf.tmpl": good, "attributes.yml": "a: 1", "attributes.json": "{}"}, "attributes.yml, attributes.json: only one"},
		{"named attributes", map[string]string{"conf/app.conf.tmpl": good, "site.yml": "9a: 1", "compose.yaml": svc + "x-mender-attributes: site.yml\n"}, `site.yml: "9a" is not an attribute name`},
		{"attributes outside", map[string]string{"conf/app.conf.tmpl": good, "compose.yaml": svc + "x-mender-attributes: ../a.yml\n"}, "x-mender-attributes: ../a.yml"},
		{"secret path", map[string]string{"conf/app.conf.tmpl": good, "compose.yaml": svc + "x-mender-secret-attributes: [db.pass-word]\n"}, `x-mender-secret-attributes[0]: "db.pass-word"`},
		{"secret list", map[string]string{"conf/app.conf.tmpl": good, "compose.yaml": svc + "x-mender-secret-attributes: db.password\n"}, "x-mender-secret-attributes: want a list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"compose.yaml": svc}
			for k, v := range c.files {
				files[k] = v
			}
			_, _, err := document(t, project(t, files), compose.Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// A config of inline content is a plain file even when named *.tmpl: only
// project files are templates.
func TestInlineConfigNotTemplate(t *testing.T) {
	addr := newRegistry(t)
	app, _, err := document(t, project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    configs: [{source: a.tmpl, target: /etc/a}]\n" +
		"configs:\n  a.tmpl: {content: \"{{ .x }}\"}\n"}), compose.Options{})
	require.NoError(t, err)
	web := service(t, app, "web")
	assert.Empty(t, web.Templates)
	assert.Equal(t, "configs/a.tmpl", web.Files["/etc/a"])
}
