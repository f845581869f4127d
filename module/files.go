package module

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/config"
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

// filesDir is where the files archive with digest is unpacked for app.
func (u *Updater) filesDir(app, digest string) string {
	return filepath.Join(u.Config.StateDir, app, filesSubdir, strings.TrimPrefix(digest, "sha256:"))
}

// fileBinds are the read-only bind mounts of s's files, from the app's
// unpacked archive: added to the container's configuration after the
// policy check, since the module chose the host path, not the artifact.
func (u *Updater) fileBinds(m *spec.Meta, s spec.Service) []string {
	if m.Files == nil {
		return nil
	}
	dir := u.filesDir(m.App, m.Files.Digest)
	var out []string
	for _, f := range s.Files {
		out = append(out, filepath.Join(dir, filepath.FromSlash(f.Source))+":"+f.Target+":ro")
	}
	return out
}

// unpackFiles unpacks the files archive read from r into the app's files
// directory for its digest, checking the digest of what it read: into a
// temporary directory first, renamed into place once complete and
// verified, so that the directory exists only whole. One already in place
// is kept (r is read to the end all the same, by the caller).
func (u *Updater) unpackFiles(r io.Reader, m *spec.Meta) error {
	dir := u.filesDir(m.App, m.Files.Digest)
	if _, err := os.Stat(dir); err == nil {
		u.logf("app %s: files %s are unpacked already", m.App, m.Files.Digest)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".unpacking-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	limit := u.Config.MaxUnpackMB
	if limit <= 0 {
		limit = config.Default().MaxUnpackMB
	}
	h := sha256.New()
	tr := io.TeeReader(r, h)
	if err := extractTree(tr, tmp, limit<<20); err != nil {
		return fmt.Errorf("files archive %s: %w", m.Files.Archive, err)
	}
	// The tar's end-of-archive blocks and padding count in the digest.
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("files archive %s: %w", m.Files.Archive, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != m.Files.Digest {
		return fmt.Errorf("%w: files archive %s has digest %s, the meta-data says %s (files.digest)", ErrArchive, m.Files.Archive, got, m.Files.Digest)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := syncPath(filepath.Dir(dir)); err != nil {
		return err
	}
	u.logf("app %s: files %s unpacked in %s", m.App, m.Files.Archive, dir)
	return nil
}

// checkFiles: after the payload was read, the files archive it lists must
// have been in it, holding every file a service mounts (the engine would
// otherwise make an empty directory of a missing source).
func (u *Updater) checkFiles(m *spec.Meta) error {
	if m.Files == nil {
		return nil
	}
	dir := u.filesDir(m.App, m.Files.Digest)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("files archive %s (files.archive): %w", m.Files.Archive, ErrPayload)
	}
	for _, s := range m.Services {
		for _, f := range s.Files {
			fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.Source)))
			if err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
				return fmt.Errorf("%w: services.%s.files[%q]: %q is not in the files archive %s", ErrPayload, s.Name, f.Target, f.Source, m.Files.Archive)
			}
		}
	}
	return nil
}

// removeFiles removes the app's unpacked files archives but the one with
// digest keep ("" keeps none), and any half-unpacked one.
func (u *Updater) removeFiles(app, keep string) error {
	root := filepath.Join(u.Config.StateDir, app, filesSubdir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
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
		u.logf("app %s: removed files %s", app, e.Name())
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
	tr := tar.NewReader(r)
	var total int64
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
		name, err := entryName(h)
		if err != nil {
			return err
		}
		if total += h.Size; h.Size < 0 || total > limit {
			return fmt.Errorf("%w: %q: the archive unpacks to more than %d MB (max_unpack_mb)", ErrArchive, h.Name, limit>>20)
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
