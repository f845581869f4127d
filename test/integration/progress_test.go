package integration

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// A long pull over a slow link logs how far it is at a steady pace:
// image, MB done of total, rate; one line each.
func TestPullProgress(t *testing.T) {
	w := newWorld(t)
	slow := fixture.NewRegistry(t, fixture.Throttle(512<<10))
	ref := fixture.MustPush(t, slow, "it/big", "v1", fixture.Image{Version: "big", PadBytes: 2 << 20, PadSeed: time.Now().UnixNano()})
	w.pushed = append(w.pushed, ref)
	w.d.U.ProgressInterval = time.Second
	start := time.Now()
	require.NoError(t, w.d.Install("app-big", w.meta(ref, "300ms"), true), w.d.Log.String())
	t.Logf("installed in %s\n%s", time.Since(start).Round(time.Millisecond), w.d.Log.String())
	re := regexp.MustCompile(`(?m)^pulling ` + regexp.QuoteMeta(ref) + `: (\d+\.\d) of (\d+\.\d) MB after \d+s \((\d+\.\d) MB/s\)$`)
	lines := re.FindAllStringSubmatch(w.d.Log.String(), -1)
	require.GreaterOrEqual(t, len(lines), 2, "progress every second of a pull of several seconds")
	last := lines[len(lines)-1]
	assert.NotEqual(t, "0.0", last[1], "some MB done")
	total, err := strconv.ParseFloat(last[2], 64)
	require.NoError(t, err)
	assert.Greater(t, total, 2.0, "total: the padding layer and the program")
	assert.NotContains(t, w.d.Log.String(), "\r")
}
