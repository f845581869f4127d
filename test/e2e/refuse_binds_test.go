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

// bindsDevice is a sandbox set up as the README's hardened example is:
// bind_mount_paths ["<root>"], with the state directory in it
// (<root>/mender-docker, as /data/mender-docker under /data).
type bindsDevice struct {
	*sandbox
	root, state string
}

func newBindsDevice(t *testing.T, cl client) *bindsDevice {
	root := t.TempDir()
	state := filepath.Join(root, "mender-docker")
	policy := map[string]any{"bind_mount_paths": []string{root}, "deny_privileged": true, "deny_host_namespaces": true, "deny_cap_add": true, "deny_devices": true}
	s := newSandbox(t, cl, "", map[string]any{"state_dir": state, "policy": policy})
	return &bindsDevice{sandbox: s, root: root, state: state}
}

func (b *bindsDevice) meta(app, ref, runArgs string) string {
	return fmt.Sprintf(`{"app":%q,"services":{"web":{"image":%q,"run_args":%q}}}`, app, ref, "--network none "+runArgs)
}

// Items 1 and 2 of issue 17 through the real clients: an artifact whose
// container could swap the source of another bind for a link (the
// issue's reproduction, and the same against the running app's writable
// bind), and binds that reach the state directory, are refused in
// Download; the device stays exactly as it was.
func TestBindsRefusedThroughClient(t *testing.T) { eachClient(t, testBindsRefusedThroughClient) }

func testBindsRefusedThroughClient(t *testing.T, cl client) {
	s := newBindsDevice(t, cl)
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	v1 := fixture.MustPush(t, reg, "e2e/binds", "v1", fixture.Image{Version: "v1"})
	v2 := fixture.MustPush(t, reg, "e2e/binds", "v2", fixture.Image{Version: "v2", Args: []string{"-symlink", "/w/x=/", "-show", "/host/etc/hostname"}})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, v1)
		e.RemoveImage(ctx, v2)
	})
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	out, err := s.mender("install", s.artifact("binds-v1", s.meta(s.app, v1, "-v "+s.root+"/app:/data")))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	before := mine()
	require.Len(t, before, 1)

	for name, tc := range map[string]struct{ args, want string }{
		"the issue's reproduction":       {"--restart always -v " + s.root + "/app2:/w -v " + s.root + "/app2/x:/host", "is writable and holds " + s.root + "/app2/x"},
		"inside the running app's bind":  {"-v " + s.root + "/app/x:/host:ro", "lies inside " + s.root + "/app, which container " + s.app + "-web binds writable"},
		"the allowed path itself":        {"-v " + s.root + ":/w", "overlaps the module's state directory"},
		"the state directory, read-only": {"-v " + s.state + ":/s:ro", "overlaps the module's state directory"},
	} {
		out, err := s.mender("install", s.artifact("binds-"+strings.ReplaceAll(name, " ", "-"), s.meta(s.app, v2, tc.args)))
		require.Error(t, err, "%s must be refused:\n%s", name, out)
		assert.Contains(t, out, tc.want, name)
		assert.Equal(t, before, mine(), name)
		assert.Equal(t, "binds-v1", s.showArtifact(), name)
		has, herr := e.HasImage(ctx, v2)
		require.NoError(t, herr)
		assert.False(t, has, "%s: nothing pulled", name)
	}
}

// Item 2 through the real clients: a journal rewritten between Download
// and ArtifactInstall (as a container that could write the state
// directory would) gets no container past the policy: ArtifactInstall
// checks the configuration it reads from the journal again. A wrapper
// around the module plays the container's part.
func TestTamperedJournalThroughClient(t *testing.T) { eachClient(t, testTamperedJournalThroughClient) }

func testTamperedJournalThroughClient(t *testing.T, cl client) {
	s := newBindsDevice(t, cl)
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	v1 := fixture.MustPush(t, reg, "e2e/journal", "v1", fixture.Image{Version: "v1"})
	v2 := fixture.MustPush(t, reg, "e2e/journal", "v2", fixture.Image{Version: "v2"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, v1)
		e.RemoveImage(ctx, v2)
	})
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	out, err := s.mender("install", s.artifact("journal-v1", s.meta(s.app, v1, "")))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	before := mine()
	require.Len(t, before, 1)

	real := s.path("real-module")
	require.NoError(t, os.Rename(s.modulePath(), real))
	journal := filepath.Join(s.state, s.app, "deployment.json")
	wrapper := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = ArtifactInstall ]; then sed -i 's|-l tamper=1|--network host -v /:/host|' %q && grep -q 'network host' %q || exit 9; fi\nexec %q \"$@\"\n", journal, journal, real)
	require.NoError(t, os.WriteFile(s.modulePath(), []byte(wrapper), 0o755))

	out, err = s.mender("install", s.artifact("journal-v2", s.meta(s.app, v2, "-l tamper=1")))
	require.Error(t, err, out)
	assert.Contains(t, out, "--network host is refused by the device policy")
	assert.Equal(t, before, mine())
	assert.Equal(t, "journal-v1", s.showArtifact())
}

// Item 2 through the real clients: a deployment journal that names
// another app's image (here the image the other app keeps for its
// rollback) gets it removed by no commit: the commit removes only what
// its own meta-data names and no other app's journal keeps.
func TestTamperedCommitThroughClient(t *testing.T) { eachClient(t, testTamperedCommitThroughClient) }

func testTamperedCommitThroughClient(t *testing.T, cl client) {
	s := newBindsDevice(t, cl)
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	other := s.app + "-other"
	o1 := fixture.MustPush(t, reg, "e2e/other", "v1", fixture.Image{Version: "o1"})
	o2 := fixture.MustPush(t, reg, "e2e/other", "v2", fixture.Image{Version: "o2"})
	v1 := fixture.MustPush(t, reg, "e2e/mine", "v1", fixture.Image{Version: "v1"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		enginetest.RemoveLabelled(t, e, module.LabelApp, other)
		for _, ref := range []string{o1, o2, v1} {
			e.RemoveImage(ctx, ref)
		}
	})
	for i, ref := range []string{o1, o2} {
		out, err := s.mender("install", s.artifact(fmt.Sprintf("other-%d", i+1), s.meta(other, ref, "")))
		require.NoError(t, err, out)
		out, err = s.mender("commit")
		require.NoError(t, err, out)
	}
	has, err := e.HasImage(ctx, o1)
	require.NoError(t, err)
	require.True(t, has, "the other app keeps its previous image")

	out, err := s.mender("install", s.artifact("mine-1", s.meta(s.app, v1, "")))
	require.NoError(t, err, out)
	path := filepath.Join(s.state, s.app, "deployment.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(b, &j))
	j["pulled"] = []string{v1, o1}
	b, err = json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	has, err = e.HasImage(ctx, o1)
	require.NoError(t, err)
	assert.True(t, has, "another app's image survives a tampered commit:\n%s", out)
	theirs := (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: other})
	require.Len(t, theirs, 1)
	assert.True(t, theirs[0].Running)
}
