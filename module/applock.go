package module

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module/journal"
)

// appLock waits for the app's update lock (APP_LOCK_DIR/<app>.lock, a
// flock the app holds while it must not be interrupted) and holds it until
// unlock: taken before anything of the app is stopped. No directory means
// no app uses the contract; the file is created if missing, so that the
// app and the module lock the same file whoever comes first.
func (u *Updater) appLock(ctx context.Context, app string) (unlock func(), err error) {
	dir := u.Config.AppLockDir
	if dir == "" {
		return func() {}, nil
	}
	if fi, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	} else if err != nil {
		return nil, fmt.Errorf("app lock directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("app_lock_dir %s: not a directory", dir)
	}
	path := filepath.Join(dir, app+".lock")
	// O_NOFOLLOW: the directory may be shared with containers, which
	// must not point the module at another file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("app %s: opening its update lock: %w", app, err)
	}
	wait := time.Duration(u.Config.AppLockTimeout)
	start := time.Now()
	err = journal.WaitFlock(ctx, f, wait, func() {
		u.logf("app %s: waiting up to %s for the app to release its update lock %s (app_lock_timeout)", app, wait, path)
	})
	if errors.Is(err, journal.ErrBusy) {
		f.Close()
		return nil, fmt.Errorf("app %s: %w %s after %s (app_lock_timeout); nothing was changed", app, ErrAppLocked, path, wait)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("app %s: taking its update lock %s: %w", app, path, err)
	}
	if waited := time.Since(start); waited > time.Second {
		u.logf("app %s: got its update lock after %s", app, waited.Round(time.Millisecond))
	}
	return func() { f.Close() }, nil
}
