package cli_test

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// An --embed over a slow link shows on stderr (not a terminal here) a
// plain line at each interval with MB done of total and the rate, and one
// when the image is done; -q shows nothing, -v adds each registry request
// and layer. stdout is the same in every case.
func TestProgressLines(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t, fixture.Throttle(1<<20))
	ref := fixture.MustPush(t, reg, "acme/big", "1", fixture.Image{Version: "big", PadBytes: 2 << 20, PadSeed: time.Now().UnixNano()})
	tag := reg.Addr + "/acme/big:1"
	periodic := regexp.MustCompile(`(?m)^embedding ` + regexp.QuoteMeta(ref) + `: (\d+\.\d) of (\d+\.\d) MB after \d+s \((\d+\.\d) MB/s\)$`)
	final := regexp.MustCompile(`(?m)^embedded ` + regexp.QuoteMeta(ref) + `: \d+\.\d MB in [0-9.]+m?s \(\d+\.\d MB/s\)$`)
	request := regexp.MustCompile(`(?m)^registry: GET http://` + regexp.QuoteMeta(reg.Addr) + `/v2/acme/big/blobs/sha256:[0-9a-f]{64}: 200 OK in \d+`)
	layer := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ref) + `: layer sha256:[0-9a-f]{64}: \d+\.\d MB$`)
	for _, tc := range []struct {
		name              string
		flags             []string
		periodic, verbose bool
	}{
		{"default", nil, true, false},
		{"quiet", []string{"-q"}, false, false},
		{"verbose", []string{"--verbose"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "big.mender")
			args := append([]string{"-n", "big-1", "-t", "rpi4", "--embed", "-o", out, "--progress-interval", "300ms"}, tc.flags...)
			code, stdout, stderr := run(append(args, tag)...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, "Artifact "+out+" written:\n  "+ref+"\n", stdout, "stdout is the same whatever the verbosity")
			assert.NotContains(t, stderr, "\r", "no terminal control in a log")
			if !tc.periodic {
				assert.Empty(t, stderr)
				return
			}
			t.Logf("stderr:\n%s", stderr)
			lines := periodic.FindAllStringSubmatch(stderr, -1)
			require.GreaterOrEqual(t, len(lines), 2, "a line every 300ms of a fetch of about 2s")
			total, err := strconv.ParseFloat(lines[0][2], 64)
			require.NoError(t, err)
			assert.Greater(t, total, 2.0, "total: the padding layer and the program")
			assert.NotEqual(t, "0.0", lines[len(lines)-1][1], "some MB done")
			assert.NotEqual(t, "0.0", lines[len(lines)-1][3], "a rate")
			assert.Len(t, final.FindAllString(stderr, -1), 1, "one last line")
			assert.Equal(t, tc.verbose, request.MatchString(stderr), "registry requests shown with -v only")
			assert.Equal(t, tc.verbose, layer.MatchString(stderr), "layers shown with -v only")
		})
	}
}

// -q and -v together are refused.
func TestQuietVerbose(t *testing.T) {
	code, _, stderr := run("-n", "x", "-t", "rpi4", "-q", "-v", "127.0.0.1:1/acme/web:1")
	assert.Equal(t, 1, code)
	assert.Equal(t, "docker-artifact-gen: --quiet and --verbose: give one or the other\n", stderr)
}
