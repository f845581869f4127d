package module

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/mender-docker/mender-docker/module/spec"
)

// ErrNoRendering: render found nothing to show for the app.
var ErrNoRendering = errors.New("nothing to render")

// maxShownArtifactFiles bounds the files archive render unpacks from an
// artifact file.
const maxShownArtifactFiles = 64 << 20

// Render prints what the app's templates give on this device: every
// attribute with the layer and file that gave it, then each service's
// rendered files, secrets masked. It reads the installed meta-data, or,
// with artifact, that artifact file's; it changes nothing.
func (u *Updater) Render(app, artifact string, w io.Writer) error {
	meta, src, cleanup, err := u.renderSource(app, artifact)
	if err != nil {
		return err
	}
	defer cleanup()
	params, err := deviceParams(u.Config, app)
	if err != nil {
		return err
	}
	m, err := parseMeta(meta, params, app, &u.secrets)
	if err != nil {
		return err
	}
	set, err := u.rendered().attributes(m)
	if err != nil {
		return err
	}
	hide := u.secrets.hide
	fmt.Fprintf(w, "attributes of app %s:\n", app)
	for _, o := range set.Origins() {
		v, _, _ := set.Lookup(o.Path)
		shown := "***"
		if !o.Secret {
			shown = hide(attributeText(v))
		}
		fmt.Fprintf(w, "  %s = %s  (%s: %s)\n", o.Path, shown, o.Layer, o.Source)
	}
	for _, s := range m.Services {
		if len(s.Templates) == 0 {
			continue
		}
		files, err := renderService(src, s, set)
		if err != nil {
			return u.secrets.hideError(err)
		}
		for _, f := range files {
			fmt.Fprintf(w, "--- %s:%s\n%s", s.Name, f.target, hide(string(f.data)))
			if !strings.HasSuffix(string(f.data), "\n") {
				fmt.Fprintln(w)
			}
		}
	}
	return nil
}

func attributeText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// renderSource is the meta-data to render and the unpacked files archive
// its templates are read from: the installed set's, or an artifact's
// (unpacked into a temporary directory that cleanup removes).
func (u *Updater) renderSource(app, artifact string) (meta []byte, src string, cleanup func(), err error) {
	cleanup = func() {}
	if artifact == "" {
		in, err := u.journals().installed(app)
		if err != nil {
			return nil, "", cleanup, err
		}
		if len(in.Meta) == 0 {
			return nil, "", cleanup, fmt.Errorf("app %s: %w: not installed, or installed by an earlier release (give --artifact)", app, ErrNoRendering)
		}
		return in.Meta, u.files().dir(app, in.Files), cleanup, nil
	}
	tmp, err := os.MkdirTemp("", "mender-docker-render-")
	if err != nil {
		return nil, "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	meta, err = readArtifactFile(artifact, tmp)
	if err != nil {
		cleanup()
		return nil, "", func() {}, fmt.Errorf("reading %s: %w", artifact, err)
	}
	return meta, tmp, cleanup, nil
}

// readArtifactFile reads a Mender artifact (format 3, gzip or no
// compression): it returns its meta-data and unpacks its files archive
// (payload file files.tar, if any) into dir.
func readArtifactFile(file, dir string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var meta []byte
	outer := tar.NewReader(f)
	for {
		h, err := outer.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(h.Name, "header.tar"):
			if meta, err = innerFile(outer, h.Name, func(n string) bool { return n == "headers/0000/meta-data" }, nil); err != nil {
				return nil, err
			}
		case strings.HasPrefix(h.Name, "data/0000.tar"):
			_, err := innerFile(outer, h.Name, func(n string) bool { return path.Base(n) == "files.tar" }, func(r io.Reader) error {
				return extractTree(r, dir, maxShownArtifactFiles)
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if meta == nil {
		return nil, fmt.Errorf("%w: no headers/0000/meta-data", ErrPayload)
	}
	return meta, nil
}

// innerFile reads the (compressed) tar named name from r: the content of
// the first entry want accepts, or, with each, hands that entry to it.
func innerFile(r io.Reader, name string, want func(string) bool, each func(io.Reader) error) ([]byte, error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	case strings.HasSuffix(name, ".tar"):
	default:
		return nil, fmt.Errorf("%s: only gzip or no compression can be read here", name)
	}
	t := tar.NewReader(r)
	for {
		h, err := t.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !want(h.Name) {
			continue
		}
		if each != nil {
			if err := each(t); err != nil {
				return nil, err
			}
			continue
		}
		return io.ReadAll(io.LimitReader(t, spec.MaxMetaDataBytes+1))
	}
}
