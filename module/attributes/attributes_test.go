package attributes_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/attributes"
	"github.com/mender-docker/mender-docker/module/config"
)

// sandbox is a device's files in a temporary directory.
type sandbox struct {
	t    *testing.T
	root string
	src  attributes.Sources
}

func newSandbox(t *testing.T) *sandbox {
	root := t.TempDir()
	d := &sandbox{t: t, root: root}
	d.src = attributes.Sources{
		Dir:             filepath.Join(root, "attributes.d"),
		DeviceTypeFile:  filepath.Join(root, "device_type"),
		MenderConfigure: filepath.Join(root, "device-config.json"),
		Local:           []string{filepath.Join(root, "attributes.local.json"), filepath.Join(root, "params", "app.json")},
		Params:          filepath.Join(root, "params", "app.json"),
	}
	return d
}

// write puts text at name below the root.
func (d *sandbox) write(name, text string) string {
	p := filepath.Join(d.root, name)
	require.NoError(d.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(d.t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func (d *sandbox) load(a attributes.Artifact) (*attributes.Set, error) {
	return attributes.Load(d.src, a)
}

// TestAttrLayerOrder: each layer wins over the ones below it.
func TestAttrLayerOrder(t *testing.T) {
	files := []struct{ layer, name, text string }{
		{attributes.LayerType, "attributes.d/type-rpi4.json", `{"v": "type"}`},
		{attributes.LayerGroup, "attributes.d/group-north.json", `{"v": "group"}`},
		{attributes.LayerDevice, "attributes.d/10-a.json", `{"v": "device a"}`},
		{attributes.LayerDevice, "attributes.d/20-b.json", `{"v": "device b"}`},
		{attributes.LayerDevice, "device-config.json", `{"v": "mender configure"}`},
		{attributes.LayerLocal, "attributes.local.json", `{"v": "local"}`},
		{attributes.LayerLocal, "params/app.json", `{"v": {"value": "params", "public": true}}`},
	}
	want := []string{"artifact", "type", "group", "device a", "device b", "mender configure", "local", "params"}
	// With the files up to i written, the value is the i'th layer's.
	for i := 0; i <= len(files); i++ {
		d := newSandbox(t)
		d.write("device_type", "device_type=rpi4\n")
		d.src.Group = "north"
		for _, f := range files[:i] {
			d.write(f.name, f.text)
		}
		s, err := d.load(attributes.Artifact{Values: map[string]any{"v": "artifact"}})
		require.NoError(t, err)
		v, o, ok := s.Lookup("v")
		require.True(t, ok)
		assert.Equal(t, want[i], v, "with %d files", i)
		if i > 0 {
			assert.Equal(t, files[i-1].layer, o.Layer)
			assert.Equal(t, filepath.Join(d.root, files[i-1].name), o.Source)
		} else {
			assert.Equal(t, attributes.Origin{Path: "v", Layer: "artifact", Source: "artifact"}, o)
		}
	}
	// Reverse: a lower layer written alone never beats a higher one.
	d := newSandbox(t)
	d.write("device_type", "device_type=rpi4\n")
	d.src.Group = "north"
	d.write("attributes.local.json", `{"v": "local"}`)
	d.write("attributes.d/type-rpi4.json", `{"v": "type", "w": "type"}`)
	d.write("attributes.d/00-first.json", `{"v": "device"}`)
	s, err := d.load(attributes.Artifact{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"v": "local", "w": "type"}, s.Data())
}

func TestAttrOtherTypesAndGroupsIgnored(t *testing.T) {
	d := newSandbox(t)
	d.write("device_type", "# comment\ndevice_type=rpi4\n")
	d.write("attributes.d/type-x86.json", `{"a": "x86"}`)
	d.write("attributes.d/group-south.json", `{"b": "south"}`)
	d.write("attributes.d/group-north.json", `{"b": "north"}`)
	d.write("attributes.d/notes.txt", `not json`)
	d.write("attributes.d/.tmp.json", `not json`)
	d.write("device-config.json", `{"mender_docker_group": "north", "other-tool key": "x"}`)
	s, err := d.load(attributes.Artifact{Values: map[string]any{"a": "artifact"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "artifact", "b": "north", "mender_docker_group": "north"}, s.Data(),
		"group from Mender Configure; another tool's key skipped")

	d.src.Group = "south"
	s, err = d.load(attributes.Artifact{})
	require.NoError(t, err)
	assert.Equal(t, "south", s.Data()["b"], "the config's group wins")
}

func TestAttrNestedMerge(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/a.json", `{"db": {"host": "db.local", "opts": {"tls": true}}, "list": [1, 2]}`)
	d.write("attributes.local.json", `{"db": {"port": 5433, "opts": {"ca": "x"}}, "list": ["z"], "obj": "scalar now"}`)
	a := attributes.Artifact{Values: map[string]any{
		"db":   map[string]any{"host": "localhost", "port": 5432, "user": "app"},
		"list": []any{"a", "b", "c"},
		"obj":  map[string]any{"k": "v"},
	}}
	s, err := d.load(a)
	require.NoError(t, err)
	want := map[string]any{
		"db": map[string]any{"host": "db.local", "port": json.Number("5433"), "user": "app",
			"opts": map[string]any{"tls": true, "ca": "x"}},
		"list": []any{"z"},
		"obj":  "scalar now",
	}
	assert.Equal(t, want, s.Data())
	var paths []string
	for _, o := range s.Origins() {
		paths = append(paths, o.Path+"="+o.Layer)
	}
	assert.Equal(t, []string{"db.host=device", "db.opts.ca=local", "db.opts.tls=device", "db.port=local",
		"db.user=artifact", "list=local", "obj=local"}, paths)
	assert.Equal(t, map[string]any{"k": "v"}, a.Values["obj"], "the artifact's values are not changed")
}

func TestAttrSecrets(t *testing.T) {
	d := newSandbox(t)
	d.write("device_type", "device_type=rpi4")
	d.src.Group = "g"
	d.write("attributes.d/type-rpi4.json", `{"t": {"secret": true, "value": "type-secret"}}`)
	d.write("attributes.d/group-g.json", `{"g": {"secret": true, "value": {"a": "group-secret", "b": 7}}}`)
	d.write("attributes.d/dev.json", `{"d": {"secret": true, "value": ["dev-s1", "dev-s2"]}, "n": {"secret": false, "value": "plain"}}`)
	d.write("device-config.json", `{"mc": "not secret", "db.password": "mc-secret"}`)
	d.write("attributes.local.json", `{"l": {"x": {"secret": true, "value": "local-secret"}}, "empty": {"secret": true, "value": ""}}`)
	d.write("params/app.json", `{"P": "param-hidden", "Q": {"value": "param-public", "public": true}, "R": {"value": 12}}`)
	s, err := d.load(attributes.Artifact{
		Values: map[string]any{"api": map[string]any{"key": "artifact-key", "url": "https://x"}, "dup": "type-secret"},
		Secret: []string{"api", "db.password"},
	})
	require.NoError(t, err)
	secret := map[string]bool{}
	for _, o := range s.Origins() {
		secret[o.Path] = o.Secret
	}
	assert.Equal(t, map[string]bool{
		"t": true, "g.a": true, "g.b": true, "d": true, "n": false, "mc": false, "db.password": true,
		"l.x": true, "empty": true, "P": true, "Q": false, "R": true,
		"api.key": true, "api.url": true, "dup": false, "mender_docker_group": false,
	}, withGroupKey(secret))
	assert.Equal(t, []string{"artifact-key", "group-secret", "local-secret", "param-hidden", "type-secret",
		"https://x", "mc-secret", "dev-s1", "dev-s2", "12", "7"}, s.Secrets(), "longest first, no duplicates, no empty")
	m := s.Masked()
	assert.Equal(t, "***", m["t"])
	assert.Equal(t, map[string]any{"a": "***", "b": "***"}, m["g"])
	assert.Equal(t, "plain", m["n"])
	assert.Equal(t, "param-public", m["Q"])
	assert.Equal(t, map[string]any{"password": "***"}, m["db"])
	assert.Equal(t, "type-secret", s.Data()["t"], "Data is not masked")
	delete(m, "dup") // not secret itself, though its value is another's
	b, _ := json.Marshal(m)
	for _, v := range s.Secrets() {
		assert.NotContains(t, string(b), `"`+v+`"`)
	}
}

// withGroupKey drops the key only present when Mender Configure names a
// group, so that the table above reads as the files.
func withGroupKey(m map[string]bool) map[string]bool {
	if _, ok := m["mender_docker_group"]; !ok {
		m["mender_docker_group"] = false
	}
	return m
}

func TestAttrMenderConfigureDottedKeys(t *testing.T) {
	d := newSandbox(t)
	d.write("device-config.json", `{"db.host": "h", "db.port": "5432", "app.log.level": "debug", "plain": "p"}`)
	s, err := d.load(attributes.Artifact{Values: map[string]any{"db": map[string]any{"user": "u"}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"db":    map[string]any{"host": "h", "port": "5432", "user": "u"},
		"app":   map[string]any{"log": map[string]any{"level": "debug"}},
		"plain": "p",
	}, s.Data())
	_, o, _ := s.Lookup("db.host")
	assert.Equal(t, attributes.Origin{Path: "db.host", Layer: "device", Source: d.src.MenderConfigure}, o)

	// Dotted keys in an attributes file too; flat and nested at once is refused.
	d.write("attributes.d/a.json", `{"x.y": 1, "x": {"z": 2}}`)
	s, err = d.load(attributes.Artifact{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"y": json.Number("1"), "z": json.Number("2")}, s.Data()["x"])
}

func TestAttrBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file, text string
		want             []string
	}{
		{"syntax", "attributes.d/a.json", "{\n\"a\": 1,\n}", []string{"a.json:3:", "invalid"}},
		{"duplicate key", "attributes.d/a.json", `{"db": {"host": "a", "host": "b"}}`, []string{"a.json", "db", `duplicate key "host"`}},
		{"bad key name", "attributes.d/a.json", `{"db": {"my-host": "a"}}`, []string{"a.json", `"db.my-host"`, "not an attribute name"}},
		{"object in list", "attributes.local.json", `{"l": [1, {"a": 2}]}`, []string{"attributes.local.json", "l[1]", "no object or list inside a list"}},
		{"list in list", "attributes.d/a.json", `{"x": {"l": [[1]]}}`, []string{"a.json", "x.l[0]"}},
		{"flat and nested", "attributes.d/a.json", `{"db.host": "a", "db": {"host": "b"}}`, []string{"a.json", "db.host", "set twice"}},
		{"flat below a scalar", "device-config.json", `{"db": "a", "db.host": "b"}`, []string{"device-config.json", "db.host", "set twice"}},
		{"mender configure object", "device-config.json", `{"db": {"host": "b"}}`, []string{"device-config.json", "db", "want a value"}},
		{"not an object", "attributes.d/a.json", `[1]`, []string{"a.json", "want a JSON object"}},
		{"trailing", "attributes.d/a.json", `{} {}`, []string{"a.json", "after the JSON object"}},
		{"params object", "params/app.json", `{"P": {"value": 1, "hidden": true}}`, []string{"app.json", "P", `"public": true`}},
		{"secret value bad", "attributes.d/a.json", `{"s": {"secret": true, "value": [{"a": 1}]}}`, []string{"a.json", "s[0]"}},
		{"device type", "device_type", "device_type=../x", []string{"device_type", "cannot name a file"}},
		{"too big", "attributes.d/a.json", `{"a": "` + strings.Repeat("x", attributes.MaxFileBytes) + `"}`, []string{"a.json", "larger than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newSandbox(t)
			d.write(tc.file, tc.text)
			_, err := d.load(attributes.Artifact{})
			require.Error(t, err)
			assert.True(t, errors.Is(err, attributes.ErrInvalid), err.Error())
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), filepath.Join(d.root, tc.file), "names the file")
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one line")
		})
	}
}

func TestAttrSymlinkAndNotRegular(t *testing.T) {
	d := newSandbox(t)
	target := d.write("elsewhere.json", `{"a": 1}`)
	require.NoError(t, os.MkdirAll(d.src.Dir, 0o755))
	require.NoError(t, os.Symlink(target, filepath.Join(d.src.Dir, "a.json")))
	_, err := d.load(attributes.Artifact{})
	require.ErrorIs(t, err, attributes.ErrInvalid)
	assert.Contains(t, err.Error(), "a.json: is a symlink")

	d = newSandbox(t)
	require.NoError(t, os.MkdirAll(filepath.Join(d.src.Dir, "sub.json"), 0o755))
	_, err = d.load(attributes.Artifact{})
	require.ErrorIs(t, err, attributes.ErrInvalid)
	assert.Contains(t, err.Error(), "sub.json: not a regular file")
}

func TestAttrMissingIsNoLayer(t *testing.T) {
	d := newSandbox(t)
	s, err := d.load(attributes.Artifact{Values: map[string]any{"a": "x"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "x"}, s.Data())
	s, err = attributes.Load(attributes.Sources{}, attributes.Artifact{})
	require.NoError(t, err)
	assert.Empty(t, s.Data())
	assert.Empty(t, s.Secrets())
}

func TestAttrText(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/a.json", `{"s": "str", "n": 1.50, "i": 10000000000000000000001, "b": false, "z": null,
		"o": {"k": "v"}, "l": [1]}`)
	s, err := d.load(attributes.Artifact{Values: map[string]any{"f": 2.5, "e": 1e21, "t": true}})
	require.NoError(t, err)
	for _, tc := range []struct {
		path, want string
		ok         bool
	}{
		{"s", "str", true}, {"n", "1.50", true}, {"i", "10000000000000000000001", true}, {"b", "false", true},
		{"t", "true", true}, {"z", "", true}, {"f", "2.5", true}, {"e", "1e+21", true}, {"o.k", "v", true},
		{"o", "", false}, {"l", "", false}, {"missing", "", false}, {"s.x", "", false}, {"o.missing", "", false},
	} {
		got, ok := s.Text(tc.path)
		assert.Equal(t, tc.ok, ok, tc.path)
		assert.Equal(t, tc.want, got, tc.path)
	}
}

func TestAttrDigest(t *testing.T) {
	digest := func(text string, secret ...string) string {
		d := newSandbox(t)
		d.write("attributes.d/a.json", text)
		s, err := d.load(attributes.Artifact{Secret: secret})
		require.NoError(t, err)
		return s.Digest()
	}
	a := digest(`{"x": 1, "db": {"host": "h", "port": 5432}}`)
	assert.True(t, strings.HasPrefix(a, "sha256:") && len(a) == len("sha256:")+64, a)
	assert.Equal(t, a, digest(`{"db": {"port": 5432, "host": "h"}, "x": 1}`), "key order")
	assert.Equal(t, a, digest(`{"db.port": 5432, "x": 1, "db.host": "h"}`), "dotted keys")
	assert.NotEqual(t, a, digest(`{"x": 1, "db": {"host": "h", "port": 5433}}`), "a value")
	assert.NotEqual(t, a, digest(`{"x": 1.0, "db": {"host": "h", "port": 5432}}`), "a number's text")
	assert.NotEqual(t, a, digest(`{"x": 1, "db": {"host": "h", "port": 5432}}`, "db.host"), "a secret")
}

func TestAttrSourcesFor(t *testing.T) {
	cfg := config.Default()
	src := attributes.SourcesFor(cfg, "web")
	assert.Equal(t, attributes.Sources{
		Dir:             "/etc/mender-docker/attributes.d",
		DeviceTypeFile:  cfg.DeviceTypeFile,
		MenderConfigure: "/var/lib/mender-configure/device-config.json",
		Local:           []string{"/etc/mender-docker/attributes.local.json", "/etc/mender-docker/params/web.json"},
		Params:          "/etc/mender-docker/params/web.json",
	}, src)
	cfg.Group, cfg.ParamsDir, cfg.AttributesLocalFile = "north", "", ""
	src = attributes.SourcesFor(cfg, "web")
	assert.Equal(t, "north", src.Group)
	assert.Empty(t, src.Local)
	assert.Empty(t, attributes.SourcesFor(config.Default(), "../x").Params, "no file from a bad app name")
}
