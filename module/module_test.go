package module_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// device is a simulated device on the in-memory engine.
type device struct {
	*fixture.Device
	t   *testing.T
	eng *memengine.Engine
	u   *module.Updater
	// payload is what the next artifacts carry in FILES_DIR/files.
	payload map[string][]byte
}

func newDevice(t *testing.T) *device {
	eng := memengine.New()
	fd := fixture.NewDevice(t, eng)
	fd.U.PollInterval = time.Millisecond
	return &device{Device: fd, t: t, eng: eng, u: fd.U}
}

// image returns a pinned reference for a version, made pullable.
func (d *device) image(repo, version string, b memengine.Behavior) string {
	sum := sha256.Sum256([]byte(repo + version))
	ref := fmt.Sprintf("127.0.0.1:5000/acme/%s@sha256:%s", repo, hex.EncodeToString(sum[:]))
	d.eng.AddRemote(ref, b)
	return ref
}

func (d *device) run(state string) error { return d.Run(state) }

// install deploys an artifact with the client's sequences, as
// fixture.Device.Install does, with d.payload as its payload.
func (d *device) install(name, meta string, commit bool) error {
	d.artifact(name, meta)
	if err := d.run("Download"); err != nil {
		d.run("Cleanup")
		return err
	}
	if err := d.run("ArtifactInstall"); err != nil {
		d.run("ArtifactRollback")
		d.run("ArtifactFailure")
		d.run("Cleanup")
		return err
	}
	if !commit {
		return nil
	}
	if err := d.run("ArtifactCommit"); err != nil {
		return err
	}
	return d.run("Cleanup")
}

// artifact lays out FILES_DIR, with d.payload stored in it.
func (d *device) artifact(name, meta string) {
	d.Artifact(name, meta)
	if len(d.payload) == 0 {
		return
	}
	dir := filepath.Join(d.Files, "files")
	require.NoError(d.t, os.MkdirAll(dir, 0o755))
	for f, data := range d.payload {
		require.NoError(d.t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
}

func (d *device) containers() []engine.Container {
	l, err := d.eng.ListContainers(context.Background(), nil)
	require.NoError(d.t, err)
	return l
}

func meta(images ...string) string {
	s := `{"containers":[`
	for i, img := range images {
		if i > 0 {
			s += ","
		}
		s += `"` + img + `"`
	}
	return s + `],"run_args":"--restart always"}`
}

// unrelated starts a container the module does not own.
func (d *device) unrelated() string {
	ref := d.image("other", "1", memengine.Behavior{})
	ctx := context.Background()
	require.NoError(d.t, d.eng.PullImage(ctx, ref))
	id, err := d.eng.CreateContainer(ctx, engine.ContainerConfig{Name: "someone-elses", Image: ref})
	require.NoError(d.t, err)
	require.NoError(d.t, d.eng.StartContainer(ctx, id))
	return id
}

func (d *device) snapshot() []fixture.Snap { return d.Snapshot(nil) }

func TestQueries(t *testing.T) {
	d := newDevice(t)
	for state, want := range map[string]string{"NeedsArtifactReboot": "No\n", "SupportsRollback": "Yes\n", "SomeFutureState": "", "ArtifactReboot": ""} {
		var out bytes.Buffer
		require.NoError(t, d.u.Run(context.Background(), state, d.Files, &out))
		assert.Equal(t, want, out.String(), state)
	}
}

func TestInstallCommitUpdate(t *testing.T) {
	d := newDevice(t)
	other := d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	v2 := d.image("web", "2", memengine.Behavior{})

	require.NoError(t, d.install("app-1", meta(v1), true))
	cs := d.containers()
	require.Len(t, cs, 2)
	web := cs[0]
	assert.Equal(t, "default-web", web.Name)
	assert.Equal(t, v1, web.Image)
	assert.True(t, web.State.Running)
	assert.Equal(t, "always", web.RestartPolicy)
	assert.Equal(t, map[string]string{module.LabelApp: "default", module.LabelService: "web", module.LabelArtifact: "app-1", module.LabelDeployment: web.Labels[module.LabelDeployment],
		module.LabelConfigHash: web.Labels[module.LabelConfigHash]}, web.Labels)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, web.Labels[module.LabelConfigHash])
	assert.True(t, d.eng.Config(web.ID).Tty)

	require.NoError(t, d.install("app-2", meta(v2), false))
	// Before commit: new running under the name, old stopped and renamed.
	byName := map[string]engine.Container{}
	for _, c := range d.containers() {
		byName[c.Name] = c
	}
	assert.Equal(t, v2, byName["default-web"].Image)
	assert.True(t, byName["default-web"].State.Running)
	assert.False(t, byName["default-web_prev"].State.Running)
	assert.Equal(t, web.ID, byName["default-web_prev"].ID)

	require.NoError(t, d.run("ArtifactCommit"))
	require.NoError(t, d.run("Cleanup"))
	cs = d.containers()
	require.Len(t, cs, 2)
	assert.Equal(t, v2, cs[0].Image)
	assert.Equal(t, other, cs[1].ID)
	assert.True(t, cs[1].State.Running, "the unrelated container kept running")
	assert.ElementsMatch(t, []string{v1, v2, cs[1].Image}, d.eng.Images(), "current and previous images kept")

	// A third version drops v1, the one before previous.
	v3 := d.image("web", "3", memengine.Behavior{})
	require.NoError(t, d.install("app-3", meta(v3), true))
	assert.ElementsMatch(t, []string{v2, v3, cs[1].Image}, d.eng.Images())
}

func TestRollbackRestoresExactly(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	db1 := d.image("db", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1, db1), true))
	// A container of the app that was stopped on purpose stays stopped.
	var dbID string
	for _, c := range d.containers() {
		if c.Name == "default-db" {
			dbID = c.ID
		}
	}
	require.NoError(t, d.eng.StopContainer(context.Background(), dbID, 0))
	before := d.snapshot()

	v2 := d.image("web", "2", memengine.Behavior{})
	require.NoError(t, d.install("app-2", meta(v2), false))
	require.NoError(t, d.run("SupportsRollback"))
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot())
	assert.NotContains(t, d.eng.Images(), v2, "the image fetched for the failed update is gone")
	assert.Contains(t, d.eng.Images(), v1)
}

func TestFailedHealthRollsBack(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	before := d.snapshot()

	for name, b := range map[string]memengine.Behavior{
		"crashes":       {Crash: true},
		"unhealthy":     {Health: engine.HealthUnhealthy},
		"never healthy": {Health: engine.HealthStarting},
	} {
		t.Run(name, func(t *testing.T) {
			bad := d.image("web", name, b)
			err := d.install("app-bad", `{"health":{"window":"5ms","timeout":"20ms"},"containers":["`+bad+`"]}`, true)
			require.ErrorIs(t, err, module.ErrUnhealthy)
			assert.Equal(t, before, d.snapshot())
			assert.NotContains(t, d.eng.Images(), bad)
		})
	}
}

func TestDownloadFailureChangesNothing(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	before, images := d.snapshot(), d.eng.Images()

	good := d.image("web", "2", memengine.Behavior{})
	gone := d.image("db", "2", memengine.Behavior{})
	d.eng.RemoveRemote(gone)
	err := d.install("app-2", meta(good, gone), true)
	require.ErrorIs(t, err, engine.ErrNotFound)
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images(), "the image that did pull was removed again")

	d.eng.Down = true
	require.Error(t, d.install("app-2", meta(good), true))
	d.eng.Down = false
	assert.Equal(t, before, d.snapshot())

	require.ErrorContains(t, d.install("app-3", `{"containers":["127.0.0.1:5000/web:latest"]}`, true), "not pinned by digest")
	assert.Equal(t, before, d.snapshot())
}

// TestKillAnywhere kills the module after every engine call of a
// deployment and lets the client carry on as it would; the device must end
// with exactly the old set or exactly the new set, never a mix.
func TestKillAnywhere(t *testing.T) {
	type flow struct {
		name   string
		commit bool // the operator commits (else rolls back)
		bad    bool // the new version fails its health check
		boot   bool // a power cut: only the boot-time recover runs
		// The old set was started again before (by a rollback) on an
		// engine with no default bridge, and a stop sent before the kill
		// lands lag engine calls later.
		restarted bool
		lag       int
		// The db service is unchanged: its container is kept in both sets
		// and must never be stopped.
		same bool
		// The app is the shop graph (graph_test.go): two networks with
		// aliases, a volume, a files archive, service_healthy and
		// service_completed_successfully dependencies, db unchanged and
		// api handed over; badAPI: api's new version reports unhealthy
		// during its hand-over.
		graph, badAPI bool
	}
	flows := []flow{{name: "commit", commit: true}, {name: "rollback"}, {name: "unhealthy", bad: true}, {name: "power cut", commit: true, boot: true},
		{name: "restarted, no bridge, stop lands late", commit: true, restarted: true, lag: 2},
		{name: "restarted, rollback, stop lands later", restarted: true, lag: 5},
		{name: "restarted, power cut", commit: true, boot: true, restarted: true, lag: 1},
		{name: "db unchanged, commit", commit: true, same: true}, {name: "db unchanged, rollback", same: true},
		{name: "db unchanged, unhealthy", bad: true, same: true}, {name: "db unchanged, power cut", commit: true, boot: true, same: true},
		{name: "db unchanged, restarted, no bridge, stop lands late", commit: true, restarted: true, lag: 2, same: true},
		{name: "db unchanged, restarted, rollback, stop lands later", restarted: true, lag: 5, same: true},
		{name: "graph, commit", commit: true, graph: true}, {name: "graph, rollback", graph: true},
		{name: "graph, web unhealthy", bad: true, graph: true}, {name: "graph, hand-over unhealthy", commit: true, badAPI: true, graph: true},
		{name: "graph, power cut", commit: true, boot: true, graph: true},
		{name: "graph, restarted, stop lands late", commit: true, restarted: true, lag: 2, graph: true},
		{name: "graph, restarted, rollback, stop lands later", restarted: true, lag: 5, graph: true}}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			if f.graph {
				n := killGraph(t, f.name, f.commit, f.bad, f.badAPI, f.boot, f.restarted, f.lag)
				t.Logf("%s: %d kill points", f.name, n)
				return
			}
			// One subtest per kill point, until k exceeds the calls of the
			// whole deployment (nothing was killed).
			for k := 1; ; k++ {
				killed := "?"
				if !t.Run(fmt.Sprintf("kill-%d", k), func(t *testing.T) {
					d := newDevice(t)
					other := d.unrelated()
					v1 := d.image("web", "1", memengine.Behavior{})
					db1 := d.image("db", "1", memengine.Behavior{})
					require.NoError(t, d.install("app-1", meta(v1, db1), true))
					if f.restarted {
						d.eng.NoBridge, d.eng.StopLag = true, f.lag
						d.restartAll(other)
					}
					old := d.snapshot()
					v2 := d.image("web", "2", memengine.Behavior{Crash: f.bad})
					db2 := d.image("db", "2", memengine.Behavior{})
					db := d.byName()["default-db"]
					if f.same {
						db2 = db1
					}

					d.eng.KillAfter(k)
					killed = d.deployKilled(f.commit, f.boot, meta(v2, db2))
					d.eng.KillAfter(0)
					if f.boot && killed != "" {
						require.NoError(t, d.u.Recover(context.Background()))
						if killed == "ArtifactCommit" || killed == "Cleanup" {
							d.run("ArtifactCommit") // the client, started again, commits
						}
					}

					label := fmt.Sprintf("%s, killed in %s after %d calls", f.name, killed, k)
					now := d.snapshot()
					var images []string
					var others int
					for _, c := range now {
						if c.ID == other {
							assert.True(t, c.Running, label)
							continue
						}
						others++
						images = append(images, c.Image)
					}
					isOld := assert.ObjectsAreEqual(old, now)
					isNew := others == 2 && assert.ObjectsAreEqual([]string{v2, db2}, []string{images[1], images[0]}) && now[0].Running && now[1].Running
					if !isOld && !isNew {
						t.Fatalf("%s: device is in neither state:\nold %v\nnow %v\nlog:\n%s", label, old, now, d.Log.String())
					}
					if f.same {
						// Either way it is the same container, never stopped.
						sameContainer(t, db, d.byName()["default-db"], label)
					}
					if killed == "" && f.commit && !f.bad && !isNew {
						t.Fatalf("%s: nothing was killed, yet the update did not stick:\n%s", label, d.Log.String())
					}
					// A killed Cleanup may leave the journal; the next run (boot
					// recover, or the next Download) finishes it without changing
					// the running set.
					require.NoError(t, d.u.Recover(context.Background()), label)
					assert.Equal(t, now, d.snapshot(), label)
					_, err := os.Stat(filepath.Join(d.u.Config.StateDir, "default", "deployment.json"))
					assert.True(t, os.IsNotExist(err), "%s: journal left behind", label)
				}) || killed == "" {
					break
				}
			}
		})
	}
}

// killGraph is TestKillAnywhere's loop for the shop graph: after a kill at
// every engine call, the device runs exactly the old set (same containers,
// names, running state) or exactly the new one, db kept throughout, with
// the networks (each container attached as before), the volume, and the
// files of the set that runs. It returns the kill points checked.
func killGraph(t *testing.T, name string, commit, bad, badAPI, boot, restarted bool, lag int) int {
	runs := 0
	for k := 1; ; k++ {
		killed := "?"
		ok := t.Run(fmt.Sprintf("kill-%d", k), func(t *testing.T) {
			d := newDevice(t)
			other := d.unrelated()
			v1 := d.shop("1", shopBehaviour())
			require.NoError(t, d.installShop("shop-1", v1, true), d.Log.String())
			if restarted {
				d.eng.StopLag = lag
				d.restartAll(other)
			}
			old := d.snapshot()
			b := shopBehaviour()
			if bad {
				b["web"] = memengine.Behavior{Crash: true}
			}
			if badAPI {
				b["api"] = memengine.Behavior{Health: engine.HealthUnhealthy}
			}
			v2 := d.shop("2", b)
			v2.db = v1.db // unchanged: kept
			db := d.byName()["shop-db"]
			d.payload = map[string][]byte{"files.tar": v2.archive}

			d.eng.KillAfter(k)
			killed = d.deployKilled(commit, boot, v2.meta())
			d.eng.KillAfter(0)
			if boot && killed != "" {
				require.NoError(t, d.u.Recover(context.Background()))
				if killed == "ArtifactCommit" || killed == "Cleanup" {
					d.run("ArtifactCommit") // the client, started again, commits
				}
			}

			label := fmt.Sprintf("%s, killed in %s after %d calls", name, killed, k)
			now := d.snapshot()
			for _, c := range now {
				if c.ID == other {
					assert.True(t, c.Running, label)
				}
			}
			isOld := assert.ObjectsAreEqual(old, now)
			isNew := d.isShop(v2, d.shopSnapshot(), db.ID)
			if !isOld && !isNew {
				t.Fatalf("%s: device is in neither state:\nold %v\nnow %v\nlog:\n%s", label, old, now, d.Log.String())
			}
			sameContainer(t, db, d.byName()["shop-db"], label)
			if killed == "" && commit && !bad && !badAPI && !isNew {
				t.Fatalf("%s: nothing was killed, yet the update did not stick:\n%s", label, d.Log.String())
			}
			require.NoError(t, d.u.Recover(context.Background()), label)
			assert.Equal(t, now, d.snapshot(), label)
			_, err := os.Stat(filepath.Join(d.u.Config.StateDir, "shop", "deployment.json"))
			assert.True(t, os.IsNotExist(err), "%s: journal left behind", label)
			if isNew {
				d.checkShopResources(label, digestOf(v2.archive))
			} else {
				d.checkShopResources(label, digestOf(v1.archive))
			}
		})
		runs++
		if !ok || killed == "" {
			return runs
		}
	}
}

// restartAll stops and starts the app's containers, as a rollback does.
func (d *device) restartAll(except string) {
	ctx := context.Background()
	for _, c := range d.containers() {
		if c.ID != except {
			require.NoError(d.t, d.eng.StopContainer(ctx, c.ID, time.Second))
			require.NoError(d.t, d.eng.StartContainer(ctx, c.ID))
		}
	}
}

// deployKilled runs one deployment as the client would, and returns the
// state that was killed ("" when none was).
// With powerCut, nothing runs after the kill.
func (d *device) deployKilled(commit, powerCut bool, meta string) string {
	d.artifact("app-2", meta)
	killed := ""
	try := func(state string) bool {
		if powerCut && killed != "" {
			return false
		}
		err := d.run(state)
		if errors.Is(err, memengine.ErrKilled) && killed == "" {
			killed = state
			d.eng.KillAfter(0) // the next process is not killed
		}
		return err == nil
	}
	after := func() {
		try("ArtifactRollback")
		try("ArtifactFailure")
		try("Cleanup")
	}
	if !try("Download") {
		try("Cleanup")
		return killed
	}
	if !try("ArtifactInstall") {
		after()
		return killed
	}
	if commit {
		if !try("ArtifactCommit") {
			after()
			return killed
		}
		try("Cleanup")
		return killed
	}
	try("ArtifactRollback")
	try("Cleanup")
	return killed
}

func TestDownloadChecksDiskSpace(t *testing.T) {
	d := newDevice(t)
	d.eng.Root = t.TempDir()
	d.u.Config.MinFreeMB = 1 << 40 // more than any disk has
	v1 := d.image("web", "1", memengine.Behavior{})
	err := d.install("app-1", meta(v1), true)
	require.ErrorIs(t, err, module.ErrDiskSpace)
	assert.Contains(t, err.Error(), "min_free_mb")
	assert.Empty(t, d.eng.Images(), "nothing pulled")
	d.u.Config.MinFreeMB = 1
	require.NoError(t, d.install("app-1", meta(v1), true))
}

// A commit that fails before removing anything can still be rolled back.
func TestCommitFailureBeforeRemovalCanRollBack(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	v2 := d.image("web", "2", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	before := d.snapshot()
	require.NoError(t, d.install("app-2", meta(v2), false))
	d.eng.Down = true
	require.Error(t, d.run("ArtifactCommit"))
	d.eng.Down = false
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("ArtifactFailure"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot())
}

// A deployment installed but never committed or rolled back (the client
// died) is rolled back by the next deployment's Download.
func TestNextDownloadRollsBackAbandonedInstall(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	v2 := d.image("web", "2", memengine.Behavior{})
	v3 := d.image("web", "3", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	require.NoError(t, d.install("app-2", meta(v2), false))
	require.NoError(t, d.u.Recover(context.Background()), "boot recovery leaves an install awaiting commit alone")
	assert.Len(t, d.snapshot(), 2)
	require.NoError(t, d.install("app-3", meta(v3), true))
	s := d.snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, v3, s[0].Image)
	assert.NotContains(t, d.eng.Images(), v2)
	assert.Contains(t, d.Log.String(), "was never committed")
}

// An artifact can remove an app: its containers at once (kept stopped
// until commit, so that a rollback brings them back), its images at commit.
// Other apps are not touched.
func TestRemoveApp(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	db := d.image("db", "1", memengine.Behavior{})
	require.NoError(t, d.install("shop-1", `{"app":"shop","containers":["`+v1+`"]}`, true))
	require.NoError(t, d.install("crm-1", `{"app":"crm","containers":["`+db+`"]}`, true))
	before := d.snapshot()
	removal := `{"app":"shop","remove":true}`

	require.NoError(t, d.install("shop-removed", removal, false))
	for _, c := range d.snapshot() {
		if c.Image == v1 {
			assert.False(t, c.Running, "the removed app's container is stopped")
		} else {
			assert.True(t, c.Running, c.Name)
		}
	}
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot(), "rolled back: the app is back")

	require.NoError(t, d.install("shop-removed", removal, true))
	var names []string
	for _, c := range d.snapshot() {
		names = append(names, c.Name)
		assert.True(t, c.Running)
	}
	assert.ElementsMatch(t, []string{"crm-db", "someone-elses"}, names)
	assert.NotContains(t, d.eng.Images(), v1, "its images go at commit")
	assert.Contains(t, d.eng.Images(), db)

	_, err := spec.Parse([]byte(`{"app":"shop","remove":true,"containers":["` + v1 + `"]}`))
	assert.ErrorContains(t, err, "remove:")
	_, err = spec.Parse([]byte(`{"remove":true}`))
	assert.ErrorContains(t, err, "name the app")
}
