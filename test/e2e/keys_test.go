package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Meta-data whose keys differ from the format's only in case, or are given
// twice, through the real clients (written with our own artifact writer,
// which keeps the JSON as given; mender-artifact 3.9 itself re-encodes it,
// the last of two equal keys winning). Both clients re-encode the
// meta-data before the module reads it, each its own way (seen here):
//   - mender 3.4: keys sorted; of equal keys the last wins; keys that
//     differ in case stay apart ({"app":A,"APP":B} reaches the module as
//     is, and is refused).
//   - mender-update 5.1: keys in their order; keys equal but for case are
//     one key, spelled as first given, with the last value
//     ({"app":A,"APP":B} reaches the module as {"app":B}, and
//     {"run_args":X,"Run_Args":Y} as {"run_args":Y}).
//
// So a duplicate key never reaches the module, and a case variant only
// where the client keeps it; what reaches the module is what it runs,
// and whatever it can see is ambiguous it refuses.
func TestMetaDataKeysThroughClient(t *testing.T) { eachClient(t, testMetaDataKeysThroughClient) }

func testMetaDataKeysThroughClient(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	other := s.app + "-b"
	v1 := fixture.MustPush(t, reg, "e2e/keys", "v1", fixture.Image{Version: "v1"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		enginetest.RemoveLabelled(t, e, module.LabelApp, other)
		e.RemoveImage(ctx, v1)
	})
	write := func(name, meta string) string {
		path := s.path(name + ".mender")
		require.NoError(t, artifact.WriteFile(ctx, path, artifact.Artifact{
			Header: artifact.HeaderInfo{
				Payloads:         []artifact.PayloadType{{Type: payloadType}},
				ArtifactProvides: artifact.ArtifactProvides{ArtifactName: name},
				ArtifactDepends:  artifact.ArtifactDepends{DeviceType: []string{"test-device"}},
			},
			TypeInfo: artifact.TypeInfo{Type: payloadType},
			MetaData: json.RawMessage(meta),
		}, artifact.WriteOptions{}))
		return path
	}
	containers := func(app string) int {
		return len((&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: app}))
	}
	body := fmt.Sprintf(`"containers":[%q],"run_args":"--network none"`, v1)
	for _, tc := range []struct {
		name, meta string
		// deployedTo is the app the client made of it, "" when the module
		// refused what it was handed (with refusal in the output).
		deployedTo, refusal string
	}{
		{"upper-first", fmt.Sprintf(`{"APP":%q,"app":%q,%s}`, other, s.app, body), "", `field \"APP\"`},
		{"upper-second", fmt.Sprintf(`{"app":%q,"APP":%q,%s}`, s.app, other, body), map[client]string{mender3: "", menderUpdate5: other}[cl], `field \"APP\"`},
		{"twice", fmt.Sprintf(`{"app":%q,"app":%q,%s}`, s.app, other, body), other, ""},
		{"run-args-case", fmt.Sprintf(`{"app":%q,"containers":[%q],"run_args":"--network none","Run_Args":"--network host"}`, s.app, v1), map[client]string{mender3: "", menderUpdate5: s.app}[cl], `field \"Run_Args\"`},
	} {
		out, err := s.mender("install", write(tc.name, tc.meta))
		t.Logf("%s: %s: deployed to %d/%d containers of %s/%s", cl, tc.name, containers(s.app), containers(other), s.app, other)
		if tc.deployedTo == "" {
			assert.Error(t, err, "%s: %s", tc.name, out)
			// mender 3.4 quotes the module's stderr with \"; 5.1 as is.
			assert.Contains(t, strings.ReplaceAll(out, `\"`, `"`), strings.ReplaceAll(tc.refusal, `\"`, `"`), tc.name)
			assert.Zero(t, containers(s.app)+containers(other), "%s: nothing deployed", tc.name)
			continue
		}
		require.NoError(t, err, "%s: %s", tc.name, out)
		assert.Equal(t, 1, containers(tc.deployedTo), tc.name)
		out, err = s.mender("rollback")
		require.NoError(t, err, out)
		require.Zero(t, containers(s.app)+containers(other))
	}
}
