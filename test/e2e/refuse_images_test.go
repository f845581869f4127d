package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// allowed_registries and images that come from no registry, through the
// real clients: an embedded image needs allow_embedded; an embedded entry
// that names the ID of an image already on the device, with no payload,
// does not get that image run; and a commit removes only the images the
// module pulled or loaded itself, never one the device had before.
func TestEmbeddedImagesAndRegistries(t *testing.T) { eachClient(t, testEmbeddedImagesAndRegistries) }

func testEmbeddedImagesAndRegistries(t *testing.T, cl client) {
	reg := fixture.NewRegistry(t)
	s := newSandbox(t, cl, "")
	policy := func(p map[string]any) {
		conf := map[string]any{"state_dir": s.path("state"), "default_app": s.app, "health_window": "1s", "min_free_mb": 0, "stop_timeout": "5s"}
		if p != nil {
			conf["policy"] = p
		}
		b, err := json.Marshal(conf)
		require.NoError(t, err)
		s.write("mender-docker.conf", string(b))
	}
	e := fixture.Docker(t)
	ctx := context.Background()
	run := fixture.RandHex()
	pre := fixture.MustPush(t, reg, "e2e/pre", "v1", fixture.Image{Version: "pre-" + run})
	v2 := fixture.MustPush(t, reg, "e2e/pulled", "v2", fixture.Image{Version: "v2-" + run})
	emb := fixture.MustPush(t, reg, "e2e/emb", "v1", fixture.Image{Version: "emb-" + run})
	// An image on the device from no allowed registry, loaded by hand.
	archive, localID, err := fixture.Archive(fixture.Image{Version: "local-" + run}, []string{"127.0.0.1:9/e2e/local:" + run}, nil)
	require.NoError(t, err)
	require.NoError(t, e.LoadImage(ctx, bytes.NewReader(archive)))
	// The device had pre before any artifact named it.
	require.NoError(t, e.PullImage(ctx, pre))
	var embID string
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		// The name the module gives the image it loads, should the test
		// stop before it knows its ID.
		repo, digest, _ := strings.Cut(emb, "@sha256:")
		for _, ref := range []string{pre, v2, emb, "127.0.0.1:9/e2e/local:" + run, localID, embID, repo + ":mender-" + digest[:12]} {
			if ref != "" {
				e.RemoveImage(ctx, ref)
			}
		}
	})
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	has := func(ref string) bool {
		ok, err := e.HasImage(ctx, ref)
		require.NoError(t, err)
		return ok
	}
	install := func(path string) {
		out, err := s.mender("install", path)
		require.NoError(t, err, out)
		out, err = s.mender("commit")
		require.NoError(t, err, out)
	}

	pulled := func(name, args string) string {
		return s.artifact(name, fmt.Sprintf(`{"containers":[%q],"run_args":%q}`, v2, args))
	}
	policy(nil)
	install(s.artifact("pre", fmt.Sprintf(`{"containers":[%q],"run_args":"--network none"}`, pre)))
	atPre := mine()
	require.Len(t, atPre, 1)
	require.True(t, atPre[0].Running)
	// Two updates later pre is used by neither the current nor the
	// previous set: still the module's commit keeps it, as it never
	// pulled it.
	install(pulled("v2", "--network none"))
	install(pulled("v2-again", "--network none --restart always"))
	assert.True(t, has(pre), "an image the device had before is not the module's to remove")
	atV2 := mine()
	require.Len(t, atV2, 1)

	// An entry that names the local image's ID and carries no payload
	// must not get that image run.
	ref := reg.Addr + "/e2e/local@sha256:" + strings.Repeat("ab", 32)
	adopt := fmt.Sprintf(`{"app":%q,"services":{"web":{"image":%q,"run_args":"--network none"}},"embedded":{%q:{"id":%q,"file":"web.tar"}}}`, s.app, ref, ref, localID)
	out, err := s.mender("install", s.artifact("adopt", adopt))
	assert.Error(t, err, "an image on the device that the artifact does not carry must not be adopted:\n%s", out)
	assert.Equal(t, atV2, mine())
	assert.Equal(t, "v2-again", s.showArtifact())
	assert.True(t, has(localID), "the local image is kept")

	// allowed_registries alone: an embedded image comes from no registry.
	policy(map[string]any{"allowed_registries": []string{reg.Addr}})
	embedded := s.generate("embedded", "--app", s.app, "--health-window", "1s", "--run-args", "--network none", "--embed", emb)
	out, err = s.mender("install", embedded)
	require.Error(t, err, out)
	assert.Contains(t, out, "allow_embedded")
	assert.Equal(t, atV2, mine())
	assert.Equal(t, "v2-again", s.showArtifact())

	// allow_embedded lets it in; the image the module loaded goes once
	// unused, the device's own stay.
	policy(map[string]any{"allowed_registries": []string{reg.Addr}, "allow_embedded": true})
	install(embedded)
	now := mine()
	require.Len(t, now, 1)
	embID = now[0].Image
	assert.True(t, strings.HasPrefix(embID, "sha256:"), embID)
	install(pulled("v2-third", "--network none"))
	install(pulled("v2-fourth", "--network none --restart always"))
	assert.False(t, has(embID), "the image the module loaded is removed once unused")
	assert.True(t, has(pre))
	assert.True(t, has(localID))
	assert.True(t, has(v2), "the current set's image stays")
}
