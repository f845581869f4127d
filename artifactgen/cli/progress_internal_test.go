package cli

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// On a terminal, one line per image is redrawn in place (\r, blanking
// what a longer line left) and ended when the image is done; a line left
// drawn by a failure is ended before the error is printed.
// The ticks are the test's own (tickAt), not a timer's: what is drawn
// does not hang on when a timer fires on a busy machine.
func TestProgressTerminal(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out, true, normal, time.Hour)
	p.Bytes("reg/web@sha256:1", 0, 5e6)
	p.tickAt(time.Now())
	p.Bytes("reg/web@sha256:1", 25e5, 5e6)
	p.tickAt(time.Now().Add(time.Second))
	p.Bytes("reg/web@sha256:1", 5e6, 5e6)
	p.Bytes("reg/web@sha256:1", 5e6, 5e6)
	p.Bytes("reg/db@sha256:2", 0, 3e6)
	p.tickAt(time.Now())
	p.Close()
	s := out.String()
	t.Logf("%q", s)
	lines := strings.Split(s, "\n")
	assert.Len(t, lines, 3, "one line per image, each ended")
	assert.Regexp(t, `^\rembedding reg/web@sha256:1: 0\.0 of 5\.0 MB \(0\.0 MB/s\)(\r.*)*\rembedding reg/web@sha256:1: 2\.5 of 5\.0 MB \(\d+\.\d MB/s\)(\r.*)*\rembedded reg/web@sha256:1: 5\.0 MB in \S+ \(\d+\.\d MB/s\) *$`, lines[0])
	assert.Regexp(t, `^\rembedding reg/db@sha256:2: 0\.0 of 3\.0 MB`, lines[1])
	assert.Empty(t, lines[2])
	// A shorter line blanks what the longer one left.
	for _, l := range lines[:2] {
		parts := strings.Split(l, "\r")[1:]
		for i := 1; i < len(parts); i++ {
			assert.GreaterOrEqual(t, len(parts[i]), len(strings.TrimRight(parts[i-1], " ")), "%q after %q", parts[i], parts[i-1])
		}
	}
	assert.NotRegexp(t, regexp.MustCompile(`\x1b`), s, "no escape sequences")
}

// -q: nothing, whatever happens; details only with -v.
func TestProgressLevels(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out, false, quiet, time.Millisecond)
	p.Bytes("r", 0, 10)
	p.Detail("registry: GET x")
	p.tickAt(time.Now())
	p.Bytes("r", 10, 10)
	p.Close()
	assert.Empty(t, out.String())

	p = newProgress(&out, false, normal, time.Hour)
	p.Detail("registry: GET x")
	p.Bytes("r", 0, 10)
	p.Bytes("r", 10, 10)
	p.Close()
	assert.Regexp(t, `^embedded r: 0\.0 MB in 0s \(\d+\.\d MB/s\)\n$`, out.String())
}

// In a log, the steps of writing the artifact get the same plain lines as
// fetching does: how far at each tick, then one line when done; a step
// that starts ends the line of the one before (on a terminal).
func TestProgressWriteSteps(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out, false, normal, time.Hour)
	step := p.writeSteps("/tmp/a.mender", artifact.Gzip)
	start := time.Now()
	step(artifact.Compressing, 0, 300e6)
	step(artifact.Compressing, 100e6, 300e6)
	p.tickAt(start.Add(5 * time.Second))
	step(artifact.Compressing, 300e6, 300e6)
	step(artifact.Writing, 0, 160e6)
	step(artifact.Writing, 80e6, 160e6)
	p.tickAt(start.Add(13 * time.Second))
	step(artifact.Writing, 160e6, 160e6)
	p.tickAt(start.Add(14 * time.Second))
	p.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 4, out.String())
	assert.Regexp(t, `^compressing the payload \(gzip\): 100\.0 of 300\.0 MB after 5s \(\d+\.\d MB/s\)$`, lines[0])
	assert.Regexp(t, `^compressed the payload \(gzip\): 300\.0 MB in \S+ \(\d+\.\d MB/s\)$`, lines[1])
	assert.Regexp(t, `^writing /tmp/a\.mender: 80\.0 of 160\.0 MB after \d+s \(\d+\.\d MB/s\)$`, lines[2])
	assert.Regexp(t, `^wrote /tmp/a\.mender: 160\.0 MB in `, lines[3])

	out = syncBuffer{}
	p = newProgress(&out, false, normal, time.Hour)
	p.writeSteps("-", artifact.None)(artifact.Compressing, 1e6, 1e6)
	p.writeSteps("-", artifact.None)(artifact.Writing, 1e6, 1e6)
	p.Close()
	assert.Regexp(t, `^packed the payload: 1\.0 MB in \S+ \(\d+\.\d MB/s\)\nwrote the artifact to stdout: 1\.0 MB in `, out.String())
}
