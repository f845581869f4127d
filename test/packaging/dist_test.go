package packaging

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// repoRoot is where the Makefile is.
const repoRoot = "../.."

// make runs a target of the repository's Makefile with extra variables.
func runMake(t *testing.T, args ...string) {
	t.Helper()
	_, err := exec.LookPath("make")
	fixture.Need(t, err == nil, "make")
	cmd := exec.Command("make", append([]string{"-C", repoRoot}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+":/usr/local/go/bin")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make %v:\n%s", args, out)
}

// Every binary of `make dist` must run on a device with nothing but a
// kernel: a static ELF for its own architecture (no interpreter, no
// dynamic section), stripped, built without cgo.
func TestDistBinaries(t *testing.T) {
	dist := t.TempDir()
	runMake(t, "dist", "DIST="+dist, "VERSION=test")
	for _, tc := range []struct {
		file    string
		class   elf.Class
		machine elf.Machine
		goarch  string
		goarm   string
	}{
		{"docker-linux-amd64", elf.ELFCLASS64, elf.EM_X86_64, "amd64", ""},
		{"docker-linux-arm64", elf.ELFCLASS64, elf.EM_AARCH64, "arm64", ""},
		{"docker-linux-armv7", elf.ELFCLASS32, elf.EM_ARM, "arm", "7"},
		{"docker-linux-riscv64", elf.ELFCLASS64, elf.EM_RISCV, "riscv64", ""},
		{"docker-artifact-gen-linux-amd64", elf.ELFCLASS64, elf.EM_X86_64, "amd64", ""},
		{"docker-artifact-gen-linux-arm64", elf.ELFCLASS64, elf.EM_AARCH64, "arm64", ""},
		{"docker-artifact-gen-linux-armv7", elf.ELFCLASS32, elf.EM_ARM, "arm", "7"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dist, tc.file)
			f, err := elf.Open(path)
			require.NoError(t, err)
			defer f.Close()
			assert.Equal(t, tc.class, f.Class)
			assert.Equal(t, tc.machine, f.Machine)
			assert.Equal(t, elf.ELFOSABI_NONE, f.OSABI)
			assert.Equal(t, elf.ET_EXEC, f.Type, "a static executable, not a PIE")
			for _, p := range f.Progs {
				assert.NotEqual(t, elf.PT_INTERP, p.Type, "has a program interpreter: dynamically linked")
				assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "has a dynamic segment")
			}
			assert.Nil(t, f.Section(".dynamic"), "has a .dynamic section")
			assert.Nil(t, f.Section(".interp"), "has an .interp section")
			assert.Nil(t, f.Section(".symtab"), "not stripped")
			libs, err := f.ImportedLibraries()
			require.NoError(t, err)
			assert.Empty(t, libs)

			bi, err := buildinfo.ReadFile(path)
			require.NoError(t, err)
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			assert.Equal(t, "linux", settings["GOOS"])
			assert.Equal(t, tc.goarch, settings["GOARCH"])
			assert.Equal(t, "0", settings["CGO_ENABLED"])
			if tc.goarm != "" {
				assert.Equal(t, tc.goarm, settings["GOARM"])
			}
			fi, err := os.Stat(path)
			require.NoError(t, err)
			t.Logf("%s: %.1f MB", tc.file, float64(fi.Size())/1e6)
		})
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	require.NoError(t, err)
	assert.Contains(t, string(sums), "docker-linux-armv7")
}
