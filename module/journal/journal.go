// Package journal keeps the update module's memory across processes and
// power cuts: one small JSON file per app, replaced atomically (write to a
// temporary file, fsync, rename, fsync the directory), so that a reader
// always sees either the old or the new content. The Mender client wipes its
// own FILES_DIR between deployments, so everything that rollback needs after
// a crash lives here instead.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Store reads and writes the files of one state directory.
type Store struct {
	Dir string
}

// ErrNone: there is no such file (a normal state, not a failure).
var ErrNone = errors.New("no journal")

func (s Store) path(app, name string) string {
	return filepath.Join(s.Dir, app, name+".json")
}

// Load decodes the file name of app into v. ErrNone when it does not exist.
func (s Store) Load(app, name string, v any) error {
	data, err := os.ReadFile(s.path(app, name))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNone
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading %s: %w", s.path(app, name), err)
	}
	return nil
}

// Save replaces the file name of app with v, atomically and durably.
func (s Store) Save(app, name string, v any) error {
	dir := filepath.Join(s.Dir, app)
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
	if err := os.Rename(tmp.Name(), s.path(app, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// Remove deletes the file name of app; a missing file is not an error.
func (s Store) Remove(app, name string) error {
	err := os.Remove(s.path(app, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDir(filepath.Join(s.Dir, app))
}

// Apps lists the apps that have a file called name, sorted.
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
		if _, err := os.Stat(s.path(e.Name(), name)); e.IsDir() && err == nil {
			apps = append(apps, e.Name())
		}
	}
	sort.Strings(apps)
	return apps, nil
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
