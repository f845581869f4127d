// Package journal keeps the update module's memory across processes and
// power cuts: one small JSON file per app, replaced atomically (write to a
// temporary file, fsync, rename, fsync the directory), so that a reader
// always sees either the old or the new content. The Mender client wipes its
// own FILES_DIR between deployments, so everything that rollback needs after
// a crash lives here instead.
//
// The package owns the state directory as a whole, as go-containerregistry's
// pkg/v1/layout owns an image layout: its files (Store), the lock that
// keeps two module processes apart (Store.Lock), and the one migration it
// has had, from the old default on the root filesystem to the data
// partition (Move).
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Store reads and writes the files of one state directory.
type Store struct {
	Dir string
}

// path is the file name of app. Every method goes through it, so an app
// name that would lead out of the state directory ("../x") is refused
// whichever state reads it.
func (s Store) path(app, name string) (string, error) {
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("journal: app %q: %w", app, ErrBadApp)
	}
	dir := filepath.Join(s.Dir, app)
	if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
		return "", fmt.Errorf("journal: %s: %w: not a directory (%s)", dir, ErrUnsafe, fi.Mode().Type())
	}
	return filepath.Join(dir, name+".json"), nil
}

// checkDir refuses a state directory that others than its owner can
// write, or that another user owns: whoever can write there can rewrite
// what the module does next.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state directory %s: %w: writable by group or others (mode %04o); make it 0700", dir, ErrUnsafe, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("state directory %s: %w: owned by uid %d, not by the module's (%d)", dir, ErrUnsafe, st.Uid, os.Geteuid())
	}
	return nil
}

// Load decodes the file name of app into v. ErrNone when it does not
// exist; ErrCorrupt, naming the file, when it cannot be decoded.
func (s Store) Load(app, name string, v any) error {
	path, err := s.path(app, name)
	if err != nil {
		return err
	}
	data, err := readNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNone
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("journal %s is %w (%v): the module cannot tell what it recorded; "+
			"check the app's containers (label io.mender.docker.app=%s) and images by hand, then delete the file to start over", path, ErrCorrupt, err, app)
	}
	return nil
}

// Save replaces the file name of app with v, atomically and durably.
func (s Store) Save(app, name string, v any) error {
	path, err := s.path(app, name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// Remove deletes the file name of app; a missing file is not an error.
func (s Store) Remove(app, name string) error {
	path, err := s.path(app, name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Apps lists the apps that have a file called name, sorted. Directories
// whose names are not app names are not apps.
func (s Store) Apps(name string) ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var apps []string
	for _, e := range entries {
		path, err := s.path(e.Name(), name)
		if err != nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			apps = append(apps, e.Name())
		}
	}
	sort.Strings(apps)
	return apps, nil
}

// readNoFollow reads a journal file, refusing a symbolic link in its
// place (the module writes files, never links).
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("journal %s: %w: a symbolic link", path, ErrUnsafe)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
