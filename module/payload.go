package module

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/imagearchive"
	"github.com/mender-docker/mender-docker/module/spec"
)

// payload is what reading one artifact's payload files needs.
type payload struct {
	m      *spec.Meta
	plan   *embedPlan
	load   map[string]bool   // embedded image IDs to load (plan.load)
	byFile map[string]string // embedded image reference by payload file
}

// embedPlan is what Download does with the embedded images, by ID.
type embedPlan struct {
	// load: to load from the payload; loaded: loaded so far.
	load, loaded map[string]bool
	// present: on the device before this deployment, but not as the
	// image the meta-data pins (see checkEmbedded): loaded all the same,
	// and never the module's to remove.
	present map[string]bool
}

// readPayload consumes the artifact's payload files and loads into the
// engine the embedded images the plan lists in load (by ID). The client streams the
// files through FILES_DIR/stream-next during Download; when it has stored
// them in FILES_DIR/files instead (or for a preload directory), they are
// read from there. Nothing is written to disk on the way: each stream goes
// straight into the engine's image load.
func (images imageStore) readPayload(ctx context.Context, filesDir string, m *spec.Meta, plan *embedPlan) error {
	p := &payload{m: m, plan: plan, load: plan.load, byFile: map[string]string{}}
	for ref, e := range m.Embedded {
		p.byFile[e.File] = ref
	}
	next := filepath.Join(filesDir, "stream-next")
	if _, err := os.Stat(next); err != nil {
		return images.loadFromDir(ctx, filepath.Join(filesDir, "files"), p)
	}
	for {
		line, err := readStreamNext(next)
		if err != nil {
			return err
		}
		if line == "" {
			return nil // the client's end of the payload
		}
		if err := images.loadFile(ctx, filepath.Base(line), filepath.Join(filesDir, line), p); err != nil {
			return err
		}
	}
}

// loadFromDir reads the payload files the client stored: the files
// archive, and the embedded images still to load.
func (images imageStore) loadFromDir(ctx context.Context, dir string, p *payload) error {
	if f := p.m.Files; f != nil {
		err := images.loadFile(ctx, f.Archive, filepath.Join(dir, f.Archive), p)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("files archive %s (files.archive): %w", f.Archive, ErrPayload)
		}
		if err != nil {
			return err
		}
	}
	for _, e := range p.m.Embedded {
		if p.load[e.ID] {
			if err := images.loadFile(ctx, e.File, filepath.Join(dir, e.File), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadFile opens one payload file (a stream or a stored file) and loads it.
func (images imageStore) loadFile(ctx context.Context, name, path string, p *payload) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("payload file %s: %w", name, err)
	}
	defer f.Close()
	return images.loadOne(ctx, name, f, p)
}

// loadOne loads one payload file if its image is wanted (or unpacks the
// files archive), and reads it to
// the end in any case: the client checks every file's checksum as it
// streams it.
func (images imageStore) loadOne(ctx context.Context, name string, r io.Reader, p *payload) error {
	m, load := p.m, p.load
	cr := &countingReader{r: r}
	ref, known := p.byFile[name]
	if m.Files != nil && name == m.Files.Archive {
		if err := images.files.unpack(cr, m); err != nil {
			return err
		}
	} else if !known {
		images.log.logf("payload file %s is not an embedded image; skipped", name)
	} else if e := m.Embedded[ref]; load[e.ID] {
		start := time.Now()
		stop := images.report("loading "+ref+" from "+name, &cr.m)
		err := images.load(ctx, name, ref, e.ID, cr, p.plan.present[e.ID])
		stop()
		if err != nil {
			return err
		}
		p.plan.loaded[e.ID] = true
		images.log.logf("loaded %s (%s, %.1f MB) in %s", ref, name, float64(cr.m.done.Load())/1e6, time.Since(start).Round(time.Millisecond))
	} else {
		images.log.logf("%s is already on the device; skipped %s", ref, name)
	}
	_, err := io.Copy(io.Discard, cr)
	return err
}

// drainWait is how long drainPayload waits for the client to open each
// stream: one that stopped streaming is not waited for longer.
const drainWait = 10 * time.Second

// drainPayload reads the client's payload streams to their end and
// discards them, after a Download that failed before it read any: Mender
// 3.4 otherwise waits forever to write the first one (seen when the
// module refused the artifact within a millisecond).
func (images imageStore) drainPayload(filesDir string) {
	next := filepath.Join(filesDir, "stream-next")
	if fi, err := os.Lstat(next); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	for {
		line, ok := waitFor(func() (string, error) { return readStreamNext(next) })
		if !ok || line == "" {
			return
		}
		f, ok := waitFor(func() (*os.File, error) { return os.Open(filepath.Join(filesDir, line)) })
		if !ok {
			return
		}
		_, err := io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return
		}
		images.log.logf("skipped payload file %s", filepath.Base(line))
	}
}

// waitFor runs open (which blocks on a FIFO until the client opens its
// end) for at most drainWait; ok is false when it failed or timed out.
func waitFor[T any](open func() (T, error)) (v T, ok bool) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err == nil
	case <-time.After(drainWait):
		return v, false
	}
}

// readStreamNext reads one line from the stream-next FIFO: the client
// writes "streams/<file>" for each payload file, then an empty line.
func readStreamNext(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening stream-next: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("reading stream-next: %w", err)
	}
	line := strings.TrimSpace(string(b))
	if line != "" && (!strings.HasPrefix(line, "streams/") || strings.Contains(line, "..")) {
		return "", fmt.Errorf("stream-next: unexpected %q", line)
	}
	return line, nil
}

// countingReader counts what is read, for the progress of a load.
type countingReader struct {
	r io.Reader
	m meter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.m.done.Add(int64(n))
	return n, err
}

// checkEmbedded plans the loads: every embedded image is loaded from the
// payload, each of whose delta base must be present, unless the device has
// it as the image the meta-data pins: an image with its ID that was pulled
// by its reference (repo@sha256:…) or loaded by the module from an
// artifact naming that reference (the tag loadTag gives). Any other image
// with that ID (loaded by hand, say, from anywhere) is not taken for it: an
// artifact that names the ID of an image on the device but carries none
// fails.
func (images imageStore) checkEmbedded(ctx context.Context, m *spec.Meta) (*embedPlan, error) {
	plan := &embedPlan{load: map[string]bool{}, loaded: map[string]bool{}, present: map[string]bool{}}
	for ref, e := range m.Embedded {
		ok, err := images.eng.HasImage(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			pinned, err := images.pinned(ctx, ref, e.ID)
			if err != nil {
				return nil, err
			}
			if pinned {
				continue
			}
			plan.present[e.ID] = true
		}
		if e.Base != "" {
			has, err := images.eng.HasImage(ctx, e.Base)
			if err != nil {
				return nil, err
			}
			if !has {
				return nil, fmt.Errorf("%w: %s is a delta that needs layers %s of image %s, which this device does not have; install the full artifact", ErrMissingBase, ref, strings.Join(e.OmittedLayers, ", "), e.Base)
			}
		}
		plan.load[e.ID] = true
	}
	return plan, nil
}

// pinned tells whether the image id on the device is the one the
// reference ref names: pulled as ref, or loaded for it by the module.
func (images imageStore) pinned(ctx context.Context, ref, id string) (bool, error) {
	for _, name := range []string{ref, loadTag(ref)} {
		if name == "" {
			continue
		}
		got, err := images.eng.ImageID(ctx, name)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if got == id {
			return true, nil
		}
	}
	return false, nil
}

// verifyEmbedded checks that every embedded image is now present, and
// was loaded where the plan said: its ID is its config's digest, which
// names every layer's digest in turn.
func (images imageStore) verifyEmbedded(ctx context.Context, m *spec.Meta, plan *embedPlan) error {
	var missing []string
	for ref, e := range m.Embedded {
		ok, err := images.eng.HasImage(ctx, e.ID)
		if err != nil {
			return err
		}
		if !ok || plan.load[e.ID] && !plan.loaded[e.ID] {
			missing = append(missing, ref+" ("+e.ID+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("embedded image %s: %w", strings.Join(missing, ", "), ErrPayload)
	}
	return nil
}

// errLoadEnded stops the archive filter when the engine stopped reading.
var errLoadEnded = errors.New("the engine stopped reading the image archive")

// load loads the embedded image id from the docker-archive r through
// imagearchive's filter. Whatever went wrong, an image id that was absent
// before (not present) is removed again, so a failed load leaves nothing.
func (images imageStore) load(ctx context.Context, file, ref, id string, r io.Reader, present bool) error {
	a := imagearchive.Archive{ID: id, Tag: loadTag(ref), Limit: images.loadLimit(ctx)}
	pr, pw := io.Pipe()
	filtered := make(chan error, 1)
	go func() {
		err := a.Filter(r, pw)
		pw.CloseWithError(err) // nil: the engine reads io.EOF
		filtered <- err
	}()
	// Cancelling (the client's SIGTERM) breaks the upload while it runs,
	// so that the engine loads nothing; once the whole archive is up, the
	// engine loads it whatever we do, so wait for its answer and remove
	// the image below: cancelling then would leave the image behind.
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	err := images.eng.LoadImage(context.WithoutCancel(ctx), pr)
	stop()
	if err == nil {
		err = ctx.Err()
	}
	pr.CloseWithError(errLoadEnded)
	if ferr := <-filtered; ferr != nil && !errors.Is(ferr, errLoadEnded) {
		// The filter broke the upload on purpose: its reason is the one
		// to give, not the engine's "unexpected EOF".
		err = ferr
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("loading embedded image %s from %s: %w", ref, file, err)
	ctx = context.WithoutCancel(ctx)
	if present {
		return err
	}
	if has, herr := images.eng.HasImage(ctx, id); herr == nil && has {
		if rerr := images.eng.RemoveImage(ctx, id); rerr != nil {
			return errors.Join(err, fmt.Errorf("removing the partly loaded %s: %w", id, rerr))
		}
		images.log.logf("removed %s after the failed load", id)
	}
	return err
}

// loadTag is the one name a loaded image gets, made from the meta-data's
// reference as docker-artifact-gen names it (repo:mender-<digest prefix>):
// a name keeps the image from `docker image prune` between Download and
// Install, and it is in the module's own namespace, so it cannot take over
// a tag the device uses.
func loadTag(ref string) string {
	at := strings.LastIndex(ref, "@")
	digest := strings.TrimPrefix(ref[at+1:], "sha256:")
	if at < 0 || len(digest) < 12 {
		return ""
	}
	repo := ref[:at]
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i] // repo:tag@sha256:…
	}
	return repo + ":mender-" + digest[:12]
}

// loadLimit bounds an image archive by the engine's free disk space above
// min_free_mb, since the engine unpacks the upload on its own disk before
// it loads it; 0 when the engine's disk cannot be seen (a remote engine).
func (images imageStore) loadLimit(ctx context.Context) int64 {
	_, free, ok, err := images.diskFree(ctx)
	if err != nil || !ok {
		return 0
	}
	free -= images.cfg.MinFreeMB << 20
	if free < 1 {
		free = 1
	}
	return free
}
