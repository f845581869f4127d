package module

import (
	"archive/tar"
	"bytes"
	"fmt"
	"github.com/mender-docker/mender-docker/module/tartest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry = tartest.Entry

func TestExtractTreeRefuses(t *testing.T) {
	compose := entry{Name: "docker-compose.yml", Data: "services: {}\n"}
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"gnu sparse": {tartest.WithRaw(tartest.Of(t, compose), tartest.GNUSparse(t, "data/big", 1<<30)), `"data/big" is a sparse file`},
		"pax sparse": {tartest.WithRaw(tartest.Of(t, compose), tartest.PAXSparse(t, "data/big", 1<<30)), `"data/big" is a sparse file`},
		"too big":    {tartest.Of(t, compose, entry{Name: "blob", Data: strings.Repeat("b", 1<<20)}), `"blob": the archive unpacks to more than 1 MB (max_unpack_mb)`},
		"outside":    {tartest.Of(t, compose, entry{Name: "../../x", Data: "x"}), `"../../x" is outside`},
		"symlink":    {tartest.Of(t, compose, entry{Name: "l", Typ: tar.TypeSymlink, Link: "/etc"}), "neither a file nor a directory"},
		"hardlink":   {tartest.Of(t, compose, entry{Name: "l", Typ: tar.TypeLink, Link: "docker-compose.yml"}), "neither a file nor a directory"},
		"device":     {tartest.Of(t, compose, entry{Name: "l", Typ: tar.TypeChar}), "neither a file nor a directory"},
		"twice":      {tartest.Of(t, compose, compose), "docker-compose.yml"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := extractTree(bytes.NewReader(tc.in), dir, 1<<20)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var size int64
			filepath.Walk(dir, func(_ string, fi os.FileInfo, _ error) error {
				size += fi.Size()
				return nil
			})
			assert.Less(t, size, int64(1<<20), "nothing big is written")
		})
	}
	var many []entry
	for i := 0; i <= maxFilesEntries; i++ {
		many = append(many, entry{Name: fmt.Sprintf("d%d", i), Typ: tar.TypeDir})
	}
	err := extractTree(bytes.NewReader(tartest.Of(t, many...)), t.TempDir(), 1<<20)
	assert.ErrorIs(t, err, ErrArchive)
}

// FuzzExtractTree: unpacking never panics, never writes outside the
// project directory, and never more than the limit.
func FuzzExtractTree(f *testing.F) {
	f.Add(tartest.Of(f, entry{Name: "docker-compose.yml", Data: "services: {}\n"}, entry{Name: "conf", Typ: tar.TypeDir}, entry{Name: "conf/a", Data: "a"}))
	f.Add(tartest.Of(f, entry{Name: "../escape", Data: "x"}))
	f.Add(tartest.WithRaw(tartest.Of(f, entry{Name: "a", Data: "a"}), tartest.PAXSparse(f, "big", 1<<30)))
	f.Fuzz(func(t *testing.T, in []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "project")
		require.NoError(t, os.Mkdir(dir, 0o755))
		err := extractTree(bytes.NewReader(in), dir, 64<<10)
		var size int64
		filepath.Walk(root, func(p string, fi os.FileInfo, _ error) error {
			if fi == nil {
				return nil
			}
			if p != root && p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Errorf("%s written outside the project", p)
			}
			if fi.Mode().IsRegular() {
				size += fi.Size()
			}
			return nil
		})
		assert.LessOrEqual(t, size, int64(64<<10))
		if err != nil && size > 0 {
			t.Logf("refused after %d bytes (cleanup removes them): %v", size, err)
		}
	})
}

func TestLoadTag(t *testing.T) {
	d := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for ref, want := range map[string]string{
		"127.0.0.1:5000/acme/web@" + d:     "127.0.0.1:5000/acme/web:mender-0123456789ab",
		"127.0.0.1:5000/acme/web:1.2@" + d: "127.0.0.1:5000/acme/web:mender-0123456789ab",
		"web:1.2@" + d:                     "web:mender-0123456789ab",
		"web":                              "",
	} {
		assert.Equal(t, want, loadTag(ref), ref)
	}
}
