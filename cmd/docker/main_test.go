package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build compiles the module as it ships.
func build(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "docker")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// The client compares query answers exactly, and keeps stdout only for
// them: everything else must go to stderr.
func TestProtocol(t *testing.T) {
	bin := build(t)
	files := t.TempDir()
	for _, tc := range []struct {
		args   []string
		stdout string
		code   int
	}{
		{[]string{"NeedsArtifactReboot", files}, "No\n", 0},
		{[]string{"SupportsRollback", files}, "Yes\n", 0},
		{[]string{"ArtifactReboot", files}, "", 0},
		{[]string{"ArtifactVerifyReboot", files}, "", 0},
		{[]string{"SomeStateFromTheFuture", files}, "", 0},
		{[]string{"Download", files}, "", 1}, // no meta-data here
		{[]string{}, "", 2},
		{[]string{"a", "b", "c"}, "", 2},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			conf := filepath.Join(t.TempDir(), "mender-docker.conf")
			require.NoError(t, os.WriteFile(conf, []byte(`{"state_dir":"`+t.TempDir()+`"}`), 0o644))
			cmd.Env = append(os.Environ(), "MENDER_DOCKER_CONF="+conf)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			assert.Equal(t, tc.stdout, stdout.String())
			if tc.code == 1 {
				assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr.String()), "\n")+1, "one-line reason: %q", stderr.String())
			}
		})
	}
}

// The module binary runs on small devices: it must not link the
// generator's or the tests' dependencies.
func TestModuleImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	// compose-go and YAML: the device never reads Compose; the generator
	// compiles it into meta-data.
	for _, banned := range []string{"github.com/spf13/cobra", "github.com/google/go-containerregistry", "github.com/stretchr/testify", "/artifactgen", "/test/",
		"github.com/compose-spec/", "yaml", "github.com/sirupsen/logrus"} {
		for _, dep := range strings.Fields(string(out)) {
			assert.NotContains(t, dep, banned, "the module binary links %s", dep)
		}
	}
}

func TestBinarySize(t *testing.T) {
	fi, err := os.Stat(build(t))
	require.NoError(t, err)
	t.Logf("module binary: %.2f MB", float64(fi.Size())/1e6)
	assert.Less(t, fi.Size(), int64(9e6), "binary over 9 MB")
}

// An engine that accepts the connection and never answers must not hang a
// deployment: Download fails, saying so, within engine_timeout.
func TestEngineThatNeverAnswers(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // read nothing, answer nothing
		}
	}()
	conf := filepath.Join(dir, "mender-docker.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`{"state_dir":"`+filepath.Join(dir, "state")+`","docker_host":"unix://`+sock+`","engine_timeout":"1s"}`), 0o644))
	files := filepath.Join(dir, "files")
	require.NoError(t, os.MkdirAll(filepath.Join(files, "header"), 0o755))
	meta := `{"containers":["127.0.0.1:5000/web@sha256:` + strings.Repeat("a", 64) + `"],"run_args":"--network none"}`
	require.NoError(t, os.WriteFile(filepath.Join(files, "header", "meta-data"), []byte(meta), 0o644))

	cmd := exec.Command(bin, "Download", files)
	cmd.Env = append(os.Environ(), "MENDER_DOCKER_CONF="+conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("Download hung on an engine that never answers")
	}
	require.Error(t, err)
	took := time.Since(start)
	assert.Less(t, took, 20*time.Second, "an engine that never answers: only engine_timeout ends it")
	assert.Contains(t, stderr.String(), "engine_timeout", stderr.String())
	assert.Contains(t, stderr.String(), sock)
	t.Logf("failed after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
}
