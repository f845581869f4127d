package attributes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sandbox is a sandbox of the device's attribute files.
type sandbox struct {
	t    *testing.T
	root string
	src  Sources
}

func newSandbox(t *testing.T) *sandbox {
	root := t.TempDir()
	d := &sandbox{t: t, root: root}
	d.src = Sources{
		Dir:             filepath.Join(root, "attributes.d"),
		DeviceTypeFile:  filepath.Join(root, "device_type"),
		MenderConfigure: filepath.Join(root, "device-config.json"),
		Local:           []string{filepath.Join(root, "attributes.local.json"), filepath.Join(root, "params", "app.json")},
		Params:          filepath.Join(root, "params", "app.json"),
	}
	return d
}

// write puts text at rel (below root), making directories.
func (d *sandbox) write(rel, text string) string {
	d.t.Helper()
	p := filepath.Join(d.root, rel)
	require.NoError(d.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(d.t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func (d *sandbox) load(a Artifact) (*Set, error) {
	return Load(d.src, a)
}

func artifactX() Artifact {
	return Artifact{Values: map[string]any{"x": "artifact", "keep": "a"}}
}

// TestLayersLayerOrder: each case adds a layer above the ones before; the top
// one gives x, and every lower layer's other keys stay.
func TestLayersLayerOrder(t *testing.T) {
	layers := []struct {
		name, file, text, layer string
	}{
		{"type", "attributes.d/type-rpi4.json", `{"x":"type"}`, LayerType},
		{"group", "attributes.d/group-north.json", `{"x":"group"}`, LayerGroup},
		{"attributes.d first", "attributes.d/10-a.json", `{"x":"10-a"}`, LayerDevice},
		{"attributes.d later name", "attributes.d/20-b.json", `{"x":"20-b"}`, LayerDevice},
		{"mender configure", "device-config.json", `{"x":"configure","mender_docker_group":"north"}`, LayerDevice},
		{"local", "attributes.local.json", `{"x":"local"}`, LayerLocal},
		{"params file", "params/app.json", `{"x":{"value":"params","public":true}}`, LayerLocal},
	}
	for n := range layers {
		top := layers[n]
		t.Run(top.name, func(t *testing.T) {
			d := newSandbox(t)
			d.write("device_type", "device_type=rpi4\n")
			d.write("attributes.d/type-other.json", `{"x":"other type"}`)
			d.write("attributes.d/group-south.json", `{"x":"other group"}`)
			d.src.Group = "north"
			for _, l := range layers[:n+1] {
				d.write(l.file, l.text)
			}
			s, err := d.load(artifactX())
			require.NoError(t, err)
			v, o, ok := s.Lookup("x")
			require.True(t, ok)
			assert.Equal(t, top.layer, o.Layer)
			assert.Equal(t, filepath.Join(d.root, top.file), o.Source)
			assert.NotContains(t, v, "other")
			keep, o, _ := s.Lookup("keep")
			assert.Equal(t, "a", keep)
			assert.Equal(t, LayerArtifact, o.Layer)
			assert.Equal(t, "artifact", o.Source)
		})
	}
}

// TestLayersGroupFromMenderConfigure: with no group in the sandbox config, the
// Mender Configure key names it.
func TestLayersGroupFromMenderConfigure(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/group-north.json", `{"x":"group"}`)
	d.write("device-config.json", `{"mender_docker_group":"north"}`)
	s, err := d.load(artifactX())
	require.NoError(t, err)
	x, _ := s.Text("x")
	assert.Equal(t, "group", x)

	// The sandbox config's group wins over Mender Configure's.
	d.write("attributes.d/group-south.json", `{"x":"south"}`)
	d.src.Group = "south"
	s, err = d.load(artifactX())
	require.NoError(t, err)
	x, _ = s.Text("x")
	assert.Equal(t, "south", x)
}

func TestLayersMissingSourcesAreNoLayer(t *testing.T) {
	d := newSandbox(t)
	s, err := d.load(artifactX())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"x": "artifact", "keep": "a"}, s.Data())
	s, err = Load(Sources{}, Artifact{})
	require.NoError(t, err)
	assert.Empty(t, s.Data())
	assert.Empty(t, s.Origins())
}

func TestLayersNestedMerge(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/a.json", `{"db":{"host":"device","tls":{"on":true}},"hosts":["c"],"obj":"now a scalar"}`)
	d.write("attributes.local.json", `{"db":{"tls":{"ca":"local"}}}`)
	a := Artifact{Values: map[string]any{
		"db":    map[string]any{"host": "artifact", "port": 5432.0},
		"hosts": []any{"a", "b"},
		"obj":   map[string]any{"k": "v"},
	}}
	s, err := d.load(a)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"db":    map[string]any{"host": "device", "port": 5432.0, "tls": map[string]any{"on": true, "ca": "local"}},
		"hosts": []any{"c"},
		"obj":   "now a scalar",
	}, s.Data())
	var paths, layers []string
	for _, o := range s.Origins() {
		paths = append(paths, o.Path)
		layers = append(layers, o.Layer)
	}
	// One origin per leaf, sorted; none left for obj.k.
	assert.Equal(t, []string{"db.host", "db.port", "db.tls.ca", "db.tls.on", "hosts", "obj"}, paths)
	assert.Equal(t, []string{"device", "artifact", "local", "device", "device", "device"}, layers)
	// The artifact's values are not changed by the merge.
	assert.Equal(t, "artifact", a.Values["db"].(map[string]any)["host"])
	_, _, ok := s.Lookup("obj.k")
	assert.False(t, ok)
}

// TestLayersSecrets: a secret from every layer that can mark one, and from the
// artifact's secret paths (a parent path covers its leaves).
func TestLayersSecrets(t *testing.T) {
	cases := []struct {
		name, file, text, path string
		secret                 bool
	}{
		{"type marker", "attributes.d/type-rpi4.json", `{"s":{"secret":true,"value":"type-secret"}}`, "s", true},
		{"group marker", "attributes.d/group-north.json", `{"s":{"secret":true,"value":"group-secret"}}`, "s", true},
		{"sandbox marker", "attributes.d/a.json", `{"db":{"password":{"secret":true,"value":"dev-secret"}}}`, "db.password", true},
		{"marker on an object", "attributes.d/a.json", `{"db":{"secret":true,"value":{"user":"u","password":"pw-secret"}}}`, "db.password", true},
		{"marker false", "attributes.d/a.json", `{"s":{"secret":false,"value":"shown"}}`, "s", false},
		{"local marker", "attributes.local.json", `{"s":{"secret":true,"value":"local-secret"}}`, "s", true},
		{"params not public", "params/app.json", `{"s":"param-secret"}`, "s", true},
		{"params value form", "params/app.json", `{"s":{"value":"param-secret2"}}`, "s", true},
		{"params public", "params/app.json", `{"s":{"value":"shown","public":true}}`, "s", false},
		{"mender configure", "device-config.json", `{"s":"shown"}`, "s", false},
		{"mender configure, artifact path", "device-config.json", `{"token":"mc-secret"}`, "token", true},
		{"artifact parent path", "attributes.d/a.json", `{"creds":{"key":"k-secret"}}`, "creds.key", true},
		{"artifact value", "", ``, "token", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newSandbox(t)
			d.write("device_type", "device_type=rpi4\n")
			d.src.Group = "north"
			if c.file != "" {
				d.write(c.file, c.text)
			}
			a := Artifact{
				Values: map[string]any{"token": "artifact-token", "plain": "p"},
				Secret: []string{"token", "creds"},
			}
			s, err := d.load(a)
			require.NoError(t, err)
			v, o, ok := s.Lookup(c.path)
			require.True(t, ok)
			assert.Equal(t, c.secret, o.Secret)
			text, _ := v.(string)
			masked := s.Masked()
			m := masked
			parts := strings.Split(c.path, ".")
			for _, k := range parts[:len(parts)-1] {
				m = m[k].(map[string]any)
			}
			if c.secret {
				assert.Contains(t, s.Secrets(), text)
				assert.Equal(t, "***", m[parts[len(parts)-1]])
			} else {
				assert.NotContains(t, s.Secrets(), text)
				assert.Equal(t, text, m[parts[len(parts)-1]])
			}
			// Masked is a copy: Data keeps the value.
			again, _, _ := s.Lookup(c.path)
			assert.Equal(t, v, again)
			assert.Equal(t, "p", masked["plain"])
		})
	}
}

func TestLayersBadFiles(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", MaxFileBytes) + `"}`
	cases := []struct {
		name, file, text string
		want             []string // in the error, beside the file's path
	}{
		{"syntax", "attributes.d/a.json", "{\n\"x\": \"a\",\n}", []string{"a.json:3"}},
		{"duplicate key", "attributes.d/a.json", `{"db":{"host":"a","host":"b"}}`, []string{"db", `duplicate key "host"`}},
		{"bad key name", "attributes.d/a.json", `{"db":{"my-host":"a"}}`, []string{"db.my-host"}},
		{"object in a list", "attributes.d/a.json", `{"hosts":["a",{"b":1}]}`, []string{"hosts[1]"}},
		{"list in a list", "attributes.local.json", `{"hosts":[["a"]]}`, []string{"hosts[0]"}},
		{"not an object", "attributes.d/a.json", `["x"]`, nil},
		{"data after", "attributes.d/a.json", `{"x":1} {"y":2}`, nil},
		{"too big", "attributes.d/a.json", big, []string{"larger than"}},
		{"type file", "attributes.d/type-rpi4.json", `{"x":`, nil},
		{"params bad form", "params/app.json", `{"x":{"value":"v","public":"yes"}}`, []string{"x"}},
		{"mender configure object", "device-config.json", `{"db":{"host":"a"}}`, []string{"db"}},
		{"mender configure flat and nested", "device-config.json", `{"db":"a","db.host":"b"}`, []string{"db.host"}},
		{"too deep", "attributes.d/a.json", `{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":"x"}}}}}}}}}`, []string{"deeper"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newSandbox(t)
			d.write("device_type", "device_type=rpi4\n")
			p := d.write(c.file, c.text)
			_, err := d.load(artifactX())
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalid), err)
			assert.Contains(t, err.Error(), p)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestLayersRefusedFileKinds(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		d := newSandbox(t)
		target := d.write("elsewhere.json", `{"x":"via link"}`)
		require.NoError(t, os.MkdirAll(d.src.Dir, 0o755))
		link := filepath.Join(d.src.Dir, "a.json")
		require.NoError(t, os.Symlink(target, link))
		_, err := d.load(artifactX())
		require.ErrorIs(t, err, ErrInvalid)
		assert.Contains(t, err.Error(), link)
		assert.Contains(t, err.Error(), "symlink")
	})
	t.Run("symlinked local file", func(t *testing.T) {
		d := newSandbox(t)
		target := d.write("elsewhere.json", `{"x":"via link"}`)
		require.NoError(t, os.Symlink(target, d.src.Local[0]))
		_, err := d.load(artifactX())
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("fifo", func(t *testing.T) {
		d := newSandbox(t)
		require.NoError(t, os.MkdirAll(d.src.Dir, 0o755))
		fifo := filepath.Join(d.src.Dir, "a.json")
		require.NoError(t, syscall.Mkfifo(fifo, 0o644))
		_, err := d.load(artifactX())
		require.ErrorIs(t, err, ErrInvalid)
		assert.Contains(t, err.Error(), "not a regular file")
	})
	t.Run("directory named .json", func(t *testing.T) {
		d := newSandbox(t)
		require.NoError(t, os.MkdirAll(filepath.Join(d.src.Dir, "a.json"), 0o755))
		_, err := d.load(artifactX())
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("other files ignored", func(t *testing.T) {
		d := newSandbox(t)
		d.write("attributes.d/README", "not json")
		d.write("attributes.d/a.json~", "not json")
		d.write("attributes.d/.a.json.swp", "not json")
		_, err := d.load(artifactX())
		require.NoError(t, err)
	})
}

func TestLayersMenderConfigureDottedKeys(t *testing.T) {
	d := newSandbox(t)
	d.write("device-config.json", `{"db.host":"mc-host","db.port":"5433","site":"north","other-tool/key":"ignored"}`)
	a := Artifact{Values: map[string]any{"db": map[string]any{"user": "app", "host": "artifact"}}}
	s, err := d.load(a)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"user": "app", "host": "mc-host", "port": "5433"}, s.Data()["db"])
	host, o, ok := s.Lookup("db.host")
	require.True(t, ok)
	assert.Equal(t, "mc-host", host)
	assert.Equal(t, LayerDevice, o.Layer)
	assert.Equal(t, d.src.MenderConfigure, o.Source)
	assert.False(t, o.Secret)
	site, _ := s.Text("site")
	assert.Equal(t, "north", site)
}

func TestLayersText(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/a.json", `{"s":"text","n":1.50,"i":42,"t":true,"f":false,"z":null,"o":{"k":"v"},"l":["a"],"e":""}`)
	s, err := d.load(Artifact{Values: map[string]any{"fl": 2.5}})
	require.NoError(t, err)
	cases := []struct {
		path, want string
		ok         bool
	}{
		{"s", "text", true},
		{"n", "1.50", true}, // the number's own text
		{"i", "42", true},
		{"t", "true", true},
		{"f", "false", true},
		{"z", "", true},
		{"e", "", true},
		{"fl", "2.5", true},
		{"o.k", "v", true},
		{"o", "", false},
		{"l", "", false},
		{"missing", "", false},
		{"s.below", "", false},
	}
	for _, c := range cases {
		got, ok := s.Text(c.path)
		assert.Equal(t, c.ok, ok, c.path)
		assert.Equal(t, c.want, got, c.path)
	}
}

func TestLayersSecretsOrder(t *testing.T) {
	d := newSandbox(t)
	d.write("attributes.d/a.json", `{
		"a": {"secret": true, "value": "short"},
		"b": {"secret": true, "value": "a-longer-one"},
		"c": {"secret": true, "value": "short"},
		"d": {"secret": true, "value": ""},
		"e": {"secret": true, "value": ["l1", "list-two"]},
		"f": {"secret": true, "value": 12345}
	}`)
	s, err := d.load(Artifact{})
	require.NoError(t, err)
	assert.Equal(t, []string{"a-longer-one", "list-two", "12345", "short", "l1"}, s.Secrets())
	m := s.Masked()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		assert.Equal(t, "***", m[k], k)
	}
}

func TestLayersDigest(t *testing.T) {
	load := func(text string, secret ...string) string {
		t.Helper()
		d := newSandbox(t)
		d.write("attributes.d/a.json", text)
		s, err := d.load(Artifact{Values: map[string]any{"base": "b"}, Secret: secret})
		require.NoError(t, err)
		return s.Digest()
	}
	one := load(`{"db":{"host":"h","port":1},"site":"n"}`)
	assert.True(t, strings.HasPrefix(one, "sha256:"), one)
	assert.Len(t, one, len("sha256:")+64)
	assert.Equal(t, one, load(`{"site":"n","db":{"port":1,"host":"h"}}`), "key order")
	assert.Equal(t, one, load("{\n  \"site\": \"n\",\n  \"db\": {\"port\": 1, \"host\": \"h\"}\n}"), "spacing")
	assert.NotEqual(t, one, load(`{"db":{"host":"h2","port":1},"site":"n"}`), "a value")
	assert.NotEqual(t, one, load(`{"db":{"host":"h","port":1.0},"site":"n"}`), "a number's text")
	assert.NotEqual(t, one, load(`{"db":{"host":"h","port":1},"site":"n","x":null}`), "a key")
	assert.NotEqual(t, one, load(`{"db":{"host":"h","port":1},"site":"n"}`, "site"), "secrecy")
}

// TestLayersErrorsHoldNoValue: a bad file's error names the file and the
// key, never a value (the value may be a secret).
func TestLayersErrorsHoldNoValue(t *testing.T) {
	cases := []struct{ name, file, text string }{
		{"object in a secret list", "attributes.d/a.json", `{"x":{"secret":true,"value":["s3cret-1",{"b":"s3cret-2"}]}}`},
		{"params bad form", "params/app.json", `{"x":{"value":"s3cret-1","public":1}}`},
		{"duplicate key", "attributes.local.json", `{"x":"s3cret-1","x":"s3cret-2"}`},
		{"flat and nested", "device-config.json", `{"db":"s3cret-1","db.password":"s3cret-2"}`},
		{"bad key beside a secret", "attributes.d/a.json", `{"p":{"secret":true,"value":"s3cret-1"},"bad-key":"s3cret-2"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newSandbox(t)
			d.write(c.file, c.text)
			_, err := d.load(Artifact{})
			require.ErrorIs(t, err, ErrInvalid)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}
