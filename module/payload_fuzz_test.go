package module

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry struct {
	name string
	typ  byte
	data string
	link string
}

func tarOf(t testing.TB, entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.data))}))
		_, err := tw.Write([]byte(e.data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// withRaw puts raw entry blocks before the end of archive.
func withRaw(archive, raw []byte) []byte {
	out := append([]byte{}, archive[:len(archive)-1024]...)
	return append(append(out, raw...), make([]byte, 1024)...)
}

// setChecksum recomputes a patched header block's checksum.
func setChecksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h[:512] {
		sum += int64(c)
	}
	copy(h[148:155], fmt.Sprintf("%06o\x00", sum))
}

// gnuSparse is an old GNU sparse entry: 1 KB that unpacks to size bytes.
func gnuSparse(t testing.TB, name string, size int64) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 512, Typeflag: tar.TypeReg, Format: tar.FormatGNU}))
	_, err := tw.Write(bytes.Repeat([]byte{'x'}, 512))
	require.NoError(t, err)
	require.NoError(t, tw.Flush())
	b := buf.Bytes()
	h := b[:512]
	octal := func(dst []byte, v int64) { copy(dst, fmt.Sprintf("%0*o\x00", len(dst)-1, v)) }
	h[156] = tar.TypeGNUSparse
	octal(h[386:398], size-512)
	octal(h[398:410], 512)
	octal(h[483:495], size)
	setChecksum(h)
	return b
}

// paxSparse is a PAX 1.0 sparse entry, as GNU tar --sparse writes: 2.5 KB
// that unpack to size bytes.
func paxSparse(t testing.TB, name string, size int64) []byte {
	records := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(size)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		records += fmt.Sprint(n) + rec
	}
	sparseMap := make([]byte, 512)
	copy(sparseMap, fmt.Sprintf("1\n%d\n512\n", size-512))
	b := tarOf(t, entry{name: "PaxHeaders/" + name, data: records}, entry{name: "GNUSparseFile.0/" + name, data: string(sparseMap) + strings.Repeat("x", 512)})
	b = b[:len(b)-1024]
	b[156] = tar.TypeXHeader
	setChecksum(b)
	return b
}

func TestExtractTreeRefuses(t *testing.T) {
	compose := entry{name: "docker-compose.yml", data: "services: {}\n"}
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"gnu sparse": {withRaw(tarOf(t, compose), gnuSparse(t, "data/big", 1<<30)), `"data/big" is a sparse file`},
		"pax sparse": {withRaw(tarOf(t, compose), paxSparse(t, "data/big", 1<<30)), `"data/big" is a sparse file`},
		"too big":    {tarOf(t, compose, entry{name: "blob", data: strings.Repeat("b", 1<<20)}), `"blob": the archive unpacks to more than 1 MB (max_unpack_mb)`},
		"outside":    {tarOf(t, compose, entry{name: "../../x", data: "x"}), `"../../x" is outside`},
		"symlink":    {tarOf(t, compose, entry{name: "l", typ: tar.TypeSymlink, link: "/etc"}), "neither a file nor a directory"},
		"hardlink":   {tarOf(t, compose, entry{name: "l", typ: tar.TypeLink, link: "docker-compose.yml"}), "neither a file nor a directory"},
		"device":     {tarOf(t, compose, entry{name: "l", typ: tar.TypeChar}), "neither a file nor a directory"},
		"twice":      {tarOf(t, compose, compose), "docker-compose.yml"},
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
		many = append(many, entry{name: fmt.Sprintf("d%d", i), typ: tar.TypeDir})
	}
	err := extractTree(bytes.NewReader(tarOf(t, many...)), t.TempDir(), 1<<20)
	assert.ErrorIs(t, err, ErrArchive)
}

// FuzzExtractTree: unpacking never panics, never writes outside the
// project directory, and never more than the limit.
func FuzzExtractTree(f *testing.F) {
	f.Add(tarOf(f, entry{name: "docker-compose.yml", data: "services: {}\n"}, entry{name: "conf", typ: tar.TypeDir}, entry{name: "conf/a", data: "a"}))
	f.Add(tarOf(f, entry{name: "../escape", data: "x"}))
	f.Add(withRaw(tarOf(f, entry{name: "a", data: "a"}), paxSparse(f, "big", 1<<30)))
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
