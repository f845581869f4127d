package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
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

func projectTar(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// A two-service Compose app with a named volume, through the module's
// states with the Compose found on the machine: it installs, updates,
// rolls back to the previous project, and the volume's data stays.
func TestComposeApp(t *testing.T) {
	_, err := module.FindComposer(nil)
	fixture.Need(t, err == nil, "Docker Compose (docker-compose)")
	w := newWorld(t)
	ctx := context.Background()
	volume := w.app + "_data"
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, w.d.Eng, module.ComposeProjectLabel, w.app)
		exec.Command("docker", "volume", "rm", "-f", volume).Run()
	})
	web1, web2 := w.version("web1", "-touch", "/data/from-web1"), w.version("web2")
	worker := w.push("worker", fixture.Image{Version: "worker1"})

	deploy := func(name, web string, params string, commit bool) error {
		compose := fmt.Sprintf(`version: "3.7"
services:
  web:
    image: %s
    network_mode: none
    restart: always
    labels:
      site: "${SITE}"
    volumes: ["data:/data"]
  worker:
    image: %s
    network_mode: none
volumes:
  data: {}
`, web, worker)
		meta := fmt.Sprintf(`{"app":%q,"health":{"window":"1s"},"params":{"SITE":%q},"compose":{"project":"project.tar","images":[%q,%q]}}`, w.app, params, web, worker)
		w.d.Artifact(name, meta)
		require.NoError(t, os.MkdirAll(filepath.Join(w.d.Files, "files"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(w.d.Files, "files", "project.tar"), projectTar(t, map[string]string{"docker-compose.yml": compose}), 0o644))
		if err := w.d.Run("Download"); err != nil {
			w.d.Run("Cleanup")
			return err
		}
		if err := w.d.Run("ArtifactInstall"); err != nil {
			w.d.Run("ArtifactRollback")
			w.d.Run("ArtifactFailure")
			w.d.Run("Cleanup")
			return err
		}
		if commit {
			if err := w.d.Run("ArtifactCommit"); err != nil {
				return err
			}
			return w.d.Run("Cleanup")
		}
		return nil
	}
	images := func() map[string]string {
		out := map[string]string{}
		l, err := w.d.Eng.ListContainers(ctx, map[string]string{module.ComposeProjectLabel: w.app})
		require.NoError(t, err)
		for _, c := range l {
			full, err := w.d.Eng.InspectContainer(ctx, c.ID)
			require.NoError(t, err)
			assert.True(t, full.State.Running, c.Name)
			out[c.Labels["com.docker.compose.service"]] = c.Image
		}
		return out
	}
	volumeHas := func(file string) bool {
		out, err := exec.Command("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).Output()
		require.NoError(t, err)
		_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), file))
		return err == nil
	}

	require.NoError(t, deploy("shop-1", web1, "Oslo", true), w.d.Log.String())
	assert.Equal(t, map[string]string{"web": web1, "worker": worker}, images())
	assert.True(t, volumeHas("from-web1"))
	assert.Contains(t, w.d.Log.String(), "parameter SITE=Oslo")

	require.NoError(t, deploy("shop-2", web2, "Oslo", false), w.d.Log.String())
	assert.Equal(t, map[string]string{"web": web2, "worker": worker}, images())
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, map[string]string{"web": web1, "worker": worker}, images(), "the previous project is back")
	assert.True(t, volumeHas("from-web1"), "the named volume kept its data")

	require.NoError(t, deploy("shop-2", web2, "Oslo", true), w.d.Log.String())
	assert.Equal(t, map[string]string{"web": web2, "worker": worker}, images())
	assert.True(t, volumeHas("from-web1"))
	projects, err := os.ReadDir(filepath.Join(w.d.U.Config.StateDir, w.app, "projects"))
	require.NoError(t, err)
	assert.Len(t, projects, 1, "commit removes the old project directory")

	// Removing the app: its project comes down; a rollback brings it back.
	remove := func(commit bool) {
		w.d.Artifact("shop-gone", fmt.Sprintf(`{"app":%q,"remove":true}`, w.app))
		require.NoError(t, w.d.Run("Download"))
		require.NoError(t, w.d.Run("ArtifactInstall"), w.d.Log.String())
		if commit {
			require.NoError(t, w.d.Run("ArtifactCommit"), w.d.Log.String())
			require.NoError(t, w.d.Run("Cleanup"))
		}
	}
	remove(false)
	assert.Empty(t, images())
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, map[string]string{"web": web2, "worker": worker}, images(), "the removal rolled back")
	remove(true)
	assert.Empty(t, images())
	assert.False(t, w.has(web2), "the removed app's images go at commit")
	assert.True(t, volumeHas("from-web1"), "named volumes are never removed")

	w.checkUnrelated()
}
