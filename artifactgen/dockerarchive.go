package artifactgen

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteDockerArchive writes img in the `docker save` format that the
// engine's image load reads: its config, its layers as the registry
// serves them (gzipped: no recompression), and manifest.json naming tags.
// Layers whose diff ID is in omit are left out, for a device that already
// has them (a delta); the engine then uses its own copy.
func WriteDockerArchive(w io.Writer, img v1.Image, tags []string, omit map[v1.Hash]bool) error {
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
		names = append(names, name)
		if omit[diff] {
			continue
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = add(name, size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", digest, err)
		}
	}
	manifest, err := json.Marshal([]struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{cfgFile, tags, names}})
	if err != nil {
		return err
	}
	if err := add("manifest.json", int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	return tw.Close()
}
