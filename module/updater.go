package module

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Updater runs the states of the protocol against one engine.
type Updater struct {
	Engine engine.Engine
	Config config.Config
	Log    *log.Logger
	// PollInterval is how often health is checked; 250ms when zero.
	PollInterval time.Duration
	// Compose runs Compose apps; found on the device when nil.
	Compose Composer
	// ProgressInterval is how often long pulls and loads log progress;
	// 5s when zero.
	ProgressInterval time.Duration
}

// New returns an Updater that logs to logw.
func New(e engine.Engine, cfg config.Config, logw io.Writer) *Updater {
	return &Updater{Engine: e, Config: cfg, Log: log.New(logw, "", 0)}
}

func (u *Updater) journal() journal.Store {
	return journal.Store{Dir: u.Config.StateDir}
}

func (u *Updater) logf(format string, a ...any) {
	if u.Log != nil {
		// One line per message, whatever the engine or a container said.
		u.Log.Print(OneLine(fmt.Sprintf(format, a...)))
	}
}

// Run carries out state for the deployment whose files are in filesDir,
// writing protocol answers (and nothing else) to stdout.
func (u *Updater) Run(ctx context.Context, state, filesDir string, stdout io.Writer) error {
	switch state {
	case "NeedsArtifactReboot":
		_, err := io.WriteString(stdout, "No\n")
		return err
	case "SupportsRollback":
		_, err := io.WriteString(stdout, "Yes\n")
		return err
	}
	var work func(context.Context) error
	switch state {
	case "Download":
		work = func(ctx context.Context) error { return u.Download(ctx, filesDir) }
	case "ArtifactInstall":
		work = func(ctx context.Context) error { return u.Install(ctx, filesDir) }
	case "ArtifactCommit":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, u.commit) }
	case "ArtifactRollback":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, u.rollback) }
	case "ArtifactFailure":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, u.converge) }
	case "Cleanup":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, u.cleanup) }
	default:
		// Unknown states (including the reboot states we never ask for)
		// are no-ops by the protocol.
		return nil
	}
	return u.locked(ctx, work)
}

// locked runs fn holding the state directory's lock, waiting up to the
// configured time for another module process to let go of it.
func (u *Updater) locked(ctx context.Context, fn func(context.Context) error) error {
	unlock, err := u.journal().Lock(ctx, time.Duration(u.Config.LockTimeout), func(holder string) {
		u.logf("waiting up to %s for another module process to finish (%s)", time.Duration(u.Config.LockTimeout), holder)
	})
	if err != nil {
		return err
	}
	defer unlock()
	return fn(ctx)
}

// Recover finishes or undoes any deployment that an interrupted run left
// behind, for every app: meant for a boot-time unit, and run by Download
// for its own app. A deployment waiting for commit is left alone.
func (u *Updater) Recover(ctx context.Context) error {
	return u.locked(ctx, u.recoverAll)
}

func (u *Updater) recoverAll(ctx context.Context) error {
	apps, err := u.journal().Apps(deploymentFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, app := range apps {
		if err := u.recoverApp(ctx, app, false); err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", app, err))
		}
	}
	return errors.Join(errs...)
}

func (u *Updater) recoverApp(ctx context.Context, app string, newDeployment bool) error {
	d, err := u.loadDeployment(app)
	if err != nil || d == nil {
		return err
	}
	switch d.Phase {
	case PhaseInstalled:
		if !newDeployment {
			return nil
		}
		u.logf("app %s: deployment of %s was never committed; rolling it back first", app, d.Artifact)
		if err := u.rollback(ctx, app); err != nil {
			return err
		}
	case PhaseCommitting:
		u.logf("app %s: finishing the interrupted commit of %s", app, d.Artifact)
		return u.commit(ctx, app)
	default:
		u.logf("app %s: undoing the interrupted deployment of %s (phase %s)", app, d.Artifact, d.Phase)
	}
	return u.cleanup(ctx, app)
}

// parse validates meta-data, with the device's default app and the values
// lookup gives to ${NAME} placeholders.
func (u *Updater) parse(data []byte, lookup func(string) (string, string, bool)) (*spec.Meta, error) {
	return spec.ParseWith(data, spec.ParseOptions{DefaultApp: u.Config.DefaultApp, Lookup: lookup})
}

// readRaw reads FILES_DIR/header/meta-data.
func readRaw(filesDir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(filesDir, "header", "meta-data"))
	if err != nil {
		return nil, fmt.Errorf("reading meta-data: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, spec.MaxMetaDataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading meta-data: %w", err)
	}
	return data, nil
}

// readMeta reads and validates FILES_DIR/header/meta-data with the
// device's parameters, logging what they put in place.
func (u *Updater) readMeta(filesDir string) (*spec.Meta, []byte, error) {
	data, err := readRaw(filesDir)
	if err != nil {
		return nil, nil, err
	}
	app, err := u.appOf(data)
	if err != nil {
		return nil, nil, err
	}
	lookup, err := u.deviceParams(app)
	if err != nil {
		return nil, nil, err
	}
	m, err := u.parse(data, lookup)
	if err != nil {
		return nil, nil, err
	}
	if err := u.checkImages(m); err != nil {
		return nil, nil, err
	}
	for _, s := range m.Substitutions {
		u.logf("app %s: parameter %s", m.App, s)
	}
	return m, data, nil
}

// appOfFiles is the app an artifact's meta-data names.
func (u *Updater) appOfFiles(filesDir string) (string, error) {
	data, err := readRaw(filesDir)
	if err != nil {
		return "", err
	}
	return u.appOf(data)
}

func readArtifactName(filesDir string) string {
	b, err := os.ReadFile(filepath.Join(filesDir, "header", "artifact_name"))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// forApps runs fn for the app named by the artifact's meta-data, or, when
// there is none (a wiped FILES_DIR after a crash), for every app with a
// deployment in flight. Meta-data that is there but names no valid app is
// an error: Download refused it, so no app has anything of it to undo.
func (u *Updater) forApps(ctx context.Context, filesDir string, fn func(context.Context, string) error) error {
	data, err := readRaw(filesDir)
	if err == nil {
		app, err := u.appOf(data)
		if err != nil {
			return err
		}
		return fn(ctx, app)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	apps, err := u.journal().Apps(deploymentFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, app := range apps {
		errs = append(errs, fn(ctx, app))
	}
	return errors.Join(errs...)
}

func (u *Updater) loadDeployment(app string) (*Deployment, error) {
	var d Deployment
	err := u.journal().Load(app, deploymentFile, &d)
	if errors.Is(err, journal.ErrNone) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d.App != app {
		return nil, fmt.Errorf("journal of app %s: %w: it names app %q", app, journal.ErrCorrupt, d.App)
	}
	if err := u.checkProjectPaths(app, []string{d.ProjectDir, d.OldProjectDir}, []string{d.OldProjectFile}); err != nil {
		return nil, err
	}
	return &d, nil
}

func (u *Updater) save(d *Deployment) error {
	if err := u.journal().Save(d.App, deploymentFile, d); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

func (u *Updater) loadInstalled(app string) (Installed, error) {
	var in Installed
	err := u.journal().Load(app, installedFile, &in)
	if errors.Is(err, journal.ErrNone) {
		err = nil
	}
	if err == nil {
		err = u.checkProjectPaths(app, []string{in.ProjectDir}, []string{in.ProjectFile})
	}
	return in, err
}

// Download validates the artifact and fetches its images. It changes no
// container; on failure it removes what it fetched.
func (u *Updater) Download(ctx context.Context, filesDir string) error {
	m, raw, err := u.readMeta(filesDir)
	if err != nil {
		return err
	}
	for _, s := range m.Services {
		if err := u.Config.Policy.Check(s.Name, s.Config); err != nil {
			return err
		}
	}
	if err := u.Engine.Ping(ctx); err != nil {
		return err
	}
	if err := u.recoverApp(ctx, m.App, true); err != nil {
		return fmt.Errorf("recovering an earlier deployment: %w", err)
	}
	if err := u.checkDisk(ctx); err != nil {
		return err
	}
	load, err := u.checkEmbedded(ctx, m)
	if err != nil {
		return err
	}
	d := &Deployment{Phase: PhaseDownloading, App: m.App, Artifact: readArtifactName(filesDir), Meta: raw, Params: m.Values(), Started: time.Now().UTC()}
	var pulls []string
	for _, img := range m.Images() {
		if isEmbeddedID(m, img) {
			// Loaded from the payload, never pulled; checkEmbedded already
			// asked whether it is here.
			if load[img] {
				d.Pulled = append(d.Pulled, img)
			}
			continue
		}
		ok, err := u.Engine.HasImage(ctx, img)
		if err != nil {
			return err
		}
		if !ok {
			d.Pulled = append(d.Pulled, img)
			pulls = append(pulls, img)
		}
	}
	if m.Compose != nil {
		if _, err := u.composer(); err != nil {
			return fmt.Errorf("compose app %s: %w", m.App, err)
		}
		d.ProjectDir = filepath.Join(u.Config.StateDir, m.App, "projects", newID())
	}
	// Journal first, so that a kill mid-pull still gets its images removed.
	if err := u.save(d); err != nil {
		return err
	}
	u.logf("app %s: artifact %s: %d image(s), %d to load from the artifact, %d to pull", m.App, d.Artifact, len(m.Images()), len(load), len(pulls))
	err = nil
	if len(m.Embedded) > 0 || m.Compose != nil {
		err = u.readPayload(ctx, filesDir, m, load, d.ProjectDir)
	}
	if err == nil && m.Compose != nil {
		err = u.checkComposePolicy(m, d.ProjectDir)
	}
	if err == nil && m.Compose != nil {
		var lookup func(string) (string, string, bool)
		if lookup, err = u.deviceParams(m.App); err == nil {
			var values map[string]string
			if values, err = u.resolveComposeParams(m, d.ProjectDir, lookup); err == nil {
				d.Params = values
			}
		}
	}
	if err == nil {
		err = u.pullAll(ctx, pulls)
	}
	if err == nil {
		err = u.verifyEmbedded(ctx, m)
	}
	if err != nil {
		u.logf("download failed; removing what it fetched")
		if cerr := u.cleanup(context.WithoutCancel(ctx), m.App); cerr != nil {
			u.logf("tidying up after the failed download: %v", cerr)
		}
		return err
	}
	d.Phase = PhaseDownloaded
	return u.save(d)
}

func isEmbeddedID(m *spec.Meta, img string) bool {
	for _, e := range m.Embedded {
		if e.ID == img {
			return true
		}
	}
	return false
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

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
