package module

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// checkImages applies the device's allowed_registries (and, to images the
// artifact carries, allow_embedded) to every image the artifact names.
func (u *Updater) checkImages(m *spec.Meta) error {
	for _, s := range m.Services {
		check := u.Config.Policy.CheckImage
		if _, ok := m.Embedded[s.Image]; ok {
			check = u.Config.Policy.CheckEmbedded
		}
		if err := check(s.Image); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return nil
}

func (u *Updater) pullAll(ctx context.Context, refs []string) error {
	n := u.Config.ParallelPulls
	if n < 1 {
		n = 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			var m meter
			stop := u.reportProgress("pulling "+ref, &m)
			pctx := engine.WithProgress(ctx, func(p engine.Progress) {
				m.done.Store(p.Done)
				m.total.Store(p.Total)
			})
			err := u.Engine.PullImage(pctx, ref)
			stop()
			if err != nil {
				errs[i] = err
				return
			}
			u.logf("pulled %s in %s", ref, time.Since(start).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (u *Updater) checkDisk(ctx context.Context) error {
	if u.Config.MinFreeMB <= 0 {
		return nil
	}
	dir, free, ok, err := u.engineDiskFree(ctx)
	if err != nil || !ok {
		return err // a remote engine, or a root we cannot see: nothing to check
	}
	free >>= 20
	if free < u.Config.MinFreeMB {
		return fmt.Errorf("%w: %d MB free in %s, need at least %d MB (min_free_mb)", ErrDiskSpace, free, dir, u.Config.MinFreeMB)
	}
	return nil
}

// engineDiskFree is the free space, in bytes, of the disk where the engine
// keeps its images; ok is false when that cannot be seen (a remote engine,
// or a root directory we cannot stat).
func (u *Updater) engineDiskFree(ctx context.Context) (dir string, free int64, ok bool, err error) {
	dir, err = u.Engine.RootDir(ctx)
	if err != nil {
		return "", 0, false, err
	}
	var st syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &st) != nil {
		return dir, 0, false, nil
	}
	return dir, int64(st.Bavail) * int64(st.Bsize), true, nil
}

// removeImages removes images nothing uses any more; an image still used by
// any container, ours or not, stays.
func (u *Updater) removeImages(ctx context.Context, refs []string) error {
	return u.removeEach(ctx, "image", refs, u.Engine.RemoveImage)
}

// removeEach removes each of names (images, networks or volumes: kind)
// with remove: one that is gone already is no matter, and one still in
// use (by any container, ours or not) stays.
func (u *Updater) removeEach(ctx context.Context, kind string, names []string, remove func(context.Context, string) error) error {
	for _, name := range names {
		err := remove(ctx, name)
		switch {
		case err == nil:
			u.logf("removed %s %s", kind, name)
		case errors.Is(err, engine.ErrNotFound):
		case errors.Is(err, engine.ErrConflict):
			u.logf("kept %s %s: still in use", kind, name)
		default:
			return err
		}
	}
	return nil
}
