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
	"slices"
	"strings"
	"sync"
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
	// ProgressInterval is how often long pulls and loads log progress;
	// 5s when zero.
	ProgressInterval time.Duration
	// parsed is the meta-data this run has read (or the journal's values
	// of it): its parameters' values are hidden from the log and the
	// error (see hide). Status reads journals while a state may run.
	parsedMu sync.Mutex
	parsed   []*spec.Meta
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
		u.Log.Print(OneLine(u.hide(fmt.Sprintf(format, a...))))
	}
}

// hide keeps the values of parameters that are not public out of text
// bound for the log or an error: the engine and the policy quote the
// values a configuration ended up with.
func (u *Updater) hide(s string) string {
	u.parsedMu.Lock()
	defer u.parsedMu.Unlock()
	for _, m := range u.parsed {
		s = m.Hide(s)
	}
	return s
}

func (u *Updater) hideError(err error) error {
	u.parsedMu.Lock()
	defer u.parsedMu.Unlock()
	for _, m := range u.parsed {
		err = m.HideError(err)
	}
	return err
}

func (u *Updater) remember(m *spec.Meta) {
	u.parsedMu.Lock()
	u.parsed = append(u.parsed, m)
	u.parsedMu.Unlock()
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
	u.parsedMu.Lock()
	u.parsed = nil
	u.parsedMu.Unlock()
	return u.hideError(fn(ctx))
}

// parse validates meta-data, with the device's default app and the values
// params gives to ${NAME} placeholders. From then on the run's log and
// errors hide the values that are not public.
func (u *Updater) parse(data []byte, params paramSource) (*spec.Meta, error) {
	m, err := spec.ParseWith(data, spec.ParseOptions{DefaultApp: u.Config.DefaultApp, Lookup: params.lookup, Public: params.public})
	if err == nil {
		u.remember(m)
	}
	return m, err
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
	params, err := u.deviceParams(app)
	if err != nil {
		return nil, nil, err
	}
	m, err := u.parse(data, params)
	if err != nil {
		return nil, nil, err
	}
	if err := u.checkImages(m); err != nil {
		return nil, nil, err
	}
	// The name and where its value came from; the value only when public
	// (logf would hide it anyway).
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
func (u *Updater) forApps(ctx context.Context, filesDir string, g goal) error {
	data, err := readRaw(filesDir)
	if err == nil {
		app, err := u.appOf(data)
		if err != nil {
			return err
		}
		return u.drive(ctx, app, g)
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
		errs = append(errs, u.drive(ctx, app, g))
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
	// States that act on the journal alone (rollback, recover) hide its
	// values too.
	var subs []spec.Substitution
	for name, v := range d.Params {
		subs = append(subs, spec.Substitution{Name: name, Value: v, Public: slices.Contains(d.PublicParams, name)})
	}
	u.remember(&spec.Meta{Substitutions: subs})
	// Files directories are named after it: nothing else may come from
	// the journal into a path.
	if d.Files != "" && !spec.ValidDigest(d.Files) {
		return nil, fmt.Errorf("journal of app %s: %w: files %q is not a sha256 digest", app, journal.ErrCorrupt, d.Files)
	}
	if err := checkJournal(&d); err != nil {
		return nil, fmt.Errorf("journal of app %s: %w: %v", app, journal.ErrCorrupt, err)
	}
	return &d, nil
}

// checkJournal refuses a deployment journal whose fields are not what the
// module writes. What it names is acted on only after more checks where
// it is used: containers only when the engine lists them as the app's
// (appContainers), images only when the recorded meta-data names them
// (journalImages), configurations only once they pass the device policy
// (create).
func checkJournal(d *Deployment) error {
	if _, ok := lifecycle[d.Phase]; !ok || d.Phase == phaseNone {
		return fmt.Errorf("unknown phase %q", d.Phase)
	}
	for _, o := range d.Old {
		// A full ID: the engine would take a name or a prefix for
		// another container.
		if !isHex(o.ID, 64) {
			return fmt.Errorf("old container %q: not a full container ID", o.ID)
		}
	}
	return nil
}

// ownedBy tells whether c is one of app's containers, as appContainers
// lists them: labelled the app's, or of the Compose project it took over.
func ownedBy(c engine.Container, app string) bool {
	return c.Labels[LabelApp] == app || c.Labels[LabelApp] == "" && c.Labels[ComposeProjectLabel] == app
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// parseJournal parses the meta-data a deployment recorded, with the values
// it recorded; it must name the journal's own app, whose containers alone
// the deployment may touch.
func (u *Updater) parseJournal(d *Deployment) (*spec.Meta, error) {
	m, err := u.parse(d.Meta, recorded(d))
	if err != nil {
		return nil, err
	}
	if m.App != d.App {
		return nil, fmt.Errorf("journal of app %s: %w: its meta-data names app %q", d.App, journal.ErrCorrupt, m.App)
	}
	return m, nil
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
	if err == nil && in.Files != "" && !spec.ValidDigest(in.Files) {
		err = fmt.Errorf("installed journal of app %s: %w: files %q is not a sha256 digest", app, journal.ErrCorrupt, in.Files)
	}
	return in, err
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
