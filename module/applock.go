package module

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/spec"
)

// appLockFile is the lock's name in the app's own directory,
// APP_LOCK_DIR/<app>/: the directory an app's containers mount, so that
// none of them can reach another app's lock.
const appLockFile = "lock"

// lockApp waits for the app's update lock (APP_LOCK_DIR/<app>/lock, a
// flock the app holds while it must not be interrupted) and holds it until
// unlock: taken before anything of the app is stopped. No APP_LOCK_DIR
// means no app uses the contract; the app's directory and file are created
// if missing, so that the app and the module lock the same file whoever
// comes first. The lock of earlier releases, APP_LOCK_DIR/<app>.lock in
// the directory all apps shared, is taken too while it exists.
func lockApp(ctx context.Context, cfg config.Config, log logger, app string) (unlock func(), err error) {
	dir := cfg.AppLockDir
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
	deadline := time.Now().Add(time.Duration(cfg.AppLockTimeout))
	f, err := openAppLock(dir, app)
	if err != nil {
		return nil, fmt.Errorf("app %s: opening its update lock: %w", app, err)
	}
	path := filepath.Join(dir, app, appLockFile)
	if err := waitAppLock(ctx, log, time.Duration(cfg.AppLockTimeout), app, f, path, deadline); err != nil {
		return nil, err
	}
	legacy := filepath.Join(dir, app+".lock")
	// O_NOFOLLOW: the shared directory may be mounted by containers,
	// which must not point the module at another file.
	old, err := os.OpenFile(legacy, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() { f.Close() }, nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("app %s: opening its update lock: %w", app, err)
	}
	log.logf("app %s: also taking %s, the update lock of earlier releases (an app now locks %s)", app, legacy, path)
	if err := waitAppLock(ctx, log, time.Duration(cfg.AppLockTimeout), app, old, legacy, deadline); err != nil {
		f.Close()
		return nil, err
	}
	return func() { old.Close(); f.Close() }, nil
}

// openAppLock opens (creating them if missing) DIR/<app>/ and its lock
// file, following no symbolic link in either: a container that mounts the
// app's directory must not point the module at another file.
func openAppLock(dir, app string) (*os.File, error) {
	sub := filepath.Join(dir, app)
	if err := os.Mkdir(sub, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	fd, err := syscall.Open(sub, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: sub, Err: err}
	}
	defer syscall.Close(fd)
	lfd, err := syscall.Openat(fd, appLockFile, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(sub, appLockFile), Err: err}
	}
	return os.NewFile(uintptr(lfd), filepath.Join(sub, appLockFile)), nil
}

// waitAppLock takes the flock on f, waiting until deadline.
func waitAppLock(ctx context.Context, log logger, timeout time.Duration, app string, f *os.File, path string, deadline time.Time) error {
	wait := max(time.Until(deadline), 0)
	start := time.Now()
	err := journal.WaitFlock(ctx, f, wait, func() {
		log.logf("app %s: waiting up to %s for the app to release its update lock %s (app_lock_timeout)", app, wait.Round(time.Second), path)
	})
	if errors.Is(err, journal.ErrBusy) {
		f.Close()
		return fmt.Errorf("app %s: %w %s after %s (app_lock_timeout); nothing was changed", app, ErrAppLocked, path, timeout)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("app %s: taking its update lock %s: %w", app, path, err)
	}
	if waited := time.Since(start); waited > time.Second {
		log.logf("app %s: got its update lock after %s", app, waited.Round(time.Millisecond))
	}
	return nil
}

// checkLockBinds refuses, on a device that restricts binds
// (bind_mount_paths), a bind that would give the app's containers another
// app's update lock: APP_LOCK_DIR itself or a directory above it, or
// another app's directory in it. An app mounts APP_LOCK_DIR/<app> only.
func (policy devicePolicy) checkLockBinds(app string, s spec.Service) error {
	dir := policy.cfg.AppLockDir
	if dir == "" || policy.cfg.Policy.BindMountPaths == nil {
		return nil
	}
	lock, err := config.ResolvePath(filepath.Clean(dir))
	if err != nil {
		return fmt.Errorf("app_lock_dir %s: %w", dir, err)
	}
	for _, b := range s.Config.Binds {
		src, _, ok := strings.Cut(b, ":")
		if !ok || !strings.HasPrefix(src, "/") {
			continue
		}
		r, err := config.ResolvePath(src)
		if err != nil {
			return fmt.Errorf("service %s: -v %s: %w", s.Name, b, err)
		}
		rel, err := filepath.Rel(r, lock)
		if err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("service %s: -v %s is refused: it holds the update locks of every app (app_lock_dir %s); mount %s", s.Name, b, dir, filepath.Join(dir, app))
		}
		rel, err = filepath.Rel(lock, r)
		if err == nil && !strings.HasPrefix(rel, "..") {
			if first, _, _ := strings.Cut(rel, "/"); first != app {
				return fmt.Errorf("service %s: -v %s is refused: it is not this app's directory of app_lock_dir %s; mount %s", s.Name, b, dir, filepath.Join(dir, app))
			}
		}
	}
	return nil
}
