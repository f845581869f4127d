// Package tartest builds tar archives for tests, hostile ones included
// (raw blocks, old GNU and PAX sparse entries): the files archive's tests
// in module and the image archive's in module/imagearchive both use them.
package tartest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Entry is one member of an archive Of builds; Typ 0 is a regular file.
type Entry struct {
	Name string
	Typ  byte
	Data string
	Link string
}

// Of is a tar archive of the entries.
func Of(t testing.TB, entries ...Entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Link, Mode: 0o644, Size: int64(len(e.Data))}))
		_, err := tw.Write([]byte(e.Data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// WithRaw puts raw entry blocks before the end of archive.
func WithRaw(archive, raw []byte) []byte {
	out := append([]byte{}, archive[:len(archive)-1024]...)
	return append(append(out, raw...), make([]byte, 1024)...)
}

// SetChecksum recomputes a patched header block's checksum.
func SetChecksum(h []byte) {
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h[:512] {
		sum += int64(c)
	}
	copy(h[148:155], fmt.Sprintf("%06o\x00", sum))
}

// GNUSparse is an old GNU sparse entry: 1 KB that unpacks to size bytes.
func GNUSparse(t testing.TB, name string, size int64) []byte {
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
	SetChecksum(h)
	return b
}

// PAXSparse is a PAX 1.0 sparse entry, as GNU tar --sparse writes: 2.5 KB
// that unpack to size bytes.
func PAXSparse(t testing.TB, name string, size int64) []byte {
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
	b := Of(t, Entry{Name: "PaxHeaders/" + name, Data: records}, Entry{Name: "GNUSparseFile.0/" + name, Data: string(sparseMap) + strings.Repeat("x", 512)})
	b = b[:len(b)-1024]
	b[156] = tar.TypeXHeader
	SetChecksum(b)
	return b
}
