package module

import (
	"context"
	"fmt"
	"time"

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
			u.drainPayload(filesDir)
		}
	}()
	m, raw, err := u.readMeta(filesDir)
	if err != nil {
		return err
	}
	for _, w := range u.Config.StateDirWarnings() {
		u.logf("warning: %s", w)
	}
	// Once per service, on the configuration after parameters were put
	// in and before the module adds its own file mounts; then again with
	// the binds of the containers on the device.
	if err := u.checkPolicy(m, nil, u.Config.Protected()); err != nil {
		return err
	}
	if err := u.Engine.Ping(ctx); err != nil {
		return err
	}
	device, protected, err := u.onDevice(ctx, m.App)
	if err != nil {
		return err
	}
	if err := u.warnProtectedBinds(ctx, protected); err != nil {
		return err
	}
	if err := u.checkPolicy(m, device, protected); err != nil {
		return err
	}
	// What the policy alone cannot see: the engine's other containers,
	// networks and volumes. Install checks again before it creates any.
	if err := u.checkOwnership(ctx, m); err != nil {
		return err
	}
	if err := u.drive(ctx, m.App, goalSupersede); err != nil {
		return fmt.Errorf("recovering an earlier deployment: %w", err)
	}
	if err := u.checkDisk(ctx); err != nil {
		return err
	}
	if err := u.checkStateDisk(m); err != nil {
		return err
	}
	plan, err := u.checkEmbedded(ctx, m)
	if err != nil {
		return err
	}
	d := &Deployment{Phase: PhaseDownloading, App: m.App, Artifact: readArtifactName(filesDir), Meta: raw, Params: m.Values(), PublicParams: m.Public(), Started: time.Now().UTC()}
	if m.Files != nil {
		d.Files = m.Files.Digest
	}
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
		ok, err := u.Engine.HasImage(ctx, img)
		if err != nil {
			return err
		}
		if !ok {
			d.Pulled = append(d.Pulled, img)
			pulls = append(pulls, img)
		}
	}
	// Journal first, so that a kill mid-pull still gets its images (and
	// its unpacked files) removed.
	if err := u.save(d); err != nil {
		return err
	}
	u.logf("app %s: artifact %s: %d image(s): %d to load from the artifact, %d to pull, %d already on the device", m.App, d.Artifact,
		len(m.Images()), len(plan.load), len(pulls), len(m.Images())-len(plan.load)-len(pulls))
	err = nil
	if len(m.Embedded) > 0 || m.Files != nil {
		reading = true
		err = u.readPayload(ctx, filesDir, m, plan)
	}
	if err == nil {
		err = u.checkFiles(m)
	}
	if err == nil {
		err = u.pullAll(ctx, pulls)
	}
	if err == nil {
		err = u.verifyEmbedded(ctx, m, plan)
	}
	if err != nil {
		u.logf("download failed; removing what it fetched")
		if cerr := u.drive(context.WithoutCancel(ctx), m.App, goalCleanup); cerr != nil {
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
