package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

func build(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "docker-artifact-gen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return bin
}

// The built binary, its stderr a pipe as in CI: --embed over a slow link
// prints plain progress lines (MB done of total, rate) on stderr only, and
// with -q none; stdout is the same either way.
func TestProgressOnStderr(t *testing.T) {
	bin := build(t)
	reg := fixture.NewRegistry(t, fixture.Throttle(1<<20))
	ref := fixture.MustPush(t, reg, "acme/big", "1", fixture.Image{Version: "1", PadBytes: 2 << 20, PadSeed: 9})
	line := regexp.MustCompile(`(?m)^embedding ` + regexp.QuoteMeta(ref) + `: \d+\.\d of \d+\.\d MB after \d+s \(\d+\.\d MB/s\)$`)
	for _, quiet := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "big.mender")
		args := []string{"-n", "big-1", "-t", "rpi4", "--embed", "-o", out, "--progress-interval", "300ms", reg.Addr + "/acme/big:1"}
		if quiet {
			args = append([]string{"-q"}, args...)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		assert.Equal(t, "Artifact "+out+" written:\n  "+ref+"\n", stdout.String())
		if quiet {
			assert.Empty(t, stderr.String(), "-q")
			continue
		}
		assert.GreaterOrEqual(t, len(line.FindAllString(stderr.String(), -1)), 2, stderr.String())
		assert.Contains(t, stderr.String(), "embedded "+ref+": ")
		assert.NotContains(t, stderr.String(), "\r")
	}
}

// SIGINT or SIGTERM while --embed writes: the built binary exits 130,
// removes every temporary file, and leaves the output path as it was.
func TestSignalDuringEmbed(t *testing.T) {
	bin := build(t)

	reg := fixture.NewRegistry(t, fixture.Throttle(1<<20))
	fixture.MustPush(t, reg, "acme/big", "1", fixture.Image{Version: "1", PadBytes: 8 << 20, PadSeed: 7})

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			tmp, outDir := t.TempDir(), t.TempDir()
			out := filepath.Join(outDir, "big.mender")
			require.NoError(t, os.WriteFile(out, []byte("the previous artifact"), 0o644))
			cmd := exec.Command(bin, "-n", "big-1", "-t", "rpi4", "--embed", "-o", out, reg.Addr+"/acme/big:1")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "DOCKER_CONFIG="+t.TempDir())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			require.Eventually(t, func() bool {
				files, _ := filepath.Glob(filepath.Join(tmp, "*", "*.tar"))
				for _, f := range files {
					if fi, err := os.Stat(f); err == nil && fi.Size() > 1<<20 {
						return true
					}
				}
				return false
			}, 30*time.Second, 20*time.Millisecond, "an image is being written")
			require.NoError(t, cmd.Process.Signal(sig))
			err := cmd.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
			assert.Equal(t, 130, exit.ExitCode(), stderr.String())
			assert.Contains(t, stderr.String(), "interrupted")

			left, _ := os.ReadDir(tmp)
			assert.Empty(t, left, "temporary files left")
			entries, _ := os.ReadDir(outDir)
			assert.Len(t, entries, 1, "only the previous artifact")
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, "the previous artifact", string(b))
		})
	}
}
