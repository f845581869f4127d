package module

import (
	"context"
	"fmt"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Download validates the artifact, checks the device policy on every
// service's final configuration, and fetches what the install needs: its
// images, and its files archive unpacked into the app's state directory.
// It changes no container, network or volume; on failure it removes what
// it fetched.
func (u *Updater) Download(ctx context.Context, filesDir string) error {
	return u.download(ctx, filesDir)
}

// download is Download's work, which Preload does too.
func (u *Updater) download(ctx context.Context, filesDir string) (err error) {
	reading := false // the payload streams are being read
	defer func() {
		if err != nil && !reading {
			u.images().drainPayload(filesDir)
		}
	}()
	m, raw, err := u.readMeta(filesDir)
	if err != nil {
		return err
	}
	if err := u.admit(ctx, m); err != nil {
		return err
	}
	if err := u.drive(ctx, m.App, goalSupersede); err != nil {
		return fmt.Errorf("recovering an earlier deployment: %w", err)
	}
	if err := u.images().checkDisk(ctx); err != nil {
		return err
	}
	if err := u.files().checkDisk(m); err != nil {
		return err
	}
	plan, err := u.images().checkEmbedded(ctx, m)
	if err != nil {
		return err
	}
	d := &Deployment{Phase: PhaseDownloading, App: m.App, Artifact: readArtifactName(filesDir), Meta: raw, Params: m.Values(), PublicParams: m.Public(), Started: time.Now().UTC()}
	if m.Files != nil {
		d.Files = m.Files.Digest
	}
	pulls, err := absentImages(ctx, u.Engine, m, plan, d)
	if err != nil {
		return err
	}
	// Journal first, so that a kill mid-pull still gets its images (and
	// its unpacked files) removed.
	if err := u.journals().save(d); err != nil {
		return err
	}
	u.logf("app %s: artifact %s: %d image(s): %d to load from the artifact, %d to pull, %d already on the device", m.App, d.Artifact,
		len(m.Images()), len(plan.load), len(pulls), len(m.Images())-len(plan.load)-len(pulls))
	reading = len(m.Embedded) > 0 || m.Files != nil
	if err := u.fetch(ctx, filesDir, m, plan, pulls); err != nil {
		u.logf("download failed; removing what it fetched")
		if cerr := u.drive(context.WithoutCancel(ctx), m.App, goalCleanup); cerr != nil {
			u.logf("tidying up after the failed download: %v", cerr)
		}
		return err
	}
	d.Phase, d.Rendered = PhaseDownloaded, m.Rendered
	return u.journals().save(d)
}

// admit checks the artifact against the device before anything is
// fetched: the policy on every service's final configuration, and what
// the policy alone cannot see.
func (u *Updater) admit(ctx context.Context, m *spec.Meta) error {
	for _, w := range u.Config.StateDirWarnings() {
		u.logf("warning: %s", w)
	}
	// Once per service, on the configuration after parameters were put
	// in and before the module adds its own file mounts; then again with
	// the binds of the containers on the device.
	if err := u.policy().check(m, nil, u.Config.Protected()); err != nil {
		return err
	}
	if err := u.Engine.Ping(ctx); err != nil {
		return err
	}
	device, protected, err := u.policy().onDevice(ctx, m.App)
	if err != nil {
		return err
	}
	if err := u.policy().warnProtected(ctx, protected); err != nil {
		return err
	}
	if err := u.policy().check(m, device, protected); err != nil {
		return err
	}
	// What the policy alone cannot see: the engine's other containers,
	// networks and volumes. Install checks again before it creates any.
	return u.policy().checkOwnership(ctx, m)
}

// absentImages records in d.Pulled the images of m that are not on the
// device (the module's to remove again), and returns those to pull.
func absentImages(ctx context.Context, e engine.Engine, m *spec.Meta, plan *embedPlan, d *Deployment) ([]string, error) {
	var pulls []string
	for _, img := range m.Images() {
		if isEmbeddedID(m, img) {
			// Loaded from the payload, never pulled; checkEmbedded already
			// asked whether it is here. Only what was absent is the
			// module's to remove again.
			if plan.load[img] && !plan.present[img] {
				d.Pulled = append(d.Pulled, img)
			}
			continue
		}
		ok, err := e.HasImage(ctx, img)
		if err != nil {
			return nil, err
		}
		if !ok {
			d.Pulled = append(d.Pulled, img)
			pulls = append(pulls, img)
		}
	}
	return pulls, nil
}

// fetch reads the payload (embedded images, files archive), checks the
// files, pulls pulls and verifies the embedded images.
func (u *Updater) fetch(ctx context.Context, filesDir string, m *spec.Meta, plan *embedPlan, pulls []string) error {
	if len(m.Embedded) > 0 || m.Files != nil {
		if err := u.images().readPayload(ctx, filesDir, m, plan); err != nil {
			return err
		}
	}
	if err := u.files().check(m); err != nil {
		return err
	}
	if err := u.renderInto(m); err != nil {
		return err
	}
	if err := u.images().pull(ctx, pulls); err != nil {
		return err
	}
	return u.images().verifyEmbedded(ctx, m, plan)
}

func isEmbeddedID(m *spec.Meta, img string) bool {
	for _, e := range m.Embedded {
		if e.ID == img {
			return true
		}
	}
	return false
}

// renderInto renders m's templates on this device and records their
// digests in m, whose services then mount them.
func (u *Updater) renderInto(m *spec.Meta) error {
	r, err := u.rendered().render(m)
	if err != nil {
		return err
	}
	m.Rendered = r
	return nil
}
