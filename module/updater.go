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
	"time"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
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
	// secrets are hidden from the log and the errors of a run.
	secrets redactor
}

// New returns an Updater that logs to logw.
func New(e engine.Engine, cfg config.Config, logw io.Writer) *Updater {
	return &Updater{Engine: e, Config: cfg, Log: log.New(logw, "", 0)}
}

func (u *Updater) logger() logger { return logger{out: u.Log, secrets: &u.secrets} }

func (u *Updater) logf(format string, a ...any) { u.logger().logf(format, a...) }

// locked runs fn holding the state directory's lock, waiting up to the
// configured time for another module process to let go of it.
func (u *Updater) locked(ctx context.Context, fn func(context.Context) error) error {
	unlock, err := u.journals().store.Lock(ctx, time.Duration(u.Config.LockTimeout), func(holder string) {
		u.logf("waiting up to %s for another module process to finish (%s)", time.Duration(u.Config.LockTimeout), holder)
	})
	if err != nil {
		return err
	}
	defer unlock()
	u.secrets.forget()
	return u.secrets.hideError(fn(ctx))
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
	app, err := appOf(data, u.Config.DefaultApp)
	if err != nil {
		return nil, nil, err
	}
	params, err := deviceParams(u.Config, app)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseMeta(data, params, u.Config.DefaultApp, &u.secrets)
	if err != nil {
		return nil, nil, err
	}
	if err := u.images().check(m); err != nil {
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
	return appOf(data, u.Config.DefaultApp)
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
		app, err := appOf(data, u.Config.DefaultApp)
		if err != nil {
			return err
		}
		return u.drive(ctx, app, g)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	apps, err := u.journals().store.Apps(deploymentFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, app := range apps {
		errs = append(errs, u.drive(ctx, app, g))
	}
	return errors.Join(errs...)
}

// checkJournal refuses a deployment journal whose fields are not what the
// module writes. What it names is acted on only after more checks where
// it is used: containers only when the engine lists them as the app's
// (appContainers), images only when the recorded meta-data names them
// (journalImages), configurations only once they pass the device policy
// (create).
func checkJournal(d *Deployment) error {
	if !slices.Contains(phases, d.Phase) {
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

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
