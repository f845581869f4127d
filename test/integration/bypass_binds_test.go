package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// waitLogs waits until container id has written want (the test image
// prints each step), failing after a generous minute.
func waitLogs(t *testing.T, e engine.Engine, id, want string) string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		lines, err = e.ContainerLogs(context.Background(), id, 100)
		require.NoError(t, err)
		if strings.Contains(strings.Join(lines, "\n"), want) {
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("container %.12s never wrote %q; it wrote:\n%s", id, want, strings.Join(lines, "\n"))
	return ""
}

// restart is `docker restart`: the engine sets the container's mounts up
// again, resolving every bind source as the path is now.
func restart(t *testing.T, e engine.Engine, id string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, e.StopContainer(ctx, id, 5*time.Second))
	require.NoError(t, e.StartContainer(ctx, id))
}

// otherApp installs a second app's artifact on w's device and removes its
// containers when the test ends.
func (w *world) otherApp(suffix, ref, runArgs string) string {
	app := w.app + "-" + suffix
	w.t.Cleanup(func() { enginetest.RemoveLabelled(w.t, w.d.Eng, module.LabelApp, app) })
	meta := fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":%q}}}`, app, ref, "--network none "+runArgs)
	require.NoError(w.t, w.d.Install(app+"-1", meta, true), w.d.Log.String())
	return app
}

// oneService is meta-data for one service of w's app.
func (w *world) oneService(ref, runArgs string) string {
	return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":%q}}}`, w.app, ref, "--network none "+runArgs)
}

// Item 1 of issue 17, on the real engine. A container that can write to
// one allowed bind replaces a directory on the path of another bind's
// source with a symbolic link; the engine follows it at the next start,
// and the second bind is then any host path. The first part shows the
// engine doing so (the reason for the rule); the second that the module
// refuses every artifact of that shape in Download, before anything is
// pulled or changed, and allows binds that only read.
func TestBindReplacedByLinkAtRestart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	root := t.TempDir()    // the allowed bind path
	outside := t.TempDir() // stands for the host's root: a link to / works the same
	secret := "host secret " + w.app
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o644))
	attack := w.push("attack", fixture.Image{Version: "attack", Args: []string{"-symlink", "/w/x=" + outside, "-show", "/host/secret"}})

	t.Run("the engine follows the link at every start", func(t *testing.T) {
		require.NoError(t, w.d.Eng.PullImage(ctx, attack))
		run := fixture.RandHex()
		t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, enginetest.TestLabel, run) })
		src := filepath.Join(root, "engine", "app2")
		id, err := w.d.Eng.CreateContainer(ctx, engine.ContainerConfig{Name: "linkswap-" + run, Image: attack, NetworkMode: "none",
			Labels: map[string]string{enginetest.TestLabel: run}, Binds: []string{src + ":/w", src + "/x:/host"}})
		require.NoError(t, err)
		require.NoError(t, w.d.Eng.StartContainer(ctx, id))
		waitLogs(t, w.d.Eng, id, "show /host/secret: cannot read it")
		restart(t, w.d.Eng, id)
		waitLogs(t, w.d.Eng, id, "show /host/secret: "+secret)
		require.NoError(t, w.d.Eng.RemoveContainer(ctx, id))
		require.NoError(t, w.d.Eng.RemoveImage(ctx, attack))
	})

	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.oneService(v1, ""), true), w.d.Log.String())
	before := w.snapshot()
	w.d.U.Config.Policy = hardened
	w.d.U.Config.Policy.BindMountPaths = []string{root}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "real"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "alias")))
	two := func(img, a, b string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"a":{"image":%q,"run_args":%q},"b":{"image":%q,"run_args":%q}}}`,
			w.app, img, "--network none "+a, img, "--network none "+b)
	}
	// Each refusal names the writable bind and the one it holds, whichever
	// of the two it checked first.
	const inside, holds = "lies inside", "is writable and holds"
	for _, tc := range []struct{ name, meta, want string }{
		{"the issue's reproduction", w.oneService(attack, fmt.Sprintf("--restart always -v %s/app2:/w -v %s/app2/x:/host", root, root)), holds + " " + root + "/app2/x, which service web binds"},
		{"a file bound from inside a writable bind", w.oneService(attack, fmt.Sprintf("-v %s/c:/w -v %s/c/app.conf:/etc/app.conf:ro", root, root)), holds},
		{"the writable bind in another service", two(attack, "-v "+root+"/d:/w", "-v "+root+"/d/x:/host:ro"), holds + " " + root + "/d/x, which service b binds"},
		{"deeper below", w.oneService(attack, fmt.Sprintf("-v %s/e:/w -v %s/e/1/2/3:/host:ro", root, root)), holds},
		{"through a link inside the allowed path", w.oneService(attack, fmt.Sprintf("-v %s/real:/w -v %s/alias/x:/host", root, root)), holds},
		{"the inner bind first", w.oneService(attack, fmt.Sprintf("-v %s/f/x:/host:ro -v %s/f:/w", root, root)), inside + " " + root + "/f, which service web binds writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := w.d.Install(tc.name, tc.meta, true)
			if err == nil {
				// The hole, as the issue found it: show where the bind led.
				c := w.byName()
				for _, s := range []string{"web", "b"} {
					if ctr, ok := c[w.app+"-"+s]; ok {
						restart(t, w.d.Eng, ctr.ID)
						for i := 0; i < 100; i++ {
							lines, _ := w.d.Eng.ContainerLogs(ctx, ctr.ID, 20)
							if l := strings.Join(lines, "\n"); strings.Contains(l, secret) || i == 99 {
								t.Logf("%s after a restart:\n%s", s, l)
								break
							}
							time.Sleep(100 * time.Millisecond)
						}
					}
				}
				t.Fatalf("%s was installed", tc.name)
			}
			assert.Contains(t, err.Error(), "is refused by the device policy (bind_mount_paths: it "+tc.want)
			assert.Equal(t, before, w.snapshot(), "nothing changed")
			assert.False(t, w.has(attack), "refused before anything was pulled")
		})
	}

	// Binds that only read may nest; equal sources may be shared.
	ro := two(w.version("web"), fmt.Sprintf("-v %s/g:/r:ro -v %s/g/x:/x:ro", root, root), fmt.Sprintf("-v %s/h:/w -v %s/h:/v", root, root))
	require.NoError(t, w.d.Install("read-only", ro, true), w.d.Log.String())
	w.checkUnrelated()
}

// Item 1 across apps: the writable bind of a container already on the
// device counts as much as the artifact's own, in both orders.
func TestBindOverlapWithOtherApps(t *testing.T) {
	w := newWorld(t)
	root := t.TempDir()
	w.d.U.Config.Policy.BindMountPaths = []string{root}
	web := w.version("web")
	writer := w.otherApp("w", web, "-v "+root+"/shared:/w")
	reader := w.otherApp("r", web, "-v "+root+"/inner/x:/x:ro")
	before := w.snapshot()
	for name, tc := range map[string]struct{ args, want string }{
		"inside another app's writable bind": {"-v " + root + "/shared/x:/host:ro", "it lies inside " + root + "/shared, which container " + writer + "-web binds writable"},
		"holding another app's bind":         {"-v " + root + "/inner:/w", "it is writable and holds " + root + "/inner/x, which container " + reader + "-web binds"},
	} {
		err := w.d.Install(name, w.oneService(web, tc.args), true)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
		assert.Equal(t, before, w.snapshot(), name)
	}
	require.NoError(t, w.d.Install("beside", w.oneService(web, "-v "+root+"/inner:/r:ro -v "+root+"/shared:/w"), true), w.d.Log.String())
	w.checkUnrelated()
}

// Item 2 of issue 17: binds that reach the module's state directory, or
// Mender's directories (here one added with protected_paths), are refused
// whatever the policy, read-only or not, inside, equal or above.
func TestProtectedPathsRefused(t *testing.T) {
	w := newWorld(t)
	web := w.version("web")
	require.NoError(t, w.d.Install("app-v1", w.oneService(web, ""), true), w.d.Log.String())
	before := w.snapshot()
	state := w.d.U.Config.StateDir
	mender := t.TempDir()
	w.d.U.Config.ProtectedPaths = []string{mender}
	for _, args := range []string{
		"-v " + filepath.Dir(state) + ":/w",
		"-v " + state + ":/s:ro",
		"-v " + state + "/" + w.app + "/files:/f",
		"-v " + mender + "/keys:/k:ro",
		"-v /:/host:ro",
	} {
		err := w.d.Install("protected", w.oneService(web, args), true)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), "is refused: it overlaps", args)
		assert.Equal(t, before, w.snapshot(), args)
	}

	// A device that restricts binds keeps the engine's own directory (every
	// container's configuration, every volume's data) and its socket out
	// of reach too, even where bind_mount_paths would allow them.
	root, err := w.d.Eng.RootDir(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, root)
	w.d.U.Config.Policy.BindMountPaths = []string{root, "/var/run", "/run"}
	for args, want := range map[string]string{
		"-v " + root + "/volumes:/v:ro":        "it overlaps the engine's directory",
		"-v /var/run/docker.sock:/docker.sock": "it overlaps the engine's socket",
	} {
		err := w.d.Install("engine", w.oneService(web, args), true)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
		assert.Equal(t, before, w.snapshot(), args)
	}
	w.checkUnrelated()
}

// tamper rewrites the deployment journal of app: edit changes its fields.
func (w *world) tamper(app string, edit func(j map[string]any)) {
	w.t.Helper()
	path := filepath.Join(w.d.U.Config.StateDir, app, "deployment.json")
	b, err := os.ReadFile(path)
	require.NoError(w.t, err)
	var j map[string]any
	require.NoError(w.t, json.Unmarshal(b, &j))
	edit(j)
	b, err = json.Marshal(j)
	require.NoError(w.t, err)
	require.NoError(w.t, os.WriteFile(path, b, 0o600))
}

// Item 2: ArtifactInstall builds containers from the journal, which is
// checked like the artifact was: a journal rewritten between Download and
// ArtifactInstall gets no container past the device policy, no pull from
// a registry it refuses, and no hold on another app.
func TestTamperedJournalInstall(t *testing.T) {
	w := newWorld(t)
	root := t.TempDir()
	v1, v2 := w.version("v1"), w.version("v2")
	require.NoError(t, w.d.Install("app-v1", w.oneService(v1, "-v "+root+"/data:/data"), true), w.d.Log.String())
	before := w.snapshot()
	w.d.U.Config.Policy = hardened
	w.d.U.Config.Policy.BindMountPaths = []string{root}
	w.d.U.Config.Policy.AllowedRegistries = []string{w.reg.Addr}
	foreign := "127.0.0.2:1/it/web@sha256:" + strings.Repeat("ab", 32)
	for name, tc := range map[string]struct{ meta, want string }{
		"host network":             {w.oneService(v2, "--network host"), "--network host is refused by the device policy"},
		"the host's root":          {w.oneService(v2, "-v /:/host"), "-v /:/host is refused"},
		"outside the allowed path": {w.oneService(v2, "-v /etc:/e"), "-v /etc:/e is refused by the device policy (bind_mount_paths"},
		"a refused registry":       {w.oneService(foreign, ""), "allowed_registries"},
		"another app":              {strings.Replace(w.oneService(v2, ""), w.app, w.app+"-other", 1), "its meta-data names app"},
	} {
		t.Run(name, func(t *testing.T) {
			w.d.Artifact(name, w.oneService(v2, "-v "+root+"/data:/data"))
			require.NoError(t, w.d.Run("Download"), w.d.Log.String())
			w.tamper(w.app, func(j map[string]any) { j["meta"] = json.RawMessage(tc.meta) })
			err := w.d.Run("ArtifactInstall")
			w.d.Run("ArtifactRollback")
			w.d.Run("ArtifactFailure")
			w.d.Run("Cleanup")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, before, w.snapshot(), "nothing changed")
		})
	}
	w.checkUnrelated()
}

// Item 2: a journal planted in phase committing (or rolling back) acts on
// its own app alone. Boot-time recover then removes no image that another
// app keeps, starts no container of another app, and refuses a journal
// that names containers by anything but their full ID.
func TestTamperedJournalRecover(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	o1, o2 := w.version("o1"), w.version("o2")
	other := w.otherApp("o", o1, "")
	require.NoError(t, w.d.Install(other+"-2", strings.Replace(w.oneService(o2, ""), `"app":"`+w.app+`"`, `"app":"`+other+`"`, 1), true), w.d.Log.String())
	require.True(t, w.has(o1), "the other app keeps its previous image for a rollback")
	mine := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.oneService(mine, ""), true), w.d.Log.String())
	theirs := w.d.Snapshot(map[string]string{module.LabelApp: other})
	require.Len(t, theirs, 1)
	plant := func(j string) {
		require.NoError(t, os.WriteFile(filepath.Join(w.d.U.Config.StateDir, w.app, "deployment.json"), []byte(j), 0o600))
	}
	meta := w.oneService(mine, "")

	// Its pulled images, and its installed set's, are removed only when no
	// other app's journal names them.
	plant(fmt.Sprintf(`{"phase":"committing","app":%q,"artifact":"evil","id":"0123456789abcdef","meta":%s,"pulled":[%q]}`, w.app, meta, o1))
	require.NoError(t, w.d.U.Recover(ctx), w.d.Log.String())
	assert.True(t, w.has(o1), "an image the deployment's meta-data does not name is not removed")
	plant(fmt.Sprintf(`{"phase":"committing","app":%q,"artifact":"evil","id":"0123456789abcdef","meta":%s}`, w.app, meta))
	installed := filepath.Join(w.d.U.Config.StateDir, w.app, "installed.json")
	require.NoError(t, os.WriteFile(installed, []byte(fmt.Sprintf(`{"artifact":"app-v1","images":[%q,%q]}`, mine, o1)), 0o600))
	require.NoError(t, w.d.U.Recover(ctx), w.d.Log.String())
	assert.True(t, w.has(o1), "an image another app keeps is not removed")
	assert.Equal(t, theirs, w.d.Snapshot(map[string]string{module.LabelApp: other}))

	// A rollback restarts only the app's own containers.
	require.NoError(t, w.d.Eng.StopContainer(ctx, theirs[0].ID, 5*time.Second))
	plant(fmt.Sprintf(`{"phase":"rolling-back","app":%q,"artifact":"evil","id":"0123456789abcdef","meta":%s,"old":[{"id":%q,"name":"x","image":%q,"running":true}]}`, w.app, meta, theirs[0].ID, o2))
	require.NoError(t, w.d.U.Recover(ctx), w.d.Log.String())
	c, err := w.d.Eng.InspectContainer(ctx, theirs[0].ID)
	require.NoError(t, err)
	assert.False(t, c.State.Running, "another app's stopped container stays stopped")

	// A container named by its name (the engine would take it) is refused.
	plant(fmt.Sprintf(`{"phase":"rolling-back","app":%q,"artifact":"evil","id":"0123456789abcdef","meta":%s,"old":[{"id":%q,"name":"x","image":%q,"running":true}]}`, w.app, meta, theirs[0].Name, o2))
	err = w.d.U.Recover(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a full container ID")
	c, err = w.d.Eng.InspectContainer(ctx, theirs[0].ID)
	require.NoError(t, err)
	assert.False(t, c.State.Running)
	require.NoError(t, os.Remove(filepath.Join(w.d.U.Config.StateDir, w.app, "deployment.json")))
	w.checkUnrelated()
}

// Item 2: the files cache is not taken on trust. A directory planted where
// the archive unpacks (a link to a host file, or other content) is
// replaced by what the archive holds, and an app directory that is a link
// is refused; the container mounts the archive's files only.
func TestFilesCacheVerified(t *testing.T) {
	w := newWorld(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o644))
	web := w.version("web", "-need", "/etc/app.conf")
	archive := filesTar(t, map[string]string{"conf": "x=1\n"})
	meta := w.filesMeta(web, archive)
	var j struct {
		Files struct{ Digest string }
	}
	require.NoError(t, json.Unmarshal([]byte(meta), &j))
	dir := filepath.Join(w.d.U.Config.StateDir, w.app, "files", strings.TrimPrefix(j.Files.Digest, "sha256:"))

	for name, plant := range map[string]func(){
		"a link to a host file": func() { require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "conf"))) },
		"other content":         func() { require.NoError(t, os.WriteFile(filepath.Join(dir, "conf"), []byte("planted"), 0o644)) },
		"the directory a link":  func() { require.NoError(t, os.Remove(dir)); require.NoError(t, os.Symlink(outside, dir)) },
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			plant()
			require.NoError(t, w.payloadDownload(name, meta, map[string][]byte{"files.tar": archive}), w.d.Log.String())
			require.NoError(t, w.d.Run("ArtifactInstall"), w.d.Log.String())
			require.NoError(t, w.d.Run("ArtifactCommit"))
			require.NoError(t, w.d.Run("Cleanup"))
			s := w.snapshot()
			require.Len(t, s, 1)
			logs := waitLogs(t, w.d.Eng, s[0].ID, "/etc/app.conf: ")
			assert.Contains(t, logs, "/etc/app.conf: x=1")
			assert.NotContains(t, logs, "secret")
			assert.NotContains(t, logs, "planted")
			enginetest.RemoveLabelled(t, w.d.Eng, module.LabelApp, w.app)
			require.NoError(t, os.RemoveAll(filepath.Join(w.d.U.Config.StateDir, w.app)))
		})
	}

	// The app's files directory a link: refused, and the link removed.
	appDir := filepath.Join(w.d.U.Config.StateDir, w.app)
	require.NoError(t, os.MkdirAll(appDir, 0o700))
	require.NoError(t, os.Symlink(outside, filepath.Join(appDir, "files")))
	err := w.payloadDownload("files-link", meta, map[string][]byte{"files.tar": archive})
	require.ErrorIs(t, err, module.ErrUnsafePath)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing written through the link")
	w.checkUnrelated()
}

// Item 12 of issue 17: the files archive is unpacked into the state
// directory, whose filesystem (here an 8 MB tmpfs) may be another than
// the engine's: its free space above min_free_mb bounds the unpack, and a
// Download without room fails before it writes anything.
func TestFilesUnpackBoundedByStateDisk(t *testing.T) {
	fixture.Need(t, os.Geteuid() == 0, "root, to mount a small tmpfs")
	w := newWorld(t)
	state := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", state).CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { exec.Command("umount", "-l", state).Run() })
	w.d.U.Config.StateDir = state
	web := w.version("web")
	filesRoot := filepath.Join(state, w.app, "files")
	big := filesTar(t, map[string]string{"conf": "x=1\n", "data/blob": strings.Repeat("x", 7<<20)})

	w.d.U.Config.MinFreeMB = 2
	err = w.payloadDownload("files-no-room", w.filesMeta(web, big), map[string][]byte{"files.tar": big})
	require.ErrorIs(t, err, module.ErrDiskSpace)
	assert.Contains(t, err.Error(), "state directory")
	entries, _ := os.ReadDir(filesRoot)
	assert.Empty(t, entries, "nothing unpacked stays")
	assert.False(t, w.has(web))

	w.d.U.Config.MinFreeMB = 9
	small := filesTar(t, map[string]string{"conf": "x=1\n"})
	err = w.payloadDownload("files-full", w.filesMeta(web, small), map[string][]byte{"files.tar": small})
	require.ErrorIs(t, err, module.ErrDiskSpace)
	assert.Contains(t, err.Error(), "(state_dir), need at least 9 MB (min_free_mb)")
	assert.False(t, w.has(web), "refused before anything was pulled")

	w.d.U.Config.MinFreeMB = 1
	require.NoError(t, w.payloadDownload("files-fits", w.filesMeta(web, small), map[string][]byte{"files.tar": small}), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	w.checkUnrelated()
}
