package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// corpusInstalled are corpus projects (test/compose-corpus) installed on
// the real engine, and the edit each needs first: react-express-mongodb
// binds its sources with :ro (as the generator's error says) and keeps
// the anonymous node_modules volume inside that bind.
var corpusInstalled = map[string]func(string) string{
	"postgresql-pgadmin":      nil,
	"nextcloud-redis-mariadb": nil,
	"wordpress-mysql":         nil,
	"gitea-postgres":          nil,
	"nginx-golang-mysql":      nil,
	"react-express-mongodb": func(s string) string {
		return regexp.MustCompile(`(?m)^(\s*- \./[a-z]+:/usr/src/app)$`).ReplaceAllString(s, "${1}:ro")
	},
}

var corpusImageRE = regexp.MustCompile(`(?m)^(\s*image:\s*)(\S.*?)\s*$`)

// TestCorpusInstalls generates an artifact from each of a handful of
// corpus projects and installs it with the module on the real engine: the
// project as its authors wrote it (its images the test image on the
// loopback registry), plus a test override that makes the test image run
// (entrypoint, command, health check), publishes no host port, gives fixed
// container names a prefix of the app's, and makes every network internal.
func TestCorpusInstalls(t *testing.T) {
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	c, err := client.New(client.FromEnv)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	run := fixture.RandHex()
	var pinned []string
	t.Cleanup(func() {
		for _, p := range pinned {
			e.RemoveImage(ctx, p)
		}
	})
	for _, name := range slices.Sorted(maps.Keys(corpusInstalled)) {
		t.Run(name, func(t *testing.T) {
			app := "corpus-" + run + "-" + strings.ReplaceAll(name, "-", "")
			if len(app) > 40 {
				app = app[:40]
			}
			dir := t.TempDir()
			require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "compose-corpus", name))))
			file := filepath.Join(dir, "compose.yaml")
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			text := string(b)
			if edit := corpusInstalled[name]; edit != nil {
				text = edit(text)
			}
			text = corpusImageRE.ReplaceAllStringFunc(text, func(m string) string {
				sm := corpusImageRE.FindStringSubmatch(m)
				repo := "corpus/" + strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(strings.Trim(sm[2], `"'`)), "-"), "-")
				p := fixture.MustPush(t, reg, repo, run, fixture.Image{Version: run})
				if !slices.Contains(pinned, p) {
					pinned = append(pinned, p)
				}
				return sm[1] + reg.Addr + "/" + repo + ":" + run
			})
			require.NoError(t, os.WriteFile(file, []byte(text), 0o644))

			// The override needs the project's services and networks.
			compiled, err := compose.Compile(ctx, &image.Resolver{Keychain: authn.NewMultiKeychain()}, dir, compose.Options{App: app, TmpDir: t.TempDir()})
			require.NoError(t, err)
			var o strings.Builder
			o.WriteString("services:\n")
			for _, s := range compiled.Services {
				fmt.Fprintf(&o, "  %s:\n    entrypoint: [\"/testapp\"]\n    command: [\"-healthy-after\", \"0s\"]\n"+
					"    healthcheck: {test: [\"CMD\", \"/testapp\", \"check\"], interval: 1s, retries: 60}\n    ports: !reset []\n", s.Name)
				if strings.Contains(s.RunArgs, "--name ") {
					fmt.Fprintf(&o, "    container_name: %s-%s\n", app, s.Name)
				}
			}
			if len(compiled.Networks) > 0 {
				o.WriteString("networks:\n")
				for n := range compiled.Networks {
					fmt.Fprintf(&o, "  %s: {internal: true}\n", n)
				}
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "zz-test.yaml"), []byte(o.String()), 0o644))

			d := fixture.NewDevice(t, e)
			var anon []string
			t.Cleanup(func() {
				enginetest.RemoveLabelled(t, e, module.LabelApp, app)
				for _, v := range anon {
					c.VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true})
				}
			})
			out := filepath.Join(t.TempDir(), "corpus.mender")
			_, err = artifactgen.Generate(ctx, artifactgen.Request{
				Options:      artifactgen.Options{ArtifactName: app + "-1", DeviceTypes: []string{"test-device"}, App: app},
				ComposeDir:   dir,
				ComposeFiles: []string{"compose.yaml", "zz-test.yaml"},
				Resolver:     &image.Resolver{Keychain: authn.NewMultiKeychain()},
				Write:        artifact.WriteOptions{Compression: artifact.None},
				Output:       out,
			})
			require.NoError(t, err)
			d.ArtifactFile(out)
			require.NoError(t, d.Run("Download"), d.Log.String())
			installErr := d.Run("ArtifactInstall")
			l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: app})
			require.NoError(t, err)
			running := 0
			for _, lc := range l {
				res, err := c.ContainerInspect(ctx, lc.ID, client.ContainerInspectOptions{})
				require.NoError(t, err)
				for _, m := range res.Container.Mounts {
					if m.Type == mount.TypeVolume && !strings.HasPrefix(m.Name, app+"_") {
						anon = append(anon, m.Name)
					}
				}
				if res.Container.State.Running {
					running++
				}
				for n := range res.Container.NetworkSettings.Networks {
					nr, err := c.NetworkInspect(ctx, n, client.NetworkInspectOptions{})
					require.NoError(t, err)
					assert.True(t, nr.Network.Internal, "%s is internal", n)
				}
			}
			if installErr != nil {
				d.Run("ArtifactRollback")
				d.Run("ArtifactFailure")
				d.Run("Cleanup")
				t.Fatalf("install: %v\n%s", installErr, d.Log.String())
			}
			assert.Equal(t, len(compiled.Services), running, "every service runs")
			require.NoError(t, d.Run("ArtifactCommit"), d.Log.String())
			require.NoError(t, d.Run("Cleanup"))
		})
	}
}
