package compose_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
)

func service(t *testing.T, app *compose.App, name string) spec.ServiceDoc {
	for _, s := range app.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %s", name)
	return spec.ServiceDoc{}
}

// The project is loaded as docker compose loads it: .env and the
// environment interpolated (the environment first), extends, include,
// YAML anchors, the override file, profiles; device parameters stay
// placeholders in values, whatever .env says.
func TestLoad(t *testing.T) {
	addr := newRegistry(t)
	t.Setenv("FROM_ENV", "env-wins")
	dir := project(t, map[string]string{
		".env": "TAG=7\nFROM_ENV=dotenv\nFROM_DOTENV=dotenv\nSITE=dotenv-site\n",
		"compose.yaml": `x-base: &base
  environment: {ANCHORED: "yes"}
include: [sub/compose.yaml]
services:
  web:
    <<: *base
    extends: {file: base.yaml, service: privileged-base}
    image: ` + addr + `/shop/web:${TAG}
    command: [serve, "${SITE}"]
    labels: {a: "${FROM_ENV}", b: "${FROM_DOTENV}", site: "${SITE}"}
  tools:
    image: ` + addr + `/shop/web:7
    profiles: [tools]
`,
		"compose.override.yaml": "services:\n  web:\n    hostname: overridden\n",
		"base.yaml":             "services:\n  privileged-base:\n    privileged: true\n",
		"sub/compose.yaml":      "services:\n  db:\n    image: " + addr + "/shop/db:15\n",
	})
	app, _, err := document(t, dir, compose.Options{Params: map[string]string{"SITE": "lab"}})
	require.NoError(t, err)
	require.Len(t, app.Services, 2, "tools is in a profile not enabled")
	web := service(t, app, "web")
	words, err := spec.SplitWords(web.RunArgs)
	require.NoError(t, err)
	assert.Subset(t, words, []string{"--privileged", "--env", "ANCHORED=yes", "--label", "a=env-wins", "b=dotenv", "site=${SITE}", "--hostname", "overridden"})
	assert.Equal(t, []string{"serve", "${SITE}"}, web.Command)
	assert.Contains(t, web.Image, addr+"/shop/web@sha256:")
	assert.Contains(t, service(t, app, "db").Image, addr+"/shop/db@sha256:")

	app, _, err = document(t, dir, compose.Options{Params: map[string]string{"SITE": "lab"}, Profiles: []string{"tools"}})
	require.NoError(t, err)
	assert.Len(t, app.Services, 3)
	app, _, err = document(t, dir, compose.Options{Files: []string{"compose.yaml"}, Params: map[string]string{"SITE": "lab"}})
	require.NoError(t, err)
	assert.NotContains(t, service(t, app, "web").RunArgs, "overridden", "-f leaves out the override file")
}

// COMPOSE_FILE, from the environment or .env, names the files (relative to
// the project, separated by ":" or COMPOSE_PATH_SEPARATOR) when no file is
// given, as docker compose reads it: the default file and its override
// are then left out. Files given (--compose-file) win over it.
func TestComposeFileEnv(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    image: " + addr + "/shop/web:7\n",
		"compose.override.yaml": "services:\n  web:\n    hostname: overridden\n",
		"base.yaml":             "services:\n  db:\n    image: " + addr + "/shop/db:15\n",
		"sub/extra.yaml":        "services:\n  db:\n    hostname: extra\n",
	})
	names := func(app *compose.App) []string {
		var out []string
		for _, s := range app.Services {
			out = append(out, s.Name)
		}
		return out
	}

	t.Setenv("COMPOSE_FILE", "base.yaml:sub/extra.yaml")
	app, _, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"db"}, names(app), "COMPOSE_FILE instead of compose.yaml and its override")
	assert.Contains(t, service(t, app, "db").RunArgs, "--hostname extra", "merged in order")

	app, _, err = document(t, dir, compose.Options{Files: []string{"compose.yaml"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"web"}, names(app), "--compose-file wins")
	assert.NotContains(t, service(t, app, "web").RunArgs, "overridden")

	t.Setenv("COMPOSE_PATH_SEPARATOR", ";")
	t.Setenv("COMPOSE_FILE", "compose.yaml;base.yaml")
	app, _, err = document(t, dir, compose.Options{})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"web", "db"}, names(app))
	assert.NotContains(t, service(t, app, "web").RunArgs, "overridden")

	t.Setenv("COMPOSE_FILE", "missing.yaml")
	_, _, err = document(t, dir, compose.Options{})
	require.ErrorContains(t, err, "COMPOSE_FILE")
	require.ErrorContains(t, err, "missing.yaml")

	os.Unsetenv("COMPOSE_FILE")
	os.Unsetenv("COMPOSE_PATH_SEPARATOR")
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("COMPOSE_FILE=base.yaml\n"), 0o644))
	app, _, err = document(t, dir, compose.Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"db"}, names(app), "COMPOSE_FILE from .env")
}

// run_args words come back from spec.SplitWords exactly as Compose gave
// them, whatever they hold.
func TestQuoting(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": `services:
  web:
    image: ` + addr + `/shop/web:7
    environment:
      A: "it's"
      B: 'a "b" \ c $$x'
      C: "  spaced  "
      D: ""
`})
	app, _, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	words, err := spec.SplitWords(app.Services[0].RunArgs)
	require.NoError(t, err)
	assert.Equal(t, []string{"--env", "A=it's", "--env", `B=a "b" \ c $x`, "--env", "C=  spaced  ", "--env", "D="}, words)
}

// The same project gives the same files archive, byte for byte, whatever
// the files' times, owners and the order they were written in.
func TestFilesDeterministic(t *testing.T) {
	addr := newRegistry(t)
	files := map[string]string{
		"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    volumes: [\"./conf:/etc/conf:ro\"]\n    configs: [c]\nconfigs:\n  c: {content: hello}\n",
		"conf/a":       "a", "conf/sub/b": "b",
	}
	a, _, err := document(t, project(t, files), compose.Options{})
	require.NoError(t, err)
	dir := project(t, files)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "conf/a"), time1, time1))
	b, _, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	require.NotNil(t, a.Files)
	assert.Equal(t, a.Files.Digest, b.Files.Digest)
	assert.Equal(t, map[string]string{"/etc/conf": "project/conf", "/c": "configs/c"}, a.Services[0].Files)
	ta, err := os.ReadFile(a.Payload[0].Path)
	if err == nil {
		tb, _ := os.ReadFile(b.Payload[0].Path)
		assert.Equal(t, ta, tb)
	}
	files["conf/a"] = "changed"
	c, _, err := document(t, project(t, files), compose.Options{})
	require.NoError(t, err)
	assert.NotEqual(t, a.Files.Digest, c.Files.Digest)
}

var time1 = time.Unix(1234567890, 0)

// A service without a networks key joins Compose's "default" network,
// created like any other (internal only when the file says so); one with
// network_mode joins none.
func TestDefaultNetwork(t *testing.T) {
	addr := newRegistry(t)
	img := "    image: " + addr + "/shop/web:7\n"
	app, _, err := document(t, project(t, map[string]string{"compose.yaml": "services:\n  web:\n" + img + "  tool:\n" + img + "    network_mode: none\n"}), compose.Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]spec.NetworkDoc{"default": {}}, app.Networks)
	assert.Equal(t, map[string][]string{"default": {"web"}}, service(t, app, "web").Networks)
	assert.Nil(t, service(t, app, "tool").Networks)

	app, _, err = document(t, project(t, map[string]string{"compose.yaml": "services:\n  web:\n" + img + "networks:\n  default: {internal: true}\n"}), compose.Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]spec.NetworkDoc{"default": {Internal: true}}, app.Networks)

	app, _, err = document(t, project(t, map[string]string{"compose.yaml": "services:\n  tool:\n" + img + "    network_mode: none\n"}), compose.Options{})
	require.NoError(t, err)
	assert.Nil(t, app.Networks, "no default network when no service joins it")
}

// A parameter in a short-syntax port cannot be parsed by Compose: the
// error says to use the long syntax.
func TestPortParamShortSyntax(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    ports: [\"${PORT}:80\"]\n"})
	_, _, err := document(t, dir, compose.Options{Params: map[string]string{"PORT": "8080"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `use the long syntax (published: "${NAME}")`)
}

// A mount inside a shipped project directory gets its mount point in the
// archive (an empty directory, or an empty file for a file), since the
// device mounts the directory read-only and the engine could not create
// it there; what the project has there already is kept.
func TestNestedMountPoints(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    tmpfs: [/app/run]\n    volumes:\n" +
			"      - ./frontend:/app:ro\n      - /app/node_modules\n      - deps:/app/vendor/deps\n      - ./conf.txt:/app/conf.txt:ro\n      - ./other:/app/src/other:ro\n" +
			"volumes:\n  deps: {}\n",
		"frontend/src/main.js": "x",
		"conf.txt":             "c",
		"other/o":              "o",
	})
	app, _, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	f, err := os.Open(app.Payload[0].Path)
	require.NoError(t, err)
	defer f.Close()
	got := map[string]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got[h.Name] = h.Typeflag
	}
	for name, typ := range map[string]byte{
		"project/frontend/node_modules/": tar.TypeDir,
		"project/frontend/vendor/":       tar.TypeDir,
		"project/frontend/vendor/deps/":  tar.TypeDir,
		"project/frontend/run/":          tar.TypeDir,
		"project/frontend/conf.txt":      tar.TypeReg,
		"project/frontend/src/other/":    tar.TypeDir,
		"project/frontend/src/main.js":   tar.TypeReg,
	} {
		assert.Equal(t, typ, got[name], name)
	}
}
