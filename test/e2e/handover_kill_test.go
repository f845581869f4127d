package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// handOverProject writes a Compose project: db (kept across updates, an
// alias on the internal network, the named volume) and api (hand-over,
// healthy after 1s, the same network and volume, waits for db). api takes
// 1s to stop on SIGTERM, so that a stop is still in flight when the
// module is killed during it.
func handOverProject(t *testing.T, reg, apiTag string) string {
	dir := t.TempDir()
	compose := `services:
  db:
    image: ` + reg + `/e2e/hdb:1
    command: ["-touch", "/data/db"]
    restart: always
    volumes: ["data:/data"]
    networks:
      back:
        aliases: [database]
  api:
    image: ` + reg + `/e2e/hapi:` + apiTag + `
    command: ["-healthy-after", "1s", "-term-delay", "1s"]
    restart: unless-stopped
    x-mender-update: hand-over
    healthcheck:
      test: ["CMD", "/testapp", "check"]
      interval: 500ms
      retries: 30
    volumes: ["data:/data"]
    depends_on: [db]
    networks:
      back:
        aliases: [backend]
networks:
  back:
    internal: true
volumes:
  data: {}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644))
	return dir
}

// The module killed at each step of a hand-over, through the real client.
// Each round installs the other api version (1 -> 2 -> 1 ...: each round
// starts from a hand-over the round before committed) and SIGKILLs the
// module's process group at one engine event of the hand-over:
//   - new-start: the new api container starts (both copies run);
//   - new-healthy: the new one turns healthy;
//   - old-kill: the old api gets its stop signal (the stop in flight);
//   - old-die: the old api has stopped, still under its name;
//   - old-rename: the old one is renamed to NAME_prev;
//   - new-rename: the new one is renamed to NAME.
//
// The client then takes its failure path; the app must be exactly as
// before the round (same containers, names, running, no new api left),
// the network and volume still there, db never restarted; then the same
// artifact installs normally and commits.
func TestKilledDuringHandOver(t *testing.T) {
	eachClient(t, func(t *testing.T, cl client) { handOverKills(t, cl, handOverMoments) })
}

// The module killed while the operator rolls back an installed hand-over
// (new api under NAME, old stopped under NAME_prev), at each step of the
// rollback:
//   - rb-new-destroy: the new api is removed;
//   - rb-old-rename: the old one gets NAME back;
//   - rb-old-start: the old one starts again.
//
// The client then takes its failure path (both run ArtifactFailure, which
// finishes the rollback, and call the deployment inconsistent); the app
// must be exactly as before the install, and the artifact then installs
// normally and commits.
func TestKilledRollingBackHandOver(t *testing.T) {
	eachClient(t, func(t *testing.T, cl client) { handOverKills(t, cl, rollbackMoments) })
}

// killMoment is a filter of docker events and the action to kill at,
// given the old api's ID and the artifact being installed; rollback kills
// the operator's rollback of an installed artifact instead of its install.
type killMoment struct {
	name     string
	filter   func(oldAPI, artifact string) []string
	action   string
	rollback bool
}

func newAPI(event string) func(_, artifact string) []string {
	return func(_, a string) []string {
		return []string{"event=" + event, "label=" + module.LabelArtifact + "=" + a, "label=" + module.LabelService + "=api"}
	}
}

func oldAPI(event string) func(old, _ string) []string {
	return func(old, _ string) []string { return []string{"event=" + event, "container=" + old} }
}

var handOverMoments = []killMoment{
	{name: "new-start", filter: newAPI("start"), action: "start"},
	{name: "new-healthy", filter: newAPI("health_status"), action: "health_status: healthy"},
	{name: "old-kill", filter: oldAPI("kill"), action: "kill"},
	{name: "old-die", filter: oldAPI("die"), action: "die"},
	{name: "old-rename", filter: oldAPI("rename"), action: "rename"},
	{name: "new-rename", filter: newAPI("rename"), action: "rename"},
}

var rollbackMoments = []killMoment{
	{name: "rb-new-destroy", filter: newAPI("destroy"), action: "destroy", rollback: true},
	{name: "rb-old-rename", filter: oldAPI("rename"), action: "rename", rollback: true},
	{name: "rb-old-start", filter: oldAPI("start"), action: "start", rollback: true},
}

// handOverKills installs the app, then runs a round per moment.
func handOverKills(t *testing.T, cl client, moments []killMoment) {
	fixture.Need(t, have("docker"), "the docker CLI (docker events)")
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"1", "2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/hapi", v, fixture.Image{Version: "hapi" + v}))
	}
	pushed = append(pushed, fixture.MustPush(t, reg, "e2e/hdb", "1", fixture.Image{Version: "hdb1"}))
	volume, back := s.app+"_data", s.app+"_back"
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		exec.Command("docker", "network", "rm", back).Run()
		exec.Command("docker", "volume", "rm", "-f", volume).Run()
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, apiTag string) string {
		return s.generate(name, "--app", s.app, "--health-window", "1s", "--compose", handOverProject(t, reg.Addr, apiTag))
	}
	mender := func(t *testing.T, args ...string) {
		t.Helper()
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}
	mine := func(t *testing.T) []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	// byService finds the one running container of svc in snap.
	byService := func(t *testing.T, snap []fixture.Snap, svc string) fixture.Snap {
		t.Helper()
		for _, c := range snap {
			if c.Name == s.app+"-"+svc {
				return c
			}
		}
		t.Fatalf("no %s-%s in %v", s.app, svc, snap)
		return fixture.Snap{}
	}
	startedAt := func(t *testing.T, id string) time.Time {
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		return c.State.StartedAt
	}
	// sane checks the app in its committed state at version tag.
	sane := func(t *testing.T, snap []fixture.Snap, tag string) {
		t.Helper()
		require.Len(t, snap, 2, "db and one api: %v", snap)
		api := byService(t, snap, "api")
		assert.True(t, api.Running && byService(t, snap, "db").Running, "%v", snap)
		assert.Equal(t, pushed[map[string]int{"1": 0, "2": 1}[tag]], api.Image)
		c, err := e.InspectContainer(ctx, api.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"api", "backend"}, c.Networks[back], "api keeps its aliases on the back network")
		assert.NoError(t, exec.Command("docker", "network", "inspect", back).Run(), "network %s is there", back)
		assert.NoError(t, exec.Command("docker", "volume", "inspect", volume).Run(), "volume %s is there", volume)
	}

	mender(t, "install", gen("ho-0", "1"))
	mender(t, "commit")
	before := mine(t)
	sane(t, before, "1")
	db := byService(t, before, "db")
	dbStarted := startedAt(t, db.ID)

	tag := "1"
	for i, m := range moments {
		tag = map[string]string{"1": "2", "2": "1"}[tag]
		name := fmt.Sprintf("ho-%d", i+1)
		art := gen(name, tag)
		before := mine(t)
		prev := s.showArtifact()
		ok := t.Run(m.name, func(t *testing.T) {
			old := byService(t, before, "api").ID
			var log string
			var killed time.Time
			if m.rollback {
				mender(t, "install", art)
				log, killed = killAtEvent(t, s, []string{"rollback"}, "ArtifactRollback", m.filter(old, name), m.action)
			} else {
				log, killed = killAtEvent(t, s, []string{"install", art}, "ArtifactInstall", m.filter(old, name), m.action)
			}
			// The engine goes on with a stop the module sent (api takes 1s
			// to stop): judge the end state only once it has run its course.
			time.Sleep(time.Until(killed.Add(2 * time.Second)))
			settled := func() bool { return assert.ObjectsAreEqual(before, mine(t)) }
			assert.Eventually(t, settled, 30*time.Second, 100*time.Millisecond)
			assert.Equal(t, before, mine(t), "the app is back exactly as before: same containers, names, running, no new api left; the client said:\n%s", log)
			// A client whose rollback failed calls the artifact inconsistent.
			assert.Contains(t, []string{prev, name + "_INCONSISTENT"}, s.showArtifact())
			if !m.rollback {
				assert.Equal(t, prev, s.showArtifact())
			}
			assert.True(t, dbStarted.Equal(startedAt(t, db.ID)), "db was never restarted")
			sane(t, mine(t), map[string]string{"1": "2", "2": "1"}[tag])

			// The same artifact then installs normally.
			mender(t, "install", art)
			mender(t, "commit")
			after := mine(t)
			sane(t, after, tag)
			assert.Equal(t, db, byService(t, after, "db"), "db keeps its container")
			assert.NotEqual(t, old, byService(t, after, "api").ID)
			assert.True(t, dbStarted.Equal(startedAt(t, db.ID)), "db was never restarted")
			assert.Equal(t, name, s.showArtifact())
		})
		if !ok {
			break // the next round starts from this one's end
		}
	}
}
