package e2e

import (
	"context"
	"encoding/json"
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

// Through the real client: a failed update's deployment log carries the
// failed container's own last lines (it ran with -t, as the shell format
// does) before the rollback removed it, and `docker status` then reports
// the app healthy on its old artifact and where the evidence is kept.
func TestFailedUpdateEvidenceAndStatus(t *testing.T) {
	eachClient(t, testFailedUpdateEvidenceAndStatus)
}

func testFailedUpdateEvidenceAndStatus(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	good := fixture.MustPush(t, reg, "e2e/ops", "v1", fixture.Image{Version: "v1"})
	bad := fixture.MustPush(t, reg, "e2e/ops", "v2", fixture.Image{Version: "v2", Args: []string{"-exit-after", "300ms", "-code", "7"}})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, good)
		e.RemoveImage(ctx, bad)
	})
	legacy := func(ref string) string {
		return `{"containers":["` + ref + `"],"run_args":"--network none"}`
	}
	// A health window far longer than the bad image lives: its exit lands
	// inside the window however slow the machine, and ends the install.
	crashing := strings.Replace(legacy(bad), "{", `{"health":{"window":"5m"},`, 1)
	out, err := s.mender("install", s.artifact("ops-1", legacy(good)))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)

	out, err = s.mender("install", s.artifact("ops-2", crashing))
	require.Error(t, err, out)
	t.Log("\n" + out)
	name := s.app + "-ops"
	assert.Contains(t, out, name+" | testapp v2 started")
	assert.Contains(t, out, name+" | exiting with code 7")
	assert.NotContains(t, out, "\r")
	files, _ := filepath.Glob(s.path("state/" + s.app + "/failures/*-ops-2.log"))
	require.Len(t, files, 1)

	cmd := exec.Command(s.modulePath(), "status", "--json", s.app)
	cmd.Env = s.env
	b, err := cmd.Output()
	require.NoError(t, err, "%s", b)
	var st module.Status
	require.NoError(t, json.Unmarshal(b, &st))
	require.Len(t, st.Apps, 1)
	a := st.Apps[0]
	assert.True(t, a.Healthy, "%v", a.Problems)
	assert.Equal(t, "ops-1", a.Artifact)
	assert.Equal(t, module.PhaseCommitted, a.Phase)
	assert.Equal(t, files[0], a.LastFailure)
	require.Len(t, a.Containers, 1)
	assert.Equal(t, good, a.Containers[0].Image)
	assert.True(t, strings.HasPrefix(a.Containers[0].State, "running"))
}
