// Package repo checks the repository itself, not the code it builds: what
// is tracked must be source, never a built file.
package repo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// root is the repository's top directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// No tracked file is an executable that a build made (an ELF): built
// files belong in bin/ or dist/, which git ignores.
func TestNoTrackedBinaries(t *testing.T) {
	out, err := exec.Command("git", "-C", root(), "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if f == "" {
			continue
		}
		fh, err := os.Open(filepath.Join(root(), f))
		if err != nil {
			continue // deleted in the work tree, not yet committed
		}
		head := make([]byte, 4)
		n, _ := fh.Read(head)
		fh.Close()
		if bytes.Equal(head[:n], []byte("\x7fELF")) {
			t.Errorf("%s is a built binary (ELF) tracked by git: remove it and keep built files in bin/ or dist/", f)
		}
	}
}
