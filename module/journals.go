package module

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/module/spec"
)

// journals reads and writes the apps' journals in the state directory
// (journal.Store) and parses the meta-data a deployment recorded. What it
// reads is checked before anything acts on it (checkJournal and
// journalcheck.go).
type journals struct {
	store      journal.Store
	defaultApp string
	secrets    *redactor
	log        logger
}

func (u *Updater) journals() journals {
	return journals{store: journal.Store{Dir: u.Config.StateDir}, defaultApp: u.Config.DefaultApp, secrets: &u.secrets, log: u.logger()}
}

var hexDigestRE = regexp.MustCompile(`^[a-f0-9]{64}$`)

// parseMeta validates meta-data, with the device's default app and the
// values params gives to ${NAME} placeholders. From then on the run's log
// and errors hide the values that are not public.
func parseMeta(data []byte, params paramSource, defaultApp string, secrets *redactor) (*spec.Meta, error) {
	m, err := spec.ParseWith(data, spec.ParseOptions{DefaultApp: defaultApp, Lookup: params.lookup, Public: params.public})
	if err == nil {
		secrets.remember(m)
	}
	return m, err
}

// deployment is app's deployment journal, nil when there is none.
func (j journals) deployment(app string) (*Deployment, error) {
	var d Deployment
	err := j.store.Load(app, deploymentFile, &d)
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
	j.secrets.remember(&spec.Meta{Substitutions: subs})
	// Files directories are named after it: nothing else may come from
	// the journal into a path.
	if d.Files != "" && !spec.ValidDigest(d.Files) {
		return nil, fmt.Errorf("journal of app %s: %w: files %q is not a sha256 digest", app, journal.ErrCorrupt, d.Files)
	}
	for svc, r := range d.Rendered {
		if !hexDigestRE.MatchString(r) {
			return nil, fmt.Errorf("journal of app %s: %w: rendered %q of %q is not a hex sha256 digest", app, journal.ErrCorrupt, r, svc)
		}
	}
	if err := checkJournal(&d); err != nil {
		return nil, fmt.Errorf("journal of app %s: %w: %v", app, journal.ErrCorrupt, err)
	}
	return &d, nil
}

// meta parses the meta-data a deployment recorded, with the values it
// recorded; it must name the journal's own app, whose containers alone
// the deployment may touch.
func (j journals) meta(d *Deployment) (*spec.Meta, error) {
	m, err := parseMeta(d.Meta, recorded(d), j.defaultApp, j.secrets)
	if err != nil {
		return nil, err
	}
	if m.App != d.App {
		return nil, fmt.Errorf("journal of app %s: %w: its meta-data names app %q", d.App, journal.ErrCorrupt, m.App)
	}
	m.Rendered = d.Rendered
	return m, nil
}

func (j journals) save(d *Deployment) error {
	if err := j.store.Save(d.App, deploymentFile, d); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

// installed is app's installed set as its journal records it.
func (j journals) installed(app string) (Installed, error) {
	var in Installed
	err := j.store.Load(app, installedFile, &in)
	if errors.Is(err, journal.ErrNone) {
		err = nil
	}
	if err == nil && in.Files != "" && !spec.ValidDigest(in.Files) {
		err = fmt.Errorf("installed journal of app %s: %w: files %q is not a sha256 digest", app, journal.ErrCorrupt, in.Files)
	}
	return in, err
}
