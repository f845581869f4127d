package module

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/attributes"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/render"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Rendered templates: each service's templates, rendered on the device
// with the app's attributes, live in STATE_DIR/APP/rendered/<digest>/,
// one directory per service named after the digest of what it holds, and
// are bind-mounted read-only from there like the files archive. A service
// whose rendering changes gets another directory, so another bind and
// another configuration hash: only it is replaced. The installed set's
// directories stay until a commit leaves them unused, so a rollback finds
// the old rendering in place.

const renderedSubdir = "rendered"

// maxTemplateBytes bounds one template read from the files archive.
const maxTemplateBytes = 1 << 20

// renderStore owns the rendered templates of the apps in the state
// directory.
type renderStore struct {
	cfg     config.Config
	files   fileStore
	secrets *redactor
	log     logger
}

func (u *Updater) rendered() renderStore {
	return renderStore{cfg: u.Config, files: u.files(), secrets: &u.secrets, log: u.logger()}
}

// attributes loads m's attributes on this device; their secrets are
// hidden from the run's log and errors from then on.
func (r renderStore) attributes(m *spec.Meta) (*attributes.Set, error) {
	set, err := attributes.Load(attributes.SourcesFor(r.cfg, m.App), attributes.Artifact{Values: m.Attributes, Secret: m.SecretAttributes})
	if err != nil {
		return nil, fmt.Errorf("reading the attributes of app %s: %w", m.App, err)
	}
	r.secrets.rememberValues(set.Secrets())
	return set, nil
}

// render renders every service's templates of m from its unpacked files
// archive, writes each service's rendering in place, and returns the
// digests by service (nil when m has no templates).
func (r renderStore) render(m *spec.Meta) (map[string]string, error) {
	if !slices.ContainsFunc(m.Services, func(s spec.Service) bool { return len(s.Templates) > 0 }) {
		return nil, nil
	}
	set, err := r.attributes(m)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range m.Services {
		if len(s.Templates) == 0 {
			continue
		}
		files, err := renderService(r.files.dir(m.App, m.Files.Digest), s, set)
		if err != nil {
			return nil, r.secrets.hideError(err)
		}
		digest, err := r.write(m.App, files)
		if err != nil {
			return nil, err
		}
		out[s.Name] = digest
		r.log.logf("app %s: service %s: %d template(s) rendered (%s)", m.App, s.Name, len(files), digest[:12])
	}
	return out, nil
}

// renderedFile is one rendered template: its container path, content and
// whether it holds a secret.
type renderedFile struct {
	target string
	data   []byte
	secret bool
}

// renderService renders s's templates, read from src (an unpacked files
// archive), with set.
func renderService(src string, s spec.Service, set *attributes.Set) ([]renderedFile, error) {
	var out []renderedFile
	for _, t := range s.Templates {
		text, err := readNoFollow(filepath.Join(src, filepath.FromSlash(t.Source)), maxTemplateBytes)
		if err != nil {
			return nil, fmt.Errorf("service %s: template %s: %w", s.Name, t.Source, err)
		}
		tmpl, err := render.Parse(t.Source, text)
		if err != nil {
			return nil, fmt.Errorf("service %s: rendering %w", s.Name, err)
		}
		data, secret, err := tmpl.Execute(set.Data(), set.Secrets())
		if err != nil {
			return nil, fmt.Errorf("service %s: rendering %w", s.Name, err)
		}
		out = append(out, renderedFile{target: t.Target, data: data, secret: secret})
	}
	return out, nil
}

// digestOf is the digest of a service's rendering: its targets, modes and
// contents.
func digestOf(files []renderedFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%q %v %d\n", f.target, f.secret, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// write puts a service's rendering in place under its digest: into a
// temporary directory renamed into place, so the directory exists only
// whole; one already there is replaced (its content is the digest's).
func (r renderStore) write(app string, files []renderedFile) (string, error) {
	digest := digestOf(files)
	root, err := r.root(app, true)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, digest)
	if _, err := os.Lstat(dir); err == nil {
		if sameRendering(dir, files) {
			return digest, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return "", err
		}
	}
	tmp, err := os.MkdirTemp(root, ".rendering-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(f.target, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		mode := os.FileMode(0o644)
		if f.secret {
			mode = 0o600
		}
		fd, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
		if err != nil {
			return "", err
		}
		_, err = fd.Write(f.data)
		if cerr := fd.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	return digest, os.Rename(tmp, dir)
}

// root is STATE_DIR/APP/rendered; neither it nor APP may be a link.
func (r renderStore) root(app string, create bool) (string, error) {
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("app %q: not a valid app name", app)
	}
	dir := r.cfg.StateDir
	for _, name := range []string{app, renderedSubdir} {
		dir = filepath.Join(dir, name)
		fi, err := os.Lstat(dir)
		if errors.Is(err, os.ErrNotExist) && create {
			if err := os.Mkdir(dir, 0o700); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: %s is not a directory (%s)", ErrUnsafePath, dir, fi.Mode().Type())
		}
	}
	return dir, nil
}

// remove removes the app's renderings but those of keep, and any half
// written one.
func (r renderStore) remove(app string, keep ...map[string]string) error {
	root, err := r.root(app, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.ContainsFunc(keep, func(k map[string]string) bool { return slices.Contains(slices.Collect(maps.Values(k)), e.Name()) }) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// readNoFollow reads a regular file of at most limit bytes without
// following a link at its end.
func readNoFollow(p string, limit int64) ([]byte, error) {
	fd, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrUnsafePath)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	b := make([]byte, fi.Size())
	_, err = fd.ReadAt(b, 0)
	if err != nil && fi.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// sameRendering tells whether dir holds exactly files (a rendering left by
// an earlier run, which running containers may mount).
func sameRendering(dir string, files []renderedFile) bool {
	for _, f := range files {
		b, err := readNoFollow(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(f.target, "/"))), maxTemplateBytes*4)
		if err != nil || string(b) != string(f.data) {
			return false
		}
	}
	return true
}

// verifyRendered checks, right before s's container is created, that its
// rendered files are in place, regular files under no link: the engine
// would create a missing bind source as an empty directory.
func verifyRendered(stateDir string, m *spec.Meta, s spec.Service) error {
	r, ok := m.Rendered[s.Name]
	if len(s.Templates) == 0 {
		return nil
	}
	if !ok {
		return fmt.Errorf("service %s: %w: its templates were not rendered", s.Name, ErrPayload)
	}
	dir := stateDir
	for _, name := range []string{m.App, renderedSubdir, r} {
		dir = filepath.Join(dir, name)
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("service %s: %w: rendered templates %s missing or not a directory", s.Name, ErrUnsafePath, dir)
		}
	}
	for _, t := range s.Templates {
		if _, err := readNoFollow(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(t.Target, "/"))), maxTemplateBytes*4); err != nil {
			return fmt.Errorf("service %s: rendered %s: %w", s.Name, t.Target, err)
		}
	}
	return nil
}

// configDigest is one digest over an app's rendered templates ("" for
// none): what status and the inventory show per app.
func configDigest(rendered map[string]string) string {
	if len(rendered) == 0 {
		return ""
	}
	h := sha256.New()
	for _, svc := range slices.Sorted(maps.Keys(rendered)) {
		fmt.Fprintf(h, "%s %s\n", svc, rendered[svc])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
