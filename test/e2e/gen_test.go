package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// withScriptPaths points the client's state script directories into the
// sandbox, so that artifact scripts are stored and run there and never in
// the machine's /var/lib/mender or /etc/mender.
func (s *sandbox) withScriptPaths() {
	b, err := os.ReadFile(s.path("mender.conf"))
	require.NoError(s.t, err)
	conf := map[string]any{}
	require.NoError(s.t, json.Unmarshal(b, &conf))
	for key, dir := range map[string]string{"ArtifactScriptsPath": "data/scripts", "RootfsScriptsPath": "etc/scripts"} {
		require.NoError(s.t, os.MkdirAll(s.path(dir), 0o755))
		conf[key] = s.path(dir)
	}
	s.write("etc/scripts/version", "3")
	b, _ = json.Marshal(conf)
	s.write("mender.conf", string(b))
}

// The generator's -s state scripts, -N and -d, and --compression lzma,
// through the real clients:
// the scripts run around the module's states, and an artifact whose
// depends the device does not meet is refused with its containers left.
func TestGeneratorScriptsAndDepends(t *testing.T) { eachClient(t, testGeneratorScriptsAndDepends) }

func testGeneratorScriptsAndDepends(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	s.withScriptPaths()
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"v1", "v2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/scripts", v, fixture.Image{Version: v}))
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	log := s.path("scripts.log")
	scripts := t.TempDir()
	for _, name := range []string{"ArtifactInstall_Enter_05_mark", "ArtifactInstall_Leave_10", "ArtifactCommit_Enter_01_mark"} {
		content := fmt.Sprintf("#!/bin/sh\necho %s >> %s\n", name, log)
		require.NoError(t, os.WriteFile(filepath.Join(scripts, name), []byte(content), 0o755))
	}
	gen := func(name, tag string, extra ...string) string {
		args := append([]string{"--app", s.app, "--health-window", "1s", "--run-args", "--network none --restart always",
			reg.Addr + "/e2e/scripts:" + tag}, extra...)
		return s.generate(name, args...)
	}

	first := s.showArtifact() // factory, or unknown to mender-update 5 on a new device
	v1 := gen("scripts-v1", "v1", "-N", first, "-p", "e2e.flavour:blue",
		"-s", filepath.Join(scripts, "ArtifactInstall_Enter_05_mark"), "-s", filepath.Join(scripts, "ArtifactInstall_Leave_10"),
		"-s", filepath.Join(scripts, "ArtifactCommit_Enter_01_mark"))
	out, err := s.mender("install", v1)
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	ran, err := os.ReadFile(log)
	require.NoError(t, err, "the state scripts ran")
	assert.Equal(t, "ArtifactInstall_Enter_05_mark\nArtifactInstall_Leave_10\nArtifactCommit_Enter_01_mark\n", string(ran))
	atV1 := mine()
	require.Len(t, atV1, 1)
	assert.Equal(t, pushed[0], atV1[0].Image)
	provides, err := s.mender("show-provides")
	require.NoError(t, err, provides)
	assert.Contains(t, provides, "e2e.flavour=blue")

	// Depends the device does not meet: refused, nothing changed.
	for _, extra := range [][]string{{"-N", first}, {"--", "-d", "e2e.flavour:red"}} {
		out, err = s.mender("install", gen("scripts-v2-refused", "v2", extra...))
		require.Error(t, err, "%v must be refused: %s", extra, out)
		assert.Equal(t, atV1, mine())
		assert.Equal(t, "scripts-v1", s.showArtifact())
	}
	// Met depends; lzma (xz) compression, which both clients read.
	out, err = s.mender("install", gen("scripts-v2", "v2", "-N", "scripts-v1", "-d", "e2e.flavour:blue", "--compression", "lzma"))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	assert.Equal(t, pushed[1], mine()[0].Image)
	assert.Equal(t, "scripts-v2", s.showArtifact())
	assert.Equal(t, 3, strings.Count(string(must(os.ReadFile(log))), "\n"), "v2 has no scripts")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
