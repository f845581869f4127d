package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// An update after a manual rollback: v1 committed, v2 installed and rolled
// back by the operator, then v3 installs, commits and runs. Both with
// --network none and with the engine's default network (no --network at
// all), where a rolled-back container has been through a start on the
// engine's default network again.
func TestUpdateAfterRollback(t *testing.T) { eachClient(t, testUpdateAfterRollback) }

func testUpdateAfterRollback(t *testing.T, cl client) {
	for _, n := range []struct{ name, args string }{
		{"network-none", "--network none"},
		{"network-default", ""},
	} {
		t.Run(n.name, func(t *testing.T) {
			s := newSandbox(t, cl, "")
			e := fixture.Docker(t)
			reg := fixture.NewRegistry(t)
			ctx := context.Background()
			var pushed []string
			for _, v := range []string{"v1", "v2", "v3"} {
				pushed = append(pushed, fixture.MustPush(t, reg, "e2e/after", v, fixture.Image{Version: v}))
			}
			t.Cleanup(func() {
				enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
				for _, ref := range pushed {
					e.RemoveImage(ctx, ref)
				}
			})
			gen := func(name, tag string) string {
				runArgs := strings.TrimSpace(n.args + " --restart always")
				return s.generate(name, "--app", s.app, "--health-window", "1s",
					"--service", "web="+reg.Addr+"/e2e/after:"+tag+","+runArgs)
			}
			mender := func(args ...string) {
				t.Helper()
				out, err := s.mender(args...)
				require.NoError(t, err, "mender %s:\n%s", strings.Join(args, " "), out)
			}
			mine := func() []fixture.Snap {
				return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
			}

			mender("install", gen("after-v1", "v1"))
			mender("commit")
			atV1 := mine()
			require.Len(t, atV1, 1)
			assert.Equal(t, pushed[0], atV1[0].Image)

			mender("install", gen("after-v2", "v2"))
			assert.Equal(t, pushed[1], mine()[0].Image)
			mender("rollback")
			assert.Equal(t, atV1, mine(), "rollback restores v1 exactly")
			assert.Equal(t, "after-v1", s.showArtifact())

			mender("install", gen("after-v3", "v3"))
			mender("commit")
			atV3 := mine()
			require.Len(t, atV3, 1)
			assert.Equal(t, fixture.Snap{ID: atV3[0].ID, Name: s.app + "-web", Image: pushed[2], RestartPolicy: "always", Running: true}, atV3[0])
			assert.NotEqual(t, atV1[0].ID, atV3[0].ID)
			assert.Equal(t, "after-v3", s.showArtifact())
		})
	}
}
