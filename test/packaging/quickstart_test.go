package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// quickStart is the README's Quick start section.
func quickStart(t *testing.T) string {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "\n## Quick start\n")
	require.True(t, ok, "the README has no Quick start")
	section, _, _ := strings.Cut(after, "\n## ")
	return section
}

// shellCommands are the command lines of the fenced sh blocks of text:
// continuation lines joined, comments and blank lines left out.
func shellCommands(text string) []string {
	var cmds []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		joined := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(block[1], "")
		for _, l := range strings.Split(joined, "\n") {
			l = strings.TrimSpace(l)
			if i := strings.Index(l, " #"); i >= 0 {
				l = strings.TrimSpace(l[:i])
			}
			if l != "" && !strings.HasPrefix(l, "#") {
				cmds = append(cmds, l)
			}
		}
	}
	return cmds
}

// Every command line of the README's quick start runs as written, with
// the test's loopback registry in place of registry.example.com and the
// built binaries on the PATH under their installed names; the artifact
// the generator writes is the one the next step installs.
func TestQuickStartRuns(t *testing.T) {
	section := quickStart(t)
	cmds := shellCommands(section)
	require.NotEmpty(t, cmds)

	bin := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"docker-artifact-gen", "./cmd/docker-artifact-gen"}, {"docker", "./cmd/docker"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, b.out), b.pkg)
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	require.NoError(t, os.Symlink("docker", filepath.Join(bin, "mender-docker")))

	reg := fixture.NewRegistry(t)
	ref := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	work := t.TempDir()
	conf := filepath.Join(work, "mender-docker.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`{"state_dir": "`+filepath.Join(work, "state")+`"}`), 0o644))
	ranStatus := false
	for _, c := range cmds {
		c = strings.ReplaceAll(c, "registry.example.com", reg.Addr)
		cmd := exec.Command("sh", "-c", c)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "DOCKER_CONFIG="+t.TempDir(), "MENDER_DOCKER_CONF="+conf)
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s\n%s", c, out)
		if strings.HasPrefix(c, "mender-docker status") {
			// It reports the whole engine, where other tests' apps may
			// be starting: exit 1 (an app is not healthy) is an answer.
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
				err = nil
			}
			assert.True(t, strings.HasPrefix(string(out), "engine: docker "), "%s", out)
		}
		require.NoError(t, err, "%s:\n%s", c, out)
		if strings.HasPrefix(c, "docker-artifact-gen ") {
			assert.Contains(t, string(out), ref, "the tag is pinned to its digest")
		}
		ranStatus = ranStatus || strings.HasPrefix(c, "mender-docker status")
	}
	assert.True(t, ranStatus, "the quick start shows mender-docker status")

	// The next steps install the file the generator wrote.
	installs := regexp.MustCompile("`mender(?:-update)? install (\\S+)`").FindAllStringSubmatch(section, -1)
	require.NotEmpty(t, installs, "the quick start installs nothing")
	for _, m := range installs {
		_, err := os.Stat(filepath.Join(work, m[1]))
		assert.NoError(t, err, "the quick start installs %s, which its generator command did not write", m[1])
	}
	// The inventory key it names is one the module prints.
	for _, m := range regexp.MustCompile("`(docker_app_[a-z_]+)=").FindAllStringSubmatch(section, -1) {
		assert.Regexp(t, `^docker_app_default_(artifact|health|containers|phase)$`, m[1], "the inventory has no key %s", m[1])
	}
}

// Every inventory key the README or the man page shows is one the module
// prints (docker_app_APP_artifact, not docker_app_APP).
func TestDocsInventoryKeys(t *testing.T) {
	var b strings.Builder
	st := module.Status{Apps: []module.AppStatus{{App: "APP", Phase: "installing"}}}
	require.NoError(t, st.WriteInventory(&b))
	keys := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		k, _, _ := strings.Cut(l, "=")
		keys[k] = true
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	man, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "files", "mender-docker.8"))
	require.NoError(t, err)
	manText := regexp.MustCompile(`\\f[BIRP]`).ReplaceAllString(strings.ReplaceAll(string(man), `\-`, "-"), "")
	keyRE := regexp.MustCompile(`\b(docker_[A-Za-z0-9_<>]+)=`)
	found := 0
	for file, text := range map[string]string{"README.md": string(readme), "mender-docker.8": manText} {
		for _, m := range keyRE.FindAllStringSubmatch(text, -1) {
			k := regexp.MustCompile(`^docker_app_(APP|<app>|shop|default)_`).ReplaceAllString(m[1], "docker_app_APP_")
			assert.True(t, keys[k], "%s shows the inventory key %s; the module prints %v", file, m[1], keys)
			found++
		}
	}
	assert.NotZero(t, found)
}
