package repo

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every fixture says where it came from: each testdata directory (goldens,
// fuzz corpora under testdata/fuzz) has a README.md naming each of its
// entries, and each project of test/compose-corpus its SOURCE.
func TestFixturesHaveProvenance(t *testing.T) {
	out, err := exec.Command("git", "-C", root(), "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	// entries: for each testdata directory, its tracked top-level entries.
	entries := map[string]map[string]bool{}
	corpus := map[string]bool{}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		parts := strings.Split(f, "/")
		for i, p := range parts[:len(parts)-1] {
			if p == "testdata" {
				dir := path.Join(parts[:i+1]...)
				if entries[dir] == nil {
					entries[dir] = map[string]bool{}
				}
				entries[dir][parts[i+1]] = true
				break
			}
		}
		if rest, ok := strings.CutPrefix(f, "test/compose-corpus/"); ok {
			if project, _, ok := strings.Cut(rest, "/"); ok {
				corpus[project] = true
			}
		}
	}
	if len(entries) == 0 {
		t.Fatal("no testdata directory found: is git ls-files run in the repository?")
	}
	for dir, names := range entries {
		readme, err := os.ReadFile(filepath.Join(root(), dir, "README.md"))
		if err != nil {
			t.Errorf("%s has no README.md saying what each file is, how it was made and how to regenerate it", dir)
			continue
		}
		for name := range names {
			if name == "README.md" {
				continue
			}
			if !strings.Contains(string(readme), "`"+name+"`") && !strings.Contains(string(readme), "`"+name+"/") {
				t.Errorf("%s/README.md does not name %s (as `%s`...)", dir, name, name)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root(), "test/compose-corpus/README.md")); err != nil {
		t.Errorf("test/compose-corpus has no README.md")
	}
	need := regexp.MustCompile(`(?m)^(repo|path|commit|license): \S`)
	for project := range corpus {
		src, err := os.ReadFile(filepath.Join(root(), "test/compose-corpus", project, "SOURCE"))
		if err != nil {
			t.Errorf("test/compose-corpus/%s has no SOURCE", project)
			continue
		}
		if n := len(need.FindAll(src, -1)); n != 4 {
			t.Errorf("test/compose-corpus/%s/SOURCE: want its repo:, path:, commit: and license: lines, has %d of them", project, n)
		}
	}
}
