package module

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/spec"
)

// payload is what reading one artifact's payload files needs.
type payload struct {
	m          *spec.Meta
	load       map[string]bool   // embedded image IDs to load
	byFile     map[string]string // embedded image reference by payload file
	projectDir string            // where a Compose project is unpacked
}

// readPayload consumes the artifact's payload files and loads into the
// engine the embedded images listed in load (by ID). The client streams the
// files through FILES_DIR/stream-next during Download; when it has stored
// them in FILES_DIR/files instead (or for a preload directory), they are
// read from there. Nothing is written to disk on the way: each stream goes
// straight into the engine's image load.
func (u *Updater) readPayload(ctx context.Context, filesDir string, m *spec.Meta, load map[string]bool, projectDir string) error {
	p := &payload{m: m, load: load, byFile: map[string]string{}, projectDir: projectDir}
	for ref, e := range m.Embedded {
		p.byFile[e.File] = ref
	}
	next := filepath.Join(filesDir, "stream-next")
	if _, err := os.Stat(next); err != nil {
		return u.loadFromDir(ctx, filepath.Join(filesDir, "files"), p)
	}
	for {
		line, err := readStreamNext(next)
		if err != nil {
			return err
		}
		if line == "" {
			return nil // the client's end of the payload
		}
		if err := u.loadFile(ctx, filepath.Base(line), filepath.Join(filesDir, line), p); err != nil {
			return err
		}
	}
}

// loadFromDir reads the payload files the client stored: the Compose
// project, and the embedded images still to load.
func (u *Updater) loadFromDir(ctx context.Context, dir string, p *payload) error {
	if p.m.Compose != nil {
		if err := u.loadFile(ctx, p.m.Compose.Project, filepath.Join(dir, p.m.Compose.Project), p); err != nil {
			return err
		}
	}
	for _, e := range p.m.Embedded {
		if p.load[e.ID] {
			if err := u.loadFile(ctx, e.File, filepath.Join(dir, e.File), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadFile opens one payload file (a stream or a stored file) and loads it.
func (u *Updater) loadFile(ctx context.Context, name, path string, p *payload) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("payload file %s: %w", name, err)
	}
	defer f.Close()
	return u.loadOne(ctx, name, f, p)
}

// loadOne loads one payload file if its image is wanted, and reads it to
// the end in any case: the client checks every file's checksum as it
// streams it.
func (u *Updater) loadOne(ctx context.Context, name string, r io.Reader, p *payload) error {
	m, load := p.m, p.load
	cr := &countingReader{r: r}
	ref, known := p.byFile[name]
	if m.Compose != nil && name == m.Compose.Project {
		if err := extractProject(cr, p.projectDir); err != nil {
			return err
		}
		u.logf("app %s: compose project unpacked in %s", m.App, p.projectDir)
	} else if !known {
		u.logf("payload file %s is not an embedded image; skipped", name)
	} else if e := m.Embedded[ref]; load[e.ID] {
		start := time.Now()
		if err := u.Engine.LoadImage(ctx, cr); err != nil {
			return fmt.Errorf("loading embedded image %s from %s: %w", ref, name, err)
		}
		u.logf("loaded %s (%s, %.1f MB) in %s", ref, name, float64(cr.n)/1e6, time.Since(start).Round(time.Millisecond))
	} else {
		u.logf("%s is already on the device; skipped %s", ref, name)
	}
	_, err := io.Copy(io.Discard, cr)
	return err
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

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// checkEmbedded plans the loads: the embedded images absent from the
// engine, each of whose delta base must be present.
func (u *Updater) checkEmbedded(ctx context.Context, m *spec.Meta) (map[string]bool, error) {
	load := map[string]bool{}
	for ref, e := range m.Embedded {
		ok, err := u.Engine.HasImage(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		if e.Base != "" {
			has, err := u.Engine.HasImage(ctx, e.Base)
			if err != nil {
				return nil, err
			}
			if !has {
				return nil, fmt.Errorf("%w: %s is a delta that needs layers %s of image %s, which this device does not have; install the full artifact", ErrMissingBase, ref, strings.Join(e.OmittedLayers, ", "), e.Base)
			}
		}
		load[e.ID] = true
	}
	return load, nil
}

// verifyEmbedded checks that every embedded image is now present: its ID
// is its config's digest, which names every layer's digest in turn.
func (u *Updater) verifyEmbedded(ctx context.Context, m *spec.Meta) error {
	var missing []string
	for ref, e := range m.Embedded {
		ok, err := u.Engine.HasImage(ctx, e.ID)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, ref+" ("+e.ID+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrPayload, strings.Join(missing, ", "))
	}
	return nil
}
