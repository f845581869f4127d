package imagearchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tar builders below are also in module/payload_fuzz_test.go, for the
// files archives: test files cannot share them across packages.

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

const testConfig = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}`

func testID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// archiveEntries is a docker-archive of testConfig with tags and the legacy
// repositories file.
func archiveEntries(extra ...entry) []entry {
	hexID := strings.TrimPrefix(testID(testConfig), "sha256:")
	return append([]entry{
		{name: hexID + ".json", data: testConfig},
		{name: "layer/layer.tar", data: strings.Repeat("l", 2048)},
		{name: "repositories", data: `{"victim":{"latest":"` + hexID + `"}}`},
		{name: "manifest.json", data: `[{"Config":"` + hexID + `.json","RepoTags":["victim:latest"],"Layers":["layer/layer.tar"]}]`},
	}, extra...)
}

func runFilter(a Archive, in []byte) (map[string]string, error) {
	var out bytes.Buffer
	if err := a.Filter(bytes.NewReader(in), &out); err != nil {
		return nil, err
	}
	files := map[string]string{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b) // the last one wins, as when the engine unpacks
	}
}

func TestImageArchiveFilter(t *testing.T) {
	id := testID(testConfig)
	hexID := strings.TrimPrefix(id, "sha256:")
	a := Archive{ID: id, Tag: "127.0.0.1:5000/acme/web:mender-0123456789ab"}

	files, err := runFilter(a, tarOf(t, archiveEntries()...))
	require.NoError(t, err)
	assert.NotContains(t, files, "repositories")
	assert.Equal(t, testConfig, files[hexID+".json"])
	var m []map[string]any
	require.NoError(t, json.Unmarshal([]byte(files["manifest.json"]), &m))
	assert.Equal(t, []map[string]any{{"Config": hexID + ".json", "RepoTags": []any{a.Tag}, "Layers": []any{"layer/layer.tar"}}}, m, "only the module's own tag")

	a.Tag = ""
	files, err = runFilter(a, tarOf(t, archiveEntries()...))
	require.NoError(t, err)
	assert.NotContains(t, files["manifest.json"], "RepoTags")

	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"other image": {tarOf(t, archiveEntries(entry{name: hexID + ".json", data: strings.Replace(testConfig, "amd64", "arm64", 1)})...), "is not " + id},
		"two images": {tarOf(t, archiveEntries(entry{name: "manifest.json",
			data: `[{"Config":"` + hexID + `.json","Layers":[]},{"Config":"other.json","Layers":[]}]`})...), "names 2 images"},
		"no manifest":  {tarOf(t, archiveEntries()[:2]...), "no manifest.json"},
		"not a tar":    {[]byte(strings.Repeat("garbage!", 200)), "not a docker-archive"},
		"outside":      {tarOf(t, archiveEntries(entry{name: "../x", data: "x"})...), `"../x" is outside`},
		"absolute":     {tarOf(t, archiveEntries(entry{name: "/etc/x", data: "x"})...), `"/etc/x" is outside`},
		"device":       {tarOf(t, archiveEntries(entry{name: "dev", typ: tar.TypeChar})...), `"dev": entries of type '3'`},
		"gnu sparse":   {withRaw(tarOf(t, archiveEntries()...), gnuSparse(t, "big", 1<<30)), `"big" is a sparse file`},
		"pax sparse":   {withRaw(tarOf(t, archiveEntries()...), paxSparse(t, "big", 1<<30)), `"big" is a sparse file`},
		"manifest dir": {tarOf(t, archiveEntries(entry{name: "manifest.json", typ: tar.TypeDir})...), "manifest.json: not a small regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runFilter(Archive{ID: id}, tc.in)
			require.ErrorIs(t, err, ErrRefused)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("limit", func(t *testing.T) {
		_, err := runFilter(Archive{ID: id, Limit: 1 << 20}, tarOf(t, archiveEntries(entry{name: "big", data: strings.Repeat("b", 1<<20)})...))
		require.ErrorIs(t, err, ErrRefused)
		assert.Contains(t, err.Error(), `"big": the archive holds more than the 1 MB free`)
	})
}

// FuzzImageArchive: the filter never panics, and what it lets through is
// a tar whose manifest names only the expected image, by a config that
// hashes to it, with no tag but the module's.
func FuzzImageArchive(f *testing.F) {
	id := testID(testConfig)
	f.Add(tarOf(f, archiveEntries()...))
	f.Add(tarOf(f, archiveEntries()[:2]...))
	f.Add(withRaw(tarOf(f, archiveEntries()...), paxSparse(f, "big", 1<<30)))
	f.Add(withRaw(tarOf(f, archiveEntries()...), gnuSparse(f, "big", 1<<30)))
	f.Fuzz(func(t *testing.T, in []byte) {
		a := Archive{ID: id, Tag: "r:mender-0123456789ab", Limit: 64 << 10}
		files, err := runFilter(a, in)
		if err != nil {
			return
		}
		var m []manifest
		require.NoError(t, json.Unmarshal([]byte(files["manifest.json"]), &m))
		require.Len(t, m, 1)
		assert.Equal(t, id, testID(files[m[0].Config]))
		assert.Equal(t, []string{a.Tag}, m[0].RepoTags)
		for name := range files {
			assert.False(t, name == "repositories" || name == "index.json" || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../"), name)
		}
	})
}
