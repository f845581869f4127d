package module_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// reconfDevice is a device with web (whose environment has ${SITE}) and
// db (no placeholder) installed and committed, SITE from its default.
func reconfDevice(t *testing.T) *device {
	d := newDevice(t)
	web := d.image("web", "1", memengine.Behavior{})
	db := d.image("db", "1", memengine.Behavior{})
	m := fmt.Sprintf(`{"params":{"SITE":"harbour"},"services":[{"name":"db","image":%q,"run_args":"--restart always"},`+
		`{"name":"web","image":%q,"run_args":"--restart always -e SITE=${SITE}"}]}`, db, web)
	require.NoError(t, d.install("app-1", m, true))
	return d
}

func (d *device) setSite(site string) {
	require.NoError(d.t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"SITE":"`+site+`"}`), 0o644))
}

func (d *device) journalLeft() bool {
	_, err := os.Stat(filepath.Join(d.u.Config.StateDir, "default", "deployment.json"))
	return err == nil
}

func TestReconfigureReplacesOnlyChanged(t *testing.T) {
	d := reconfDevice(t)
	before := d.byName()
	d.setSite("airport")
	require.NoError(t, d.u.Reconfigure(context.Background(), nil), d.Log.String())
	after := d.byName()
	require.Len(t, after, 2, "the old web container is gone")
	sameContainer(t, before["default-db"], after["default-db"], "db does not use SITE")
	web := after["default-web"]
	assert.NotEqual(t, before["default-web"].ID, web.ID)
	assert.True(t, web.State.Running)
	assert.Contains(t, d.eng.Config(web.ID).Env, "SITE=airport")
	assert.Equal(t, "app-1", web.Labels[module.LabelArtifact])
	assert.False(t, d.journalLeft())

	// Unchanged now: nothing touched, no journal.
	n := len(d.Log.String())
	require.NoError(t, d.u.Reconfigure(context.Background(), []string{"default"}))
	assert.Contains(t, d.Log.String()[n:], "app default: configuration unchanged")
	assert.Equal(t, after, d.byName())
	assert.False(t, d.journalLeft())

	// An update after a reconfiguration still works from the recorded set.
	v2 := d.image("web", "2", memengine.Behavior{})
	db := d.byName()["default-db"]
	m := fmt.Sprintf(`{"params":{"SITE":"harbour"},"services":[{"name":"db","image":%q,"run_args":"--restart always"},`+
		`{"name":"web","image":%q,"run_args":"--restart always -e SITE=${SITE}"}]}`, db.Image, v2)
	require.NoError(t, d.install("app-2", m, true))
	assert.Contains(t, d.eng.Config(d.byName()["default-web"].ID).Env, "SITE=airport")
}

func TestReconfigureUnchanged(t *testing.T) {
	d := reconfDevice(t)
	before := d.snapshot()
	require.NoError(t, d.u.Reconfigure(context.Background(), nil))
	assert.Contains(t, d.Log.String(), "app default: configuration unchanged")
	assert.Equal(t, before, d.snapshot())
	assert.False(t, d.journalLeft())
}

func TestReconfigureUnhealthyRollsBack(t *testing.T) {
	d := reconfDevice(t)
	before := d.byName()
	snap := d.snapshot()
	d.eng.CrashEnv = "SITE=broken"
	d.setSite("broken")
	err := d.u.Reconfigure(context.Background(), nil)
	require.ErrorIs(t, err, module.ErrUnhealthy)
	assert.ErrorContains(t, err, "app default: reconfiguring service(s) [web]")
	assert.Equal(t, snap, d.snapshot(), "the old containers, as they were")
	sameContainer(t, before["default-db"], d.byName()["default-db"], "db")
	assert.Equal(t, before["default-web"].ID, d.byName()["default-web"].ID)
	assert.Contains(t, d.eng.Config(d.byName()["default-web"].ID).Env, "SITE=harbour", "the old configuration")
	assert.False(t, d.journalLeft())

	// Fixed: the next reconfigure takes it.
	d.setSite("airport")
	require.NoError(t, d.u.Reconfigure(context.Background(), nil), d.Log.String())
	assert.Contains(t, d.eng.Config(d.byName()["default-web"].ID).Env, "SITE=airport")
}

func TestReconfigureRefusedInFlight(t *testing.T) {
	d := reconfDevice(t)
	v2 := d.image("web", "2", memengine.Behavior{})
	d.artifact("app-2", meta(v2))
	require.NoError(t, d.run("Download"))
	before := d.snapshot()
	d.setSite("airport")
	err := d.u.Reconfigure(context.Background(), nil)
	require.ErrorIs(t, err, module.ErrInFlight)
	assert.ErrorContains(t, err, "the deployment of app-2 (phase downloaded)")
	assert.Equal(t, before, d.snapshot())
	assert.True(t, d.journalLeft(), "the Mender deployment's journal is untouched")
}

func TestReconfigureNotInstalled(t *testing.T) {
	d := newDevice(t)
	require.NoError(t, d.u.Reconfigure(context.Background(), nil), "no app: nothing to do")
	require.ErrorIs(t, d.u.Reconfigure(context.Background(), []string{"shop"}), module.ErrNotReconfigurable)
	require.ErrorContains(t, d.u.Reconfigure(context.Background(), []string{"../x"}), "not a valid app name")
}

// TestKillReconfigure kills the module after every engine call of a
// reconfiguration; then boot-time recover, or a second reconfigure, or the
// next Mender deployment, must leave exactly the old set (web with the old
// value, both containers as they were) or exactly the new one (a new web
// with the new value, db the same container throughout), and no journal.
func TestKillReconfigure(t *testing.T) {
	for _, f := range []struct {
		name, then string
		bad        bool
	}{{"recover", "recover", false}, {"reconfigure again", "reconfigure", false}, {"next deployment", "deploy", false},
		{"unhealthy, recover", "recover", true}, {"unhealthy, reconfigure again", "reconfigure", true}} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			for k := 1; ; k++ {
				killed := false
				t.Run(fmt.Sprintf("kill-%d", k), func(t *testing.T) {
					killed = killReconfigure(t, k, f.then, f.bad)
				})
				if !killed || t.Failed() {
					t.Logf("%s: %d kill points", f.name, k-1)
					return
				}
			}
		})
	}
}

// killReconfigure is one kill point of TestKillReconfigure; it tells
// whether the kill happened (k was within the reconfiguration's calls).
func killReconfigure(t *testing.T, k int, then string, bad bool) bool {
	d := reconfDevice(t)
	old, was := d.snapshot(), d.byName()
	site := "airport"
	if bad {
		site = "broken"
		d.eng.CrashEnv = "SITE=broken"
	}
	d.setSite(site)
	d.eng.KillAfter(k)
	err := d.u.Reconfigure(context.Background(), nil)
	d.eng.KillAfter(0)
	killed := errors.Is(err, memengine.ErrKilled)
	label := fmt.Sprintf("killed after %d calls, then %s", k, then)
	switch then {
	case "recover":
		require.NoError(t, d.u.Recover(context.Background()), label)
	case "reconfigure":
		err := d.u.Reconfigure(context.Background(), nil)
		if bad {
			require.ErrorIs(t, err, module.ErrUnhealthy, label)
		} else {
			require.NoError(t, err, "%s\n%s", label, d.Log.String())
		}
	case "deploy":
		m := fmt.Sprintf(`{"params":{"SITE":"harbour"},"services":[{"name":"db","image":%q,"run_args":"--restart always"},`+
			`{"name":"web","image":%q,"run_args":"--restart always -e SITE=${SITE}"}]}`, was["default-db"].Image, was["default-web"].Image)
		require.NoError(t, d.install("app-2", m, true), "%s\n%s", label, d.Log.String())
	}
	now := d.byName()
	sameContainer(t, was["default-db"], now["default-db"], label+": db")
	isOld := assert.ObjectsAreEqual(old, d.snapshot())
	web := now["default-web"]
	isNew := len(now) == 2 && web.ID != was["default-web"].ID && web.State.Running && slices.Contains(d.eng.Config(web.ID).Env, "SITE="+site)
	if then == "deploy" {
		// The deployment reads the device's values too: its web has them
		// whichever set the kill left.
		isOld = false
	}
	if !isOld && !isNew {
		t.Fatalf("%s: device is in neither state:\nold %v\nnow %v\nlog:\n%s", label, old, d.snapshot(), d.Log.String())
	}
	if bad && !isOld {
		t.Fatalf("%s: the unhealthy configuration stayed:\n%s", label, d.Log.String())
	}
	if (then == "reconfigure" || !killed) && !bad && !isNew {
		t.Fatalf("%s: the new configuration did not stick:\n%s", label, d.Log.String())
	}
	assert.False(t, d.journalLeft(), "%s: journal left behind", label)
	return killed
}
