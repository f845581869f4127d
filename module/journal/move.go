package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// movedMarker, inside a moved state directory, names the directory it was
// copied from until that one is deleted: a run that finds it finishes the
// move instead of starting over.
const movedMarker = ".moved-from"

// Move moves the state directory from its old default, from
// (/var/lib/mender-docker, on the root filesystem that an A/B update
// replaces), to to (/data/mender-docker), once. It does nothing when from
// does not exist, is a symbolic link, or is to.
//
// A power cut at any point loses nothing: from is copied to a temporary
// directory beside to, every file and directory is synced, the copy
// (holding a marker) is renamed to to, and only then is from deleted and
// the marker removed. A later run that finds a partial copy starts it
// again; one that finds the marker finishes the deletion. An empty to is
// replaced. When both directories hold state and to has no marker, to is
// used and from is left alone, with a warning. Journal paths under from are rewritten to
// point under to, since later states refuse paths outside the state
// directory. Two processes never move at once: the move holds a flock on
// from, waiting up to wait.
func Move(ctx context.Context, from, to string, wait time.Duration, logw io.Writer) error {
	from, to = filepath.Clean(from), filepath.Clean(to)
	if from == to {
		return nil
	}
	fi, err := os.Lstat(from)
	if errors.Is(err, os.ErrNotExist) {
		return dropMarker(to)
	}
	if err != nil {
		return fmt.Errorf("moving the state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil // a link to the new place (or anything else) is the device builder's choice
	}
	if ti, err := os.Stat(to); err == nil && os.SameFile(fi, ti) {
		return nil
	}
	unlock, err := lockDir(ctx, from, wait)
	if errors.Is(err, os.ErrNotExist) {
		return dropMarker(to) // another process finished the move
	}
	if err != nil {
		return fmt.Errorf("moving the state directory %s: %w", from, err)
	}
	defer unlock()
	return moveLocked(from, to, logw)
}

// moveLocked is Move once it holds the lock on from.
func moveLocked(from, to string, logw io.Writer) error {
	if _, err := os.Lstat(from); errors.Is(err, os.ErrNotExist) {
		return dropMarker(to)
	}
	if _, err := os.Lstat(to); err == nil {
		if _, err := os.Lstat(filepath.Join(to, movedMarker)); err == nil {
			return finishMove(from, to)
		}
		if !holdsState(from) {
			return nil
		}
		if holdsState(to) {
			fmt.Fprintf(logw, "state directory: both %s and %s hold state; using %s (state_dir) and leaving %s alone\n", to, from, to, from)
			return nil
		}
		// An empty directory (made by an image build, say) holds nothing
		// to lose: the old state takes its place.
		os.Remove(filepath.Join(to, lockFile))
		if err := os.Remove(to); err != nil {
			return fmt.Errorf("moving the state directory to %s: %w", to, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("moving the state directory to %s: %w", to, err)
	}
	if err := copyInto(from, to); err != nil {
		return fmt.Errorf("moving the state directory: %w", err)
	}
	fmt.Fprintf(logw, "state directory: moved %s to %s (state_dir), which survives root filesystem updates\n", from, to)
	return finishMove(from, to)
}

// copyInto copies from to a temporary directory beside to, with the
// marker naming from, and renames it to to once all of it is synced.
func copyInto(from, to string) error {
	tmp := to + ".moving"
	if err := os.RemoveAll(tmp); err != nil { // a copy a power cut interrupted
		return fmt.Errorf("removing the partial copy %s: %w", tmp, err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := copyTree(from, tmp, from, to); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, tmp, err)
	}
	if err := writeSynced(filepath.Join(tmp, movedMarker), []byte(from+"\n"), 0o600); err != nil {
		return err
	}
	if err := SyncPath(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		return err
	}
	return SyncPath(filepath.Dir(to))
}

// finishMove deletes the old directory once its copy is in place, then
// the marker that said it was a copy.
func finishMove(from, to string) error {
	if err := os.RemoveAll(from); err != nil {
		return fmt.Errorf("moving the state directory: removing %s after copying it to %s: %w", from, to, err)
	}
	if err := SyncPath(filepath.Dir(from)); err != nil {
		return fmt.Errorf("moving the state directory: %w", err)
	}
	return dropMarker(to)
}

// dropMarker removes the marker of a move whose old directory is gone.
func dropMarker(to string) error {
	err := os.Remove(filepath.Join(to, movedMarker))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("moving the state directory: %w", err)
	}
	return SyncPath(to)
}

// holdsState reports whether dir has anything but the lock file.
func holdsState(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != lockFile {
			return true
		}
	}
	return false
}

// lockDir takes a flock on the directory itself, so that it works on an
// old state directory without a lock file and creates nothing in it.
func lockDir(ctx context.Context, dir string, wait time.Duration) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	err = WaitFlock(ctx, f, wait, nil)
	switch {
	case err == nil:
		return func() { f.Close() }, nil
	case err == ctx.Err():
		f.Close()
		return nil, err
	case errors.Is(err, ErrBusy):
		err = syscall.EWOULDBLOCK // the kernel's answer, as the message always gave it
	}
	f.Close()
	return nil, fmt.Errorf("locking %s (lock_timeout %s): %w", dir, wait, err)
}

// copyTree copies the directory src to dst (which must not exist),
// syncing every file and directory. Journal files (APP/*.json) have their
// paths under oldRoot rewritten under newRoot.
func copyTree(src, dst, oldRoot, newRoot string) error {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
			return nil // synced once its entries exist
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if isJournal(rel) {
				data = rebaseJournal(data, oldRoot, newRoot)
			}
			return writeSynced(target, data, info.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a file, directory or symbolic link", path)
		}
	})
	if err != nil {
		return err
	}
	// Every directory's entries made durable before the copy is renamed.
	return filepath.WalkDir(dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return SyncPath(path)
	})
}

// isJournal: the journal files are STATE/APP/NAME.json.
func isJournal(rel string) bool {
	dir, file := filepath.Split(rel)
	return strings.HasSuffix(file, ".json") && dir != "" && !strings.Contains(strings.TrimSuffix(dir, "/"), "/")
}

// rebaseJournal rewrites the journal's top-level string values that name a
// path under oldRoot (earlier releases journalled Compose project
// directories) to the same path under newRoot. Anything that is not such a
// JSON object is copied as is: the module's own checks judge it later.
func rebaseJournal(data []byte, oldRoot, newRoot string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	changed := false
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) != nil || !strings.HasPrefix(s, oldRoot+"/") {
			continue
		}
		nv, err := json.Marshal(newRoot + strings.TrimPrefix(s, oldRoot))
		if err != nil {
			continue
		}
		m[k], changed = nv, true
	}
	if !changed {
		return data
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return data
	}
	return append(out, '\n')
}

// writeSynced writes a new file and syncs it.
func writeSynced(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncPath fsyncs a directory (or file), making renames and new entries
// in it durable. Unlike the journal's own writes, a missing path is an
// error.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}
