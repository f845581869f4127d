// Package imagearchive checks and rewrites an embedded image's
// docker-archive (docker save) on its way from the artifact to the engine,
// in constant memory: the archive may hold only the image the meta-data
// names (its config must hash to the ID), gets no tag but the module's own,
// and may not hold sparse entries, names outside it, or more than the
// engine's free disk space. The engine unpacks the whole upload before it
// loads anything, so an error before the archive's end leaves the engine
// with nothing. EntryName, the check of a tar entry's name, serves the
// module's files archives too.
package imagearchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Bounds on an embedded image archive. An image config is a few KB (its
// history, environment and labels), a manifest.json less; a docker-archive
// has a few files per layer, and an image at most about 127 layers.
const (
	maxImageJSON      = 8 << 20
	maxArchiveEntries = 4096
)

// Archive is what an embedded image's docker-archive must hold.
type Archive struct {
	ID    string // the image the meta-data names: sha256 of its config
	Tag   string // the one name the image gets; "" for none
	Limit int64  // most bytes of content; 0 for no limit
}

// manifest is one entry of a docker-archive's manifest.json.
type manifest struct {
	Config       string
	RepoTags     []string `json:",omitempty"`
	Layers       []string
	LayerSources map[string]json.RawMessage `json:",omitempty"`
}

// epoch is every written entry's time: the output depends on the content
// only.
var epoch = time.Unix(0, 0)

// Filter copies the docker-archive r to w, entry by entry, in constant
// memory. It passes directories, regular files and links; drops
// repositories, index.json and oci-layout (names the engine would give
// the image); refuses sparse entries and more than Limit bytes; and reads
// manifest.json, which must name exactly one image, whose config file
// must hash to ID. At the end it writes that config (as <id>.json) and a
// manifest.json of its own naming it, with no tag but Tag: the last
// entries written are the ones the engine reads, whatever the archive
// held under those names.
func (a Archive) Filter(r io.Reader, w io.Writer) error {
	f := &filter{a: a, tr: tar.NewReader(r), tw: tar.NewWriter(w), matching: map[string]bool{}}
	for entries := 1; ; entries++ {
		h, err := f.tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: not a docker-archive: %v", ErrRefused, err)
		}
		if entries > maxArchiveEntries {
			return fmt.Errorf("%w: more than %d entries", ErrRefused, maxArchiveEntries)
		}
		if err := f.entry(h); err != nil {
			return err
		}
	}
	return f.finish()
}

// filter is one run of Archive.Filter.
type filter struct {
	a        Archive
	tr       *tar.Reader
	tw       *tar.Writer
	manifest *manifest
	config   []byte          // the content that hashes to a.ID
	matching map[string]bool // entries whose content is config
	total    int64
	buf      bytes.Buffer
}

// entry copies the entry h (or reads it, or drops it).
func (f *filter) entry(h *tar.Header) error {
	name, err := EntryName(h)
	if err != nil {
		return err
	}
	// A later entry of the same name replaces an earlier one when the
	// engine unpacks them.
	delete(f.matching, name)
	switch name {
	case ".":
		return nil
	case "manifest.json":
		f.manifest, err = readManifest(f.tr, h, f.a.ID)
		return err
	case "repositories", "index.json", "oci-layout":
		return nil
	}
	out := &tar.Header{Name: name, Typeflag: h.Typeflag, ModTime: epoch}
	switch h.Typeflag {
	case tar.TypeDir:
		out.Mode = 0o755
	case tar.TypeSymlink, tar.TypeLink:
		// The engine unpacks into a chroot: links cannot leave it.
		out.Mode, out.Linkname = 0o777, h.Linkname
	case tar.TypeReg:
		if f.total += h.Size; f.a.Limit > 0 && f.total > f.a.Limit {
			return fmt.Errorf("%w: %q: the archive holds more than the %d MB free on the engine's disk (above min_free_mb)", ErrRefused, h.Name, f.a.Limit>>20)
		}
		out.Mode, out.Size = 0o644, h.Size
	default:
		return fmt.Errorf("%w: %q: entries of type %q are not accepted", ErrRefused, h.Name, h.Typeflag)
	}
	if err := f.tw.WriteHeader(out); err != nil {
		return err
	}
	return f.content(name, out.Size)
}

// content copies an entry's size bytes, noting whether they are the
// image's config.
func (f *filter) content(name string, size int64) error {
	if size == 0 {
		return nil
	}
	if size > maxImageJSON {
		_, err := io.Copy(f.tw, f.tr)
		return err
	}
	// Small enough to be the config: hash it on the way.
	f.buf.Reset()
	if _, err := io.Copy(io.MultiWriter(f.tw, &f.buf), f.tr); err != nil {
		return err
	}
	if sum := sha256.Sum256(f.buf.Bytes()); "sha256:"+hex.EncodeToString(sum[:]) == f.a.ID {
		f.matching[name] = true
		if f.config == nil {
			f.config = bytes.Clone(f.buf.Bytes())
		}
	}
	return nil
}

// finish checks that the archive held the image and writes its config and
// the module's manifest.json last.
func (f *filter) finish() error {
	m := f.manifest
	if m == nil {
		return fmt.Errorf("%w: no manifest.json: not a docker-archive (docker save) of image %s", ErrRefused, f.a.ID)
	}
	if !f.matching[path.Clean(m.Config)] || f.config == nil {
		return fmt.Errorf("%w: the archive's image (config %s) is not %s, the image the meta-data names", ErrRefused, m.Config, f.a.ID)
	}
	m.Config = strings.TrimPrefix(f.a.ID, "sha256:") + ".json"
	m.RepoTags = nil
	if f.a.Tag != "" {
		m.RepoTags = []string{f.a.Tag}
	}
	data, err := json.Marshal([]manifest{*m})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{m.Config, f.config}, {"manifest.json", data}} {
		if err := f.tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := f.tw.Write(e.data); err != nil {
			return err
		}
	}
	return f.tw.Close()
}

// readManifest reads a docker-archive's manifest.json, which must name
// exactly one image.
func readManifest(r io.Reader, h *tar.Header, id string) (*manifest, error) {
	if h.Typeflag != tar.TypeReg || h.Size > maxImageJSON {
		return nil, fmt.Errorf("%w: manifest.json: not a small regular file", ErrRefused)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var l []manifest
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %v", ErrRefused, err)
	}
	if len(l) != 1 {
		return nil, fmt.Errorf("%w: manifest.json names %d images; an embedded archive holds only the image the meta-data names, %s", ErrRefused, len(l), id)
	}
	return &l[0], nil
}

// EntryName is a tar entry's name, cleaned, refused when it leaves the
// directory unpacked into or when the entry is sparse: Go's archive/tar
// (the module's and the engine's) expands sparse entries, so a few KB
// would write gigabytes.
func EntryName(h *tar.Header) (string, error) {
	sparse := h.Typeflag == tar.TypeGNUSparse
	for k := range h.PAXRecords {
		sparse = sparse || strings.HasPrefix(k, "GNU.sparse.")
	}
	if sparse {
		return "", fmt.Errorf("%w: %q is a sparse file; sparse entries are not accepted", ErrRefused, h.Name)
	}
	name := path.Clean(h.Name)
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("%w: %q is outside the archive", ErrRefused, h.Name)
	}
	return name, nil
}
