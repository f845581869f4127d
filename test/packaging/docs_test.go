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
)

// The README and the docs name the Go version go.mod asks for.
func TestDocsGoVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	require.NotNil(t, m, "go.mod has no go line")
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	versions := regexp.MustCompile(`Go (1\.\d+(?:\.\d+)?)`).FindAllSubmatch(readme, -1)
	require.NotEmpty(t, versions, "the README names no Go version")
	for _, v := range versions {
		assert.Equal(t, string(m[1]), string(v[1]), "README says Go %s, go.mod says %s", v[1], m[1])
	}
}

// Every repository path that the README, the docs or a code comment names
// exists: a reader is never sent to a file that is not there.
func TestDocsPointToFiles(t *testing.T) {
	out, err := exec.Command("git", "-C", repoRoot, "ls-files").Output()
	require.NoError(t, err)
	tracked := map[string]bool{}
	top := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		tracked[f] = true
		top[strings.SplitN(f, "/", 2)[0]] = true
		for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
			tracked[d] = true
		}
	}
	// A path in backquotes or a Markdown link, whose first element is a
	// top-level file or directory of the repository.
	pathRE := regexp.MustCompile("(?:`|\\]\\()([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.*{},-]+)*)[`)]")
	check := func(file, text string) {
		for _, m := range pathRE.FindAllStringSubmatch(text, -1) {
			p := strings.TrimSuffix(m[1], "/")
			first := strings.SplitN(p, "/", 2)[0]
			if !top[first] || !strings.Contains(p, "/") && !strings.Contains(p, ".") {
				continue
			}
			if strings.ContainsAny(p, "*{}") { // a pattern such as dist/docker-linux-{…}
				continue
			}
			assert.True(t, tracked[p], "%s names %s, which is not in the repository", file, p)
		}
	}
	// Documents are named as plain words too, such as docs/design.md.
	mdRE := regexp.MustCompile(`(?:^|[\s(\x60\[])([A-Za-z0-9_/.-]*[A-Za-z0-9_-]\.md)\b`)
	checkMD := func(file, text string) {
		for _, m := range mdRE.FindAllStringSubmatch(text, -1) {
			p := strings.TrimPrefix(m[1], "./")
			rel := filepath.Join(filepath.Dir(file), p)
			assert.True(t, tracked[p] || tracked[rel], "%s names %s, which is not in the repository", file, m[1])
		}
	}
	for f := range tracked {
		switch {
		case strings.HasSuffix(f, ".md"):
			b, err := os.ReadFile(filepath.Join(repoRoot, f))
			require.NoError(t, err)
			check(f, string(b))
			checkMD(f, string(b))
		case strings.HasSuffix(f, ".go"):
			b, err := os.ReadFile(filepath.Join(repoRoot, f))
			require.NoError(t, err)
			for _, c := range regexp.MustCompile(`//.*`).FindAllString(string(b), -1) {
				checkMD(f, c)
			}
		}
	}
}
