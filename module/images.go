package module

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// imageStore owns the app's images on the engine: the policy of which
// may be pulled, the pulls, the embedded images loaded from the payload
// (payload.go) and their removal.
type imageStore struct {
	eng   engine.Engine
	cfg   config.Config
	log   logger
	every time.Duration // of progress lines; progressEvery when zero
	files fileStore     // the payload's files archive goes there
}

func (u *Updater) images() imageStore {
	return imageStore{eng: u.Engine, cfg: u.Config, log: u.logger(), every: u.ProgressInterval, files: u.files()}
}

// check applies the device's allowed_registries (and, to images the
// artifact carries, allow_embedded) to every image the artifact names.
func (images imageStore) check(m *spec.Meta) error {
	for _, s := range m.Services {
		check := images.cfg.Policy.CheckImage
		if _, ok := m.Embedded[s.Image]; ok {
			check = images.cfg.Policy.CheckEmbedded
		}
		if err := check(s.Image); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return nil
}

func (images imageStore) pull(ctx context.Context, refs []string) error {
	n := images.cfg.ParallelPulls
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
			stop := images.report("pulling "+ref, &m)
			pctx := engine.WithProgress(ctx, func(p engine.Progress) {
				m.done.Store(p.Done)
				m.total.Store(p.Total)
			})
			err := images.eng.PullImage(pctx, ref)
			stop()
			if err != nil {
				errs[i] = err
				return
			}
			images.log.logf("pulled %s in %s", ref, time.Since(start).Round(time.Millisecond))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (images imageStore) checkDisk(ctx context.Context) error {
	if images.cfg.MinFreeMB <= 0 {
		return nil
	}
	dir, free, ok, err := images.diskFree(ctx)
	if err != nil || !ok {
		return err // a remote engine, or a root we cannot see: nothing to check
	}
	free >>= 20
	if free < images.cfg.MinFreeMB {
		return fmt.Errorf("%w: %d MB free in %s, need at least %d MB (min_free_mb)", ErrDiskSpace, free, dir, images.cfg.MinFreeMB)
	}
	return nil
}

// diskFree is the free space, in bytes, of the disk where the engine
// keeps its images; ok is false when that cannot be seen (a remote engine,
// or a root directory we cannot stat).
func (images imageStore) diskFree(ctx context.Context) (dir string, free int64, ok bool, err error) {
	dir, err = images.eng.RootDir(ctx)
	if err != nil {
		return "", 0, false, err
	}
	var st syscall.Statfs_t
	if dir == "" || syscall.Statfs(dir, &st) != nil {
		return dir, 0, false, nil
	}
	return dir, int64(st.Bavail) * int64(st.Bsize), true, nil
}

// remove removes images nothing uses any more; an image still used by
// any container, ours or not, stays.
func (images imageStore) remove(ctx context.Context, refs []string) error {
	return removeEach(ctx, images.log, "image", refs, images.eng.RemoveImage)
}

// removeEach removes each of names (images, networks or volumes: kind)
// with remove: one that is gone already is no matter, and one still in
// use (by any container, ours or not) stays.
func removeEach(ctx context.Context, log logger, kind string, names []string, remove func(context.Context, string) error) error {
	for _, name := range names {
		err := remove(ctx, name)
		switch {
		case err == nil:
			log.logf("removed %s %s", kind, name)
		case errors.Is(err, engine.ErrNotFound):
		case errors.Is(err, engine.ErrConflict):
			log.logf("kept %s %s: still in use", kind, name)
		default:
			return err
		}
	}
	return nil
}
