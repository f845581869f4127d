package image

import (
	"github.com/mender-docker/mender-docker/artifactgen/artifact"

	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Source prefixes for images taken from files rather than a registry.
const (
	DockerArchivePrefix = "docker-archive:" // a `docker save` file
	OCILayoutPrefix     = "oci:"            // an OCI image layout directory
)

// EmbeddedImage is an image fetched for embedding: where it came from, the
// reference it is pinned as, and its content.
type EmbeddedImage struct {
	Source string // as given
	Ref    string // repo@sha256:<manifest digest>
	Image  v1.Image
}

// Fetch gets the image for source: a registry reference (resolved as
// Resolve does, manifest only: layers are read later, once, as they are
// written), docker-archive:PATH, or oci:DIR.
func (r *Resolver) Fetch(ctx context.Context, source string) (*EmbeddedImage, error) {
	var img v1.Image
	var repo string
	var err error
	switch {
	case strings.HasPrefix(source, DockerArchivePrefix):
		img, repo, err = fromDockerArchive(strings.TrimPrefix(source, DockerArchivePrefix))
	case strings.HasPrefix(source, OCILayoutPrefix):
		img, repo, err = r.fromOCILayout(strings.TrimPrefix(source, OCILayoutPrefix))
	default:
		var pinned string
		if pinned, err = r.Resolve(ctx, source); err != nil {
			return nil, err
		}
		ref, perr := name.ParseReference(pinned, r.nameOptions(pinned)...)
		if perr != nil {
			return nil, perr
		}
		img, err = remote.Image(ref, r.remoteOptions(ctx)...)
		repo = repoPart(source)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", source, err)
	}
	if err := r.checkPlatform(source, img); err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", source, err)
	}
	return &EmbeddedImage{Source: source, Ref: repo + "@" + digest.String(), Image: img}, nil
}

func fromDockerArchive(path string) (v1.Image, string, error) {
	mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return nil, "", err
	}
	if len(mf) != 1 {
		return nil, "", fmt.Errorf("%s holds %d images; save one image per file", path, len(mf))
	}
	if len(mf[0].RepoTags) == 0 {
		return nil, "", fmt.Errorf("%s has no repository name; save it by name (docker save -o FILE repo:tag)", path)
	}
	img, err := tarball.ImageFromPath(path, nil)
	return img, repoPart(mf[0].RepoTags[0]), err
}

func (r *Resolver) fromOCILayout(dir string) (v1.Image, string, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	for _, m := range im.Manifests {
		if r.Platform != nil && (m.Platform == nil || !m.Platform.Satisfies(*r.Platform)) {
			continue
		}
		refName := m.Annotations["org.opencontainers.image.ref.name"]
		if refName == "" {
			return nil, "", fmt.Errorf("%s: the image has no org.opencontainers.image.ref.name annotation to name it by", dir)
		}
		if !strings.Contains(refName, "/") && !strings.Contains(refName, ".") {
			return nil, "", fmt.Errorf("%s: the image is named %q, a tag only; name it by repository (e.g. skopeo copy ... oci:%s:registry/repo:tag)", dir, refName, dir)
		}
		img, err := idx.Image(m.Digest)
		return img, repoPart(refName), err
	}
	return nil, "", fmt.Errorf("%s: no image for the platform", dir)
}

func (r *Resolver) nameOptions(ref string) []name.Option {
	if reg, _, ok := strings.Cut(ref, "/"); ok && slices.Contains(r.Insecure, reg) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (r *Resolver) remoteOptions(ctx context.Context) []remote.Option {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(r.transport())}
	if r.Platform != nil {
		opts = append(opts, remote.WithPlatform(*r.Platform))
	}
	return opts
}

// Base is an image a device is known to have, by ID and layers: what a
// delta may leave out.
type Base struct {
	ID     string
	Layers []string // diff IDs, bottom first
}

// BasesFromArtifact reads the embedded images of an earlier artifact from
// its header alone.
func BasesFromArtifact(path string) ([]Base, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := artifact.Read(f, nil)
	if err != nil {
		return nil, err
	}
	// Only the embedded images matter here: placeholders that the devices
	// fill in (and so have no value on the workstation) must not stop an
	// artifact from being a delta base.
	doc, err := spec.Decode(info.MetaData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Base
	for _, e := range doc.Embedded {
		if len(e.Layers) > 0 {
			out = append(out, Base{ID: e.ID, Layers: e.Layers})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s embeds no image to make a delta from", path)
	}
	return out, nil
}

// BaseOf describes an image as a delta base.
func BaseOf(img v1.Image) (Base, error) {
	id, err := img.ConfigName()
	if err != nil {
		return Base{}, err
	}
	layers, err := diffIDs(img)
	return Base{ID: id.String(), Layers: layers}, err
}

func diffIDs(img v1.Image) ([]string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out, nil
}

// Progress hears how the writing of embedded images goes: a command line
// shows it.
type Progress interface {
	// Bytes: done of the total bytes of ref's layers (as served,
	// compressed) are read; done is total when ref is written.
	Bytes(ref string, done, total int64)
	// Detail is one step worth a line in verbose output: a layer read or
	// left out.
	Detail(msg string)
	// Delta, when there are delta bases, tells for each image how many of
	// its layers were left out because a base has them, and their size
	// (compressed, as served): omitted 0 is worth a warning.
	Delta(ref string, omitted, layers int, saved int64)
}

// Embed writes each image as a docker-archive into dir, leaving out the
// layers a base in bases already has (the longest common bottom run of
// layers with any base: the engine finds layers by their whole chain), and
// returns the meta-data entries and the payload files. Layers are written
// gzipped as served when gzipped is set (a preload directory), else
// uncompressed for the artifact's own compression.
func Embed(ctx context.Context, images []*EmbeddedImage, bases []Base, dir string, gzipped bool, progress Progress) (map[string]spec.Embedded, []artifact.PayloadFile, error) {
	entries := map[string]spec.Embedded{}
	var files []artifact.PayloadFile
	for _, ei := range images {
		id, err := ei.Image.ConfigName()
		if err != nil {
			return nil, nil, err
		}
		layers, err := diffIDs(ei.Image)
		if err != nil {
			return nil, nil, err
		}
		e := spec.Embedded{ID: id.String(), Layers: layers}
		var best Base
		n := 0
		for _, b := range bases {
			k := commonPrefix(layers, b.Layers)
			if k > n {
				n, best = k, b
			}
		}
		omit := map[v1.Hash]bool{}
		if n > 0 {
			e.Base, e.OmittedLayers = best.ID, layers[:n]
			for _, l := range layers[:n] {
				h, _ := v1.NewHash(l)
				omit[h] = true
			}
		}
		repo := ei.Ref[:strings.LastIndex(ei.Ref, "@")]
		e.File = fmt.Sprintf("%s-%s.tar", filepath.Base(repo), id.Hex[:12])
		if _, dup := entries[ei.Ref]; dup {
			continue
		}
		if len(bases) > 0 && progress != nil {
			saved, err := layerBytes(ei.Image, omit)
			if err != nil {
				return nil, nil, fmt.Errorf("embedding %s: %w", ei.Source, err)
			}
			progress.Delta(ei.Ref, n, len(layers), saved)
		}
		pf, err := writeArchiveFile(ctx, filepath.Join(dir, e.File), ei, omit, gzipped, progress)
		if err != nil {
			return nil, nil, fmt.Errorf("embedding %s: %w", ei.Source, err)
		}
		entries[ei.Ref] = e
		files = append(files, pf)
	}
	return entries, files, nil
}

// layerBytes is the size (as served) of img's layers in which.
func layerBytes(img v1.Image, which map[v1.Hash]bool) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			return 0, err
		}
		if which[d] {
			s, err := l.Size()
			if err != nil {
				return 0, err
			}
			n += s
		}
	}
	return n, nil
}

func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func writeArchiveFile(ctx context.Context, path string, ei *EmbeddedImage, omit map[v1.Hash]bool, gzipped bool, progress Progress) (artifact.PayloadFile, error) {
	var total int64
	layers, err := ei.Image.Layers()
	if err != nil {
		return artifact.PayloadFile{}, err
	}
	for _, l := range layers {
		d, _ := l.DiffID()
		if !omit[d] {
			s, _ := l.Size()
			total += s
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return artifact.PayloadFile{}, err
	}
	defer f.Close()
	cw := artifact.NewHashingWriter(ctx, f)
	repo := ei.Ref[:strings.LastIndex(ei.Ref, "@")]
	// Tagged by manifest digest so that the loaded image has a name (an
	// untagged image could be pruned between Download and Install).
	tag := repo + ":mender-" + strings.TrimPrefix(ei.Ref[len(repo)+1:], "sha256:")[:12]
	opt := ArchiveOptions{Tags: []string{tag}, Omit: omit, Gzipped: gzipped}
	if progress != nil {
		progress.Bytes(ei.Ref, 0, total)
		opt.Progress = func(read int64) { progress.Bytes(ei.Ref, read, total) }
		opt.Detail = func(msg string) { progress.Detail(ei.Ref + ": " + msg) }
	}
	if err := WriteDockerArchive(cw, ei.Image, opt); err != nil {
		return artifact.PayloadFile{}, err
	}
	if progress != nil {
		progress.Bytes(ei.Ref, total, total)
	}
	if err := f.Close(); err != nil {
		return artifact.PayloadFile{}, err
	}
	return cw.PayloadFile(path), nil
}
