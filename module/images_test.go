package module_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// A commit removes only images the module fetched: not one the device had
// before, not one that a record of an earlier release lists, and not one
// that a journal names beyond the images of its own meta-data.
func TestCommitRemovesOnlyItsOwnImages(t *testing.T) {
	d := newDevice(t)
	ctx := context.Background()
	app := func(img string) string {
		return fmt.Sprintf(`{"app":"shop","containers":[%q],"run_args":"--restart always"}`, img)
	}
	pre := d.image("pre", "1", memengine.Behavior{})
	stray := d.image("stray", "1", memengine.Behavior{})
	v1, v2, v3, v4 := d.image("web", "1", memengine.Behavior{}), d.image("web", "2", memengine.Behavior{}), d.image("web", "3", memengine.Behavior{}), d.image("web", "4", memengine.Behavior{})
	require.NoError(t, d.eng.PullImage(ctx, pre))
	require.NoError(t, d.eng.PullImage(ctx, stray))
	has := func(ref string) bool {
		ok, err := d.eng.HasImage(ctx, ref)
		require.NoError(t, err)
		return ok
	}

	require.NoError(t, d.install("pre", app(pre), true), d.Log.String())
	require.NoError(t, d.install("v1", app(v1), true), d.Log.String())
	require.NoError(t, d.install("v2", app(v2), true), d.Log.String())
	assert.True(t, has(pre), "the device had it before: %s", d.Log.String())
	assert.Contains(t, d.Log.String(), "kept image "+pre+": the module did not fetch it")

	// A journal that says this deployment pulled stray as well.
	tamper := func(img string) {
		path := filepath.Join(d.u.Config.StateDir, "shop", "deployment.json")
		var j map[string]any
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &j))
		j["pulled"] = []string{img, stray}
		data, err = json.Marshal(j)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o644))
	}
	v5 := d.image("web", "5", memengine.Behavior{})
	d.artifact("v5", app(v5))
	require.NoError(t, d.run("Download"))
	tamper(v5)
	require.NoError(t, d.run("Cleanup"), "a deployment that does not go on")
	assert.True(t, has(stray), "cleanup: an image the journal names beyond its meta-data's")
	assert.False(t, has(v5), "cleanup removes what the deployment pulled")
	d.artifact("v3", app(v3))
	require.NoError(t, d.run("Download"))
	tamper(v3)
	for _, s := range []string{"ArtifactInstall", "ArtifactCommit", "Cleanup"} {
		require.NoError(t, d.run(s), d.Log.String())
	}
	require.NoError(t, d.install("v4", app(v4), true), d.Log.String())
	assert.True(t, has(stray), "an image the journal names beyond its meta-data's")
	assert.False(t, has(v1), "the module's own image goes once unused")
	assert.False(t, has(v2))
	assert.True(t, has(v3), "kept for one more update")

	// A record of an earlier release, which did not say what was fetched.
	installed := filepath.Join(d.u.Config.StateDir, "shop", "installed.json")
	require.NoError(t, os.WriteFile(installed, []byte(fmt.Sprintf(`{"artifact":"v4","images":[%q],"previous":[%q]}`, v4, v3)), 0o644))
	require.NoError(t, d.install("v1-again", app(v1), true), d.Log.String())
	assert.True(t, has(v3), "not known to be the module's")
	assert.True(t, has(v4))
}
