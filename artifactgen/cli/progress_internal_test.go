package cli

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
func TestProgressTerminal(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out, true, normal, 20*time.Millisecond)
	p.Bytes("reg/web@sha256:1", 0, 5e6)
	time.Sleep(70 * time.Millisecond)
	p.Bytes("reg/web@sha256:1", 25e5, 5e6)
	time.Sleep(70 * time.Millisecond)
	p.Bytes("reg/web@sha256:1", 5e6, 5e6)
	p.Bytes("reg/web@sha256:1", 5e6, 5e6)
	p.Bytes("reg/db@sha256:2", 0, 3e6)
	time.Sleep(70 * time.Millisecond)
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
	time.Sleep(10 * time.Millisecond)
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
