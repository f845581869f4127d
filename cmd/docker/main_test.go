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

// The command line, against the built binary, as the Mender clients and
// operators call it, under both names it is installed as (the module's
// docker and the package's mender-docker link). The config's state
// directory does not exist and its engine is a socket nobody listens on:
// help, version, usage errors and the no-op states must touch neither.
// The client compares query answers exactly and keeps stdout for them:
// everything else goes to stderr, except help, which is asked for.
func TestCommandLine(t *testing.T) {
	bin := build(t)
	link := filepath.Join(filepath.Dir(bin), "mender-docker")
	require.NoError(t, os.Symlink(bin, link))
	files := t.TempDir()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // exact, or a prefix when it ends in "…"
		stderr string // a substring; "" means stderr is empty
	}{
		// The protocol, exactly as before.
		{[]string{"NeedsArtifactReboot", files}, 0, "No\n", ""},
		{[]string{"SupportsRollback", files}, 0, "Yes\n", ""},
		{[]string{"ArtifactReboot", files}, 0, "", ""},
		{[]string{"ArtifactVerifyReboot", files}, 0, "", ""},
		{[]string{"SomeStateFromTheFuture", files}, 0, "", ""},
		{[]string{"Download", files}, 1, "", "docker module: Download: "}, // no meta-data here
		{[]string{"Download"}, 2, "", "exactly one FILES_DIR"},
		{[]string{"ArtifactInstall", files, "x"}, 2, "", "exactly one FILES_DIR"},
		{[]string{"Download", "--help"}, 0, "Usage: mender-docker STATE FILES_DIR\n…", ""},
		// Help: on stdout, exit 0, nothing run.
		{[]string{"--help"}, 0, "mender-docker: the Mender update module for Docker containers.\n…", ""},
		{[]string{"-h"}, 0, "mender-docker: the Mender update module for Docker containers.\n…", ""},
		{[]string{"help"}, 0, "mender-docker: the Mender update module for Docker containers.\n…", ""},
		{[]string{"help", "recover"}, 0, "Usage: mender-docker recover\n…", ""},
		{[]string{"help", "Download"}, 0, "Usage: mender-docker STATE FILES_DIR\n…", ""},
		{[]string{"help", "stauts"}, 2, "", `help: unexpected argument "stauts"`},
		{[]string{"status", "--help"}, 0, "Usage: mender-docker status [--json|--inventory] [APP...]\n…", ""},
		{[]string{"status", "shop", "-h"}, 0, "Usage: mender-docker status …", ""},
		{[]string{"recover", "--help"}, 0, "Usage: mender-docker recover\n…", ""},
		{[]string{"recover", "-h"}, 0, "Usage: mender-docker recover\n…", ""},
		{[]string{"reconfigure", "--help"}, 0, "Usage: mender-docker reconfigure [APP...]\n…", ""},
		{[]string{"help", "reconfigure"}, 0, "Usage: mender-docker reconfigure [APP...]\n…", ""},
		{[]string{"reconfigure"}, 0, "", ""}, // no app installed: nothing to do
		{[]string{"reconfigure", "shop"}, 1, "", "mender-docker reconfigure: app shop: no installed meta-data to reconfigure"},
		{[]string{"reconfigure", "../x"}, 2, "", `app "../x": not a valid app name`},
		{[]string{"reconfigure", "--force"}, 2, "", "unknown flag --force"},
		{[]string{"preload", "--help"}, 0, "Usage: mender-docker preload DIR\n…", ""},
		{[]string{"version", "--help"}, 0, "Usage: mender-docker version\n…", ""},
		{[]string{"version"}, 0, "dev\n", ""},
		{[]string{"--version"}, 0, "dev\n", ""},
		// Bad usage: exit 2, one line on stderr saying where to look.
		{[]string{}, 2, "", "see 'mender-docker --help'"},
		{[]string{"a", "b", "c"}, 2, "", `unknown command "a"`},
		{[]string{"stauts"}, 2, "", `unknown command "stauts" (did you mean status?)`},
		{[]string{"--bogus"}, 2, "", "unknown flag --bogus"},
		{[]string{"status", "--bogus"}, 2, "", "mender-docker status: unknown flag --bogus; see 'mender-docker status --help'"},
		{[]string{"status", "--json", "--inventory"}, 2, "", "exclude each other"},
		{[]string{"status", "../x"}, 2, "", `app "../x": not a valid app name`},
		{[]string{"recover", "now"}, 2, "", `unexpected argument "now"`},
		{[]string{"recover", "--force"}, 2, "", "unknown flag --force"},
		{[]string{"preload"}, 2, "", "needs exactly one DIR"},
		{[]string{"preload", "a", "b"}, 2, "", "needs exactly one DIR"},
		{[]string{"preload", "--help/header"}, 2, "", "unknown flag --help/header"},
		{[]string{"version", "x"}, 2, "", `unexpected argument "x"`},
		{[]string{"help", "x", "y"}, 2, "", "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var outs []string
			for _, b := range []string{bin, link} {
				dir := t.TempDir()
				stateDir := filepath.Join(dir, "state")
				conf := filepath.Join(dir, "mender-docker.conf")
				require.NoError(t, os.WriteFile(conf, []byte(`{"state_dir":"`+stateDir+`","docker_host":"unix://`+filepath.Join(dir, "none.sock")+`","engine_timeout":"2s"}`), 0o644))
				cmd := exec.Command(b, tc.args...)
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
				assert.Equal(t, tc.code, code, "%s: stderr: %s", filepath.Base(b), stderr.String())
				if want, ok := strings.CutSuffix(tc.stdout, "…"); ok {
					assert.True(t, strings.HasPrefix(stdout.String(), want), "stdout %q, want it to start with %q", stdout.String(), want)
				} else {
					assert.Equal(t, tc.stdout, stdout.String())
				}
				if tc.stderr == "" {
					assert.Empty(t, stderr.String())
				} else {
					assert.Contains(t, stderr.String(), tc.stderr)
					assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr.String()), "\n")+1, "one line: %q", stderr.String())
				}
				if tc.code != 1 {
					_, err := os.Stat(stateDir)
					assert.ErrorIs(t, err, os.ErrNotExist, "the state directory was created")
				}
				outs = append(outs, stdout.String()+"\x00"+stderr.String())
			}
			assert.Equal(t, outs[0], outs[1], "docker and mender-docker behave the same")
		})
	}
}

// Every subcommand and every state the module acts on is in the
// top-level help.
func TestHelpListsEverything(t *testing.T) {
	var stdout, stderr strings.Builder
	require.Equal(t, 0, run([]string{"--help"}, &stdout, &stderr))
	for c := range commands {
		assert.Contains(t, stdout.String(), "\n  "+c+" ", c)
	}
	for s := range actionStates {
		assert.Contains(t, stdout.String(), s)
	}
	for _, s := range []string{"NeedsArtifactReboot", "SupportsRollback", "ArtifactReboot", "ArtifactVerifyReboot", "ArtifactRollbackReboot", "ArtifactVerifyRollbackReboot"} {
		assert.Contains(t, stdout.String(), s)
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
	// 9.5 MB since templates (#21). Templates run on our own executor
	// over text/template/parse: text/template's calls reflect's
	// MethodByName, which makes the linker keep every exported method of
	// every reachable type (11.37 MB with it, 9.36 MB without).
	assert.Less(t, fi.Size(), int64(9.5e6), "binary over 9.5 MB")
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

// The man page documents every command, the states and the exit status.
func TestManPageListsEverything(t *testing.T) {
	b, err := os.ReadFile("../../packaging/files/mender-docker.8")
	require.NoError(t, err)
	man := strings.ReplaceAll(string(b), `\-`, "-")
	for c := range commands {
		assert.Regexp(t, `(?m)^\.TP\n\.B `+c+`\b`, man, "the man page has no entry for %s", c)
	}
	for s := range actionStates {
		assert.Contains(t, man, ".BR "+s+" ")
	}
	for _, sec := range []string{".SH COMMANDS", ".SH CONFIGURATION", ".SH EXIT STATUS", ".SH FILES"} {
		assert.Contains(t, man, sec)
	}
}
