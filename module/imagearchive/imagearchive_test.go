package imagearchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/mender-docker/mender-docker/module/tartest"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entry = tartest.Entry

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
		{Name: hexID + ".json", Data: testConfig},
		{Name: "layer/layer.tar", Data: strings.Repeat("l", 2048)},
		{Name: "repositories", Data: `{"victim":{"latest":"` + hexID + `"}}`},
		{Name: "manifest.json", Data: `[{"Config":"` + hexID + `.json","RepoTags":["victim:latest"],"Layers":["layer/layer.tar"]}]`},
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

	files, err := runFilter(a, tartest.Of(t, archiveEntries()...))
	require.NoError(t, err)
	assert.NotContains(t, files, "repositories")
	assert.Equal(t, testConfig, files[hexID+".json"])
	var m []map[string]any
	require.NoError(t, json.Unmarshal([]byte(files["manifest.json"]), &m))
	assert.Equal(t, []map[string]any{{"Config": hexID + ".json", "RepoTags": []any{a.Tag}, "Layers": []any{"layer/layer.tar"}}}, m, "only the module's own tag")

	a.Tag = ""
	files, err = runFilter(a, tartest.Of(t, archiveEntries()...))
	require.NoError(t, err)
	assert.NotContains(t, files["manifest.json"], "RepoTags")

	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"other image": {tartest.Of(t, archiveEntries(entry{Name: hexID + ".json", Data: strings.Replace(testConfig, "amd64", "arm64", 1)})...), "is not " + id},
		"two images": {tartest.Of(t, archiveEntries(entry{Name: "manifest.json",
			Data: `[{"Config":"` + hexID + `.json","Layers":[]},{"Config":"other.json","Layers":[]}]`})...), "names 2 images"},
		"no manifest":  {tartest.Of(t, archiveEntries()[:2]...), "no manifest.json"},
		"not a tar":    {[]byte(strings.Repeat("garbage!", 200)), "not a docker-archive"},
		"outside":      {tartest.Of(t, archiveEntries(entry{Name: "../x", Data: "x"})...), `"../x" is outside`},
		"absolute":     {tartest.Of(t, archiveEntries(entry{Name: "/etc/x", Data: "x"})...), `"/etc/x" is outside`},
		"device":       {tartest.Of(t, archiveEntries(entry{Name: "dev", Typ: tar.TypeChar})...), `"dev": entries of type '3'`},
		"gnu sparse":   {tartest.WithRaw(tartest.Of(t, archiveEntries()...), tartest.GNUSparse(t, "big", 1<<30)), `"big" is a sparse file`},
		"pax sparse":   {tartest.WithRaw(tartest.Of(t, archiveEntries()...), tartest.PAXSparse(t, "big", 1<<30)), `"big" is a sparse file`},
		"manifest dir": {tartest.Of(t, archiveEntries(entry{Name: "manifest.json", Typ: tar.TypeDir})...), "manifest.json: not a small regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runFilter(Archive{ID: id}, tc.in)
			require.ErrorIs(t, err, ErrRefused)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("limit", func(t *testing.T) {
		_, err := runFilter(Archive{ID: id, Limit: 1 << 20}, tartest.Of(t, archiveEntries(entry{Name: "big", Data: strings.Repeat("b", 1<<20)})...))
		require.ErrorIs(t, err, ErrRefused)
		assert.Contains(t, err.Error(), `"big": the archive holds more than the 1 MB free`)
	})
}

// FuzzImageArchive: the filter never panics, and what it lets through is
// a tar whose manifest names only the expected image, by a config that
// hashes to it, with no tag but the module's.
func FuzzImageArchive(f *testing.F) {
	id := testID(testConfig)
	f.Add(tartest.Of(f, archiveEntries()...))
	f.Add(tartest.Of(f, archiveEntries()[:2]...))
	f.Add(tartest.WithRaw(tartest.Of(f, archiveEntries()...), tartest.PAXSparse(f, "big", 1<<30)))
	f.Add(tartest.WithRaw(tartest.Of(f, archiveEntries()...), tartest.GNUSparse(f, "big", 1<<30)))
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
