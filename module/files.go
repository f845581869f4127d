package module

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/imagearchive"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The files archive: a tar in the payload holding the files the services
// mount (configuration files, secrets), unpacked once per content into
// STATE_DIR/APP/files/<digest hex>/ and bind-mounted read-only from there.
// A directory named after its digest never changes once in place, so two
// deployments shipping the same files share it, and the installed set's
// directory is never touched by a deployment that did not stick.

// filesSubdir is the app's directory of unpacked files archives.
const filesSubdir = "files"

// maxFilesEntries bounds the files and directories of an archive: each
// costs an inode whatever its size.
const maxFilesEntries = 10000

// fileStore owns the unpacked files archives of the apps in the state
// directory.
type fileStore struct {
	cfg config.Config
	log logger
}

func (u *Updater) files() fileStore { return fileStore{cfg: u.Config, log: u.logger()} }

// dir is where the files archive with digest is unpacked for app.
func (files fileStore) dir(app, digest string) string {
	return filepath.Join(files.cfg.StateDir, app, filesSubdir, strings.TrimPrefix(digest, "sha256:"))
}

// binds are the read-only bind mounts of s's files, from the app's
// unpacked archive: added to the container's configuration after the
// policy check, since the module chose the host path, not the artifact.
func (files fileStore) binds(m *spec.Meta, s spec.Service) []string {
	if m.Files == nil {
		return nil
	}
	dir := files.dir(m.App, m.Files.Digest)
	var out []string
	for _, f := range s.Files {
		out = append(out, filepath.Join(dir, filepath.FromSlash(f.Source))+":"+f.Target+":ro")
	}
	if r, ok := m.Rendered[s.Name]; ok && len(s.Templates) > 0 {
		rdir := filepath.Join(files.cfg.StateDir, m.App, renderedSubdir, r)
		for _, t := range s.Templates {
			out = append(out, filepath.Join(rdir, filepath.FromSlash(strings.TrimPrefix(t.Target, "/")))+":"+t.Target+":ro")
		}
	}
	return out
}

// unpack unpacks the files archive read from r into the app's files
// directory for its digest, checking the digest of what it read: into a
// temporary directory first, renamed into place once complete and
// verified, so that the directory exists only whole. A directory already
// in place is not taken on trust: it is kept only when its tree (walked
// without following any link) is the one just unpacked, and replaced
// otherwise. The unpack is bounded by max_unpack_mb and by the free space
// of the state directory's filesystem above min_free_mb.
func (files fileStore) unpack(r io.Reader, m *spec.Meta) error {
	hexDigest := strings.TrimPrefix(m.Files.Digest, "sha256:")
	root, err := files.root(m.App, true)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, hexDigest)
	b, err := files.bounds(root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(root, ".unpacking-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := extractDigest(r, tmp, b, m.Files); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		fresh, err := files.tree(m.App, filepath.Base(tmp))
		if err != nil {
			return err
		}
		if have, err := files.tree(m.App, hexDigest); err == nil && have.digest == fresh.digest {
			files.log.logf("app %s: files %s are unpacked already (verified)", m.App, m.Files.Digest)
			return nil
		}
		files.log.logf("app %s: files %s in %s are not what the archive holds; replacing them", m.App, m.Files.Digest, dir)
		stale, err := os.MkdirTemp(root, ".stale-")
		if err != nil {
			return err
		}
		// Renamed, not followed: a link in its place is moved as a link.
		if err := os.Rename(dir, filepath.Join(stale, "old")); err != nil {
			return err
		}
		defer os.RemoveAll(stale)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := journal.SyncPath(root); err != nil {
		return err
	}
	files.log.logf("app %s: files %s unpacked in %s", m.App, m.Files.Archive, dir)
	return nil
}

// extractDigest extracts the files archive read from r into dir, within
// b, and checks that what it read has the digest the meta-data gives.
func extractDigest(r io.Reader, dir string, b unpackBounds, f *spec.Files) error {
	h := sha256.New()
	tr := io.TeeReader(r, h)
	if err := extractBounded(tr, dir, b); err != nil {
		return fmt.Errorf("files archive %s: %w", f.Archive, err)
	}
	// The tar's end-of-archive blocks and padding count in the digest.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("files archive %s: %w", f.Archive, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != f.Digest {
		return fmt.Errorf("%w: files archive %s has digest %s, the meta-data says %s (files.digest)", ErrArchive, f.Archive, got, f.Digest)
	}
	return nil
}

// root is STATE_DIR/APP/files, made (0700) when create is set.
// Neither it nor APP may be a symbolic link: what the module unpacks and
// removes there, and the paths it gives the engine, stay in the state
// directory.
func (files fileStore) root(app string, create bool) (string, error) {
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("app %q: not a valid app name", app)
	}
	dir := files.cfg.StateDir
	for _, name := range []string{app, filesSubdir} {
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

// bounds are the bounds of one files archive: max_unpack_mb of
// content, and the free space of the state directory's filesystem (dir's)
// above min_free_mb, which a Download without room fails on before it
// writes anything.
func (files fileStore) bounds(dir string) (unpackBounds, error) {
	limit := files.cfg.MaxUnpackMB
	if limit <= 0 {
		limit = config.Default().MaxUnpackMB
	}
	b := unpackBounds{content: limit << 20}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return b, fmt.Errorf("free space of the state directory: %w", err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	room := free - files.cfg.MinFreeMB<<20
	if room <= 0 {
		return b, fmt.Errorf("%w: %d MB free in %s (state_dir), need at least %d MB (min_free_mb) to unpack the files archive", ErrDiskSpace, free>>20, files.cfg.StateDir, files.cfg.MinFreeMB)
	}
	b.disk = room
	return b, nil
}

// checkDisk fails a Download whose files archive cannot fit: the
// state directory's filesystem must have min_free_mb free.
func (files fileStore) checkDisk(m *spec.Meta) error {
	if m.Files == nil {
		return nil
	}
	_, err := files.bounds(files.cfg.StateDir)
	return err
}

// check: after the payload was read, the files archive it lists must
// have been in it, holding every file a service mounts (the engine would
// otherwise make an empty directory of a missing source).
func (files fileStore) check(m *spec.Meta) error {
	if m.Files == nil {
		return nil
	}
	tree, err := files.tree(m.App, strings.TrimPrefix(m.Files.Digest, "sha256:"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("files archive %s (files.archive): %w", m.Files.Archive, ErrPayload)
	}
	if err != nil {
		return err
	}
	for _, s := range m.Services {
		for _, f := range s.Files {
			if _, ok := tree.entries[f.Source]; !ok {
				return fmt.Errorf("%w: services.%s.files[%q]: %q is not in the files archive %s", ErrPayload, s.Name, f.Target, f.Source, m.Files.Archive)
			}
		}
		for _, f := range s.Templates {
			if dir, ok := tree.entries[f.Source]; !ok || dir {
				return fmt.Errorf("%w: services.%s.templates[%q]: %q is not a file of the files archive %s", ErrPayload, s.Name, f.Target, f.Source, m.Files.Archive)
			}
		}
	}
	return nil
}

// verifyBinds checks, right before s's container is created, that
// the files it mounts are in place with no symbolic link on their path
// from the state directory down, and nothing but files and directories
// in the archive's tree: the engine follows links in a bind's source.
func (files fileStore) verifyBinds(m *spec.Meta, s spec.Service) error {
	if err := verifyRendered(files.cfg.StateDir, m, s); err != nil {
		return err
	}
	if m.Files == nil || len(s.Files) == 0 {
		return nil
	}
	tree, err := files.tree(m.App, strings.TrimPrefix(m.Files.Digest, "sha256:"))
	if err != nil {
		return fmt.Errorf("service %s: files %s: %w", s.Name, m.Files.Digest, err)
	}
	for _, f := range s.Files {
		if _, ok := tree.entries[f.Source]; !ok {
			return fmt.Errorf("service %s: %w: %q is not in the unpacked files %s", s.Name, ErrPayload, f.Source, m.Files.Digest)
		}
	}
	return nil
}

// tree is an unpacked files archive as walked: a digest over every
// entry's name, type, permissions and content, and its entries
// (slash-separated relative paths; "." is the top).
type tree struct {
	digest  string
	entries map[string]bool // true for a directory
}

// tree walks STATE_DIR/APP/files/NAME without following any
// symbolic link: each component from the state directory down is opened
// with O_NOFOLLOW relative to its parent, and an entry that is neither a
// regular file nor a directory is ErrUnsafePath.
func (files fileStore) tree(app, name string) (tree, error) {
	t := tree{entries: map[string]bool{}}
	fd, err := syscall.Open(files.cfg.StateDir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return t, &os.PathError{Op: "open", Path: files.cfg.StateDir, Err: err}
	}
	path := files.cfg.StateDir
	for _, c := range []string{app, filesSubdir, name} {
		path = filepath.Join(path, c)
		next, err := openDirNoFollow(fd, c, path)
		syscall.Close(fd)
		if err != nil {
			return t, err
		}
		fd = next
	}
	h := sha256.New()
	d := os.NewFile(uintptr(fd), path)
	defer d.Close()
	if err := walkNoFollow(d, path, ".", h, t.entries); err != nil {
		return t, err
	}
	t.digest = hex.EncodeToString(h.Sum(nil))
	return t, nil
}

// openDirNoFollow opens the directory name in dirfd, refusing a link.
func openDirNoFollow(dirfd int, name, path string) (int, error) {
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR):
		return -1, fmt.Errorf("%w: %s is not a directory (a symbolic link?)", ErrUnsafePath, path)
	case err != nil:
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// walkNoFollow hashes the directory d (at rel) and what it holds into h,
// in name order, recording each entry.
func walkNoFollow(d *os.File, path, rel string, h io.Writer, entries map[string]bool) error {
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	entries[rel] = true
	fmt.Fprintf(h, "d %q %o\n", rel, fi.Mode().Perm())
	list, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range list {
		if len(entries) > maxFilesEntries {
			return fmt.Errorf("%w: %s holds more than %d entries", ErrUnsafePath, path, maxFilesEntries)
		}
		name := e.Name()
		child, childRel := filepath.Join(path, name), pathpkg.Join(rel, name)
		switch e.Type() {
		case fs.ModeDir:
			fd, err := openDirNoFollow(int(d.Fd()), name, child)
			if err != nil {
				return err
			}
			sub := os.NewFile(uintptr(fd), child)
			err = walkNoFollow(sub, child, childRel, h, entries)
			sub.Close()
			if err != nil {
				return err
			}
		case 0:
			if err := hashFileNoFollow(int(d.Fd()), name, child, childRel, h); err != nil {
				return err
			}
			entries[childRel] = false
		default:
			return fmt.Errorf("%w: %s is a %s, not a file or directory", ErrUnsafePath, child, e.Type())
		}
	}
	return nil
}

// hashFileNoFollow hashes the regular file name in dirfd into h.
func hashFileNoFollow(dirfd int, name, path, rel string, h io.Writer) error {
	// O_NONBLOCK: what turns out not to be a regular file is not waited on.
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%w: %s is a symbolic link", ErrUnsafePath, path)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrUnsafePath, path)
	}
	c := sha256.New()
	if _, err := io.Copy(c, f); err != nil {
		return err
	}
	fmt.Fprintf(h, "f %q %o %d %x\n", rel, fi.Mode().Perm(), fi.Size(), c.Sum(nil))
	return nil
}

// remove removes the app's unpacked files archives but the one with
// digest keep ("" keeps none), and any half-unpacked one. A link where
// the app's files directory should be is removed as a link, never
// followed.
func (files fileStore) remove(app, keep string) error {
	root, err := files.root(app, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, ErrUnsafePath) {
		files.log.logf("app %s: %v; removing it", app, err)
		for _, p := range []string{filepath.Join(files.cfg.StateDir, app, filesSubdir), filepath.Join(files.cfg.StateDir, app)} {
			if fi, lerr := os.Lstat(p); lerr == nil && !fi.IsDir() {
				return os.Remove(p)
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if keep != "" && e.Name() == strings.TrimPrefix(keep, "sha256:") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return err
		}
		files.log.logf("app %s: removed files %s", app, e.Name())
	}
	if keep == "" {
		return os.Remove(root)
	}
	return nil
}

// extractTree unpacks a tar into dir: regular files and directories only
// (no links, devices or FIFOs), nothing outside dir, no sparse files
// (archive/tar would expand them), and at most limit bytes of content in
// all. It checks each entry before writing it, so a refused archive has
// written at most limit bytes, which the caller removes with dir.
func extractTree(r io.Reader, dir string, limit int64) error {
	return extractBounded(r, dir, unpackBounds{content: limit})
}

// bounds bound an unpack: content is the most bytes of file
// content (max_unpack_mb); disk, when set, the most bytes it may take on
// its filesystem, each entry counted at least one block.
type unpackBounds struct {
	content, disk int64
}

// unpackBlock is what an entry costs on disk at least (an inode and a
// block), whatever its size.
const unpackBlock = 4096

func extractBounded(r io.Reader, dir string, b unpackBounds) error {
	limit := b.content
	tr := tar.NewReader(r)
	var total, disk int64
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if entries > maxFilesEntries {
			return fmt.Errorf("%w: more than %d files", ErrArchive, maxFilesEntries)
		}
		name, err := imagearchive.EntryName(h)
		if err != nil {
			return err
		}
		if total += h.Size; h.Size < 0 || total > limit {
			return fmt.Errorf("%w: %q: the archive unpacks to more than %d MB (max_unpack_mb)", ErrArchive, h.Name, limit>>20)
		}
		if disk += (h.Size + unpackBlock - 1) / unpackBlock * unpackBlock; h.Size == 0 {
			disk += unpackBlock
		}
		if b.disk > 0 && disk > b.disk {
			return fmt.Errorf("%w: %q: the archive needs more than the %d MB free in the state directory's filesystem (above min_free_mb)", ErrDiskSpace, h.Name, b.disk>>20)
		}
		if name == "." {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			// O_EXCL|O_NOFOLLOW: a second entry of the same name cannot
			// write through anything the first one left.
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_EXCL|syscall.O_NOFOLLOW, os.FileMode(h.Mode)&0o755|0o644)
			if err != nil {
				return fmt.Errorf("%w: %q: %v", ErrArchive, h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %q is neither a file nor a directory", ErrArchive, h.Name)
		}
	}
}
