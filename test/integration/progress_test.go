package integration

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// throttle serves blobs at about rate bytes a second: a slow link.
func throttle(rate int) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				w = &slowWriter{ResponseWriter: w, rate: rate}
			}
			h.ServeHTTP(w, r)
		})
	}
}

type slowWriter struct {
	http.ResponseWriter
	rate int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := min(len(p), s.rate/20)
		k, err := s.ResponseWriter.Write(p[:chunk])
		n += k
		if err != nil {
			return n, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[chunk:]
		time.Sleep(50 * time.Millisecond)
	}
	return n, nil
}

// A long pull over a slow link logs how far it is at a steady pace:
// image, MB done of total, rate; one line each.
func TestPullProgress(t *testing.T) {
	w := newWorld(t)
	slow := fixture.NewRegistry(t, throttle(512<<10))
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
