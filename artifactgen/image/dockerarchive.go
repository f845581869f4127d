package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ArchiveOptions say how WriteDockerArchive writes an image.
type ArchiveOptions struct {
	// Tags go into manifest.json: the loaded image gets these names.
	Tags []string
	// Omit leaves out the layers with these diff IDs, for a device that
	// already has them (a delta); the engine uses its own copy.
	Omit map[v1.Hash]bool
	// Gzipped writes layers as the registry serves them (no
	// recompression); otherwise uncompressed, for a container that
	// compresses the whole (an artifact's payload compresses better than
	// its layers one by one, and better than gzip's default).
	Gzipped bool
	// Progress, if set, hears the compressed bytes read so far.
	Progress func(read int64)
	// Detail, if set, hears each layer as it is read or left out.
	Detail func(msg string)
}

// WriteDockerArchive writes img in the `docker save` format that the
// engine's image load reads: its config, its layers, and manifest.json.
// Each layer's content is read once.
func WriteDockerArchive(w io.Writer, img v1.Image, o ArchiveOptions) error {
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	mtime := time.Unix(0, 0)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s: %d bytes, expected %d", name, n, size)
		}
		return err
	}
	cfgFile := cfgName.Hex + ".json"
	if err := add(cfgFile, int64(len(cfg)), bytes.NewReader(cfg)); err != nil {
		return err
	}
	var names []string
	var read int64
	for _, l := range layers {
		diff, err := l.DiffID()
		if err != nil {
			return err
		}
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		name := digest.Hex + ".tar.gz"
		if !o.Gzipped {
			name = diff.Hex + ".tar"
		}
		names = append(names, name)
		size, sizeErr := l.Size()
		if o.Omit[diff] {
			if o.Detail != nil {
				o.Detail(fmt.Sprintf("layer %s left out (the delta base has it)", digest))
			}
			continue
		}
		if o.Detail != nil && sizeErr == nil {
			o.Detail(fmt.Sprintf("layer %s: %.1f MB", digest, float64(size)/1e6))
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		var src io.Reader = rc
		if o.Progress != nil {
			src = &progressReader{r: rc, base: read, report: o.Progress}
		}
		if o.Gzipped {
			size, err := l.Size()
			if err == nil {
				err = add(name, size, src)
			}
			rc.Close()
			if err != nil {
				return fmt.Errorf("layer %s: %w", digest, err)
			}
		} else {
			err = addUncompressed(add, name, src)
			rc.Close()
			if err != nil {
				return fmt.Errorf("layer %s: %w", digest, err)
			}
		}
		if s, err := l.Size(); err == nil {
			read += s
		}
	}
	manifest, err := json.Marshal([]struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{cfgFile, o.Tags, names}})
	if err != nil {
		return err
	}
	if err := add("manifest.json", int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	return tw.Close()
}

// addUncompressed stages the compressed layer in a temporary file (the
// tar header needs the uncompressed size before the content), then adds
// it uncompressed.
func addUncompressed(add func(string, int64, io.Reader) error, name string, compressed io.Reader) error {
	tmp, err := os.CreateTemp("", "layer")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, compressed); err != nil {
		return err
	}
	local, err := tarball.LayerFromFile(tmp.Name())
	if err != nil {
		return err
	}
	rc, err := local.Uncompressed()
	if err != nil {
		return err
	}
	size, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return err
	}
	if rc, err = local.Uncompressed(); err != nil {
		return err
	}
	defer rc.Close()
	return add(name, size, rc)
}

type progressReader struct {
	r      io.Reader
	base   int64
	n      int64
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.report(p.base + p.n)
	return n, err
}
