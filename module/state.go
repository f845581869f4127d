package module

import (
	"encoding/json"
	"time"
)

// Phase is where a deployment stands. Each is written to the journal
// before the work it names begins.
type Phase string

const (
	PhaseDownloading Phase = "downloading"  // pulling images
	PhaseDownloaded  Phase = "downloaded"   // images present, nothing else changed
	PhaseInstalling  Phase = "installing"   // old set being swapped for the new
	PhaseInstalled   Phase = "installed"    // new set healthy, old set stopped
	PhaseCommitting  Phase = "committing"   // old set being removed: no way back
	PhaseRollingBack Phase = "rolling-back" // new set being removed, old restarted
	PhaseRolledBack  Phase = "rolled-back"  // old set back, images to tidy
	// PhaseReconfigured: the new set of a reconfiguration (Reconfigure) is
	// healthy; no Mender client will commit it, the module does.
	PhaseReconfigured Phase = "reconfigured"
)

// phases are the phases a journal may hold, each a row of lifecycle. The
// journal check reads this list, not the table, whose steps reach the
// check.
var phases = []Phase{PhaseDownloading, PhaseDownloaded, PhaseInstalling, PhaseInstalled, PhaseCommitting, PhaseRollingBack, PhaseRolledBack, PhaseReconfigured}

// Journal file names in the state directory, one of each per app.
const (
	deploymentFile = "deployment" // the deployment in flight
	installedFile  = "installed"  // what the last commit left
)

// Deployment is the journal of the update in flight for one app.
type Deployment struct {
	Phase    Phase           `json:"phase"`
	App      string          `json:"app"`
	Artifact string          `json:"artifact"`
	ID       string          `json:"id"` // value of LabelDeployment on new containers
	Meta     json.RawMessage `json:"meta"`
	// Params are the values Download gave the placeholders: later states
	// use these, whatever the device's files say by then.
	Params map[string]string `json:"params,omitempty"`
	// PublicParams name the Params that may be shown in logs and errors.
	PublicParams []string `json:"public_params,omitempty"`
	// Pulled are images that were absent before Download: removed again if
	// the update does not stick.
	Pulled []string `json:"pulled,omitempty"`
	// Files is the digest of the app's files archive this deployment
	// unpacked (its directory is filesDir of it); "" when it has none.
	Files string `json:"files,omitempty"`
	// Old is the app's set before the update, in the order it was listed.
	Old []OldContainer `json:"old,omitempty"`
	// Stopping is set before the old set's stop is sent: a stop that a
	// killed run had sent may still be carried out by the engine while
	// rollback runs, so rollback must then finish it before starting.
	Stopping bool      `json:"stopping,omitempty"`
	Started  time.Time `json:"started"`
	// Reconfigure: the deployment is a reconfiguration of the installed
	// artifact with the device's values as they are now (Reconfigure),
	// not a Mender deployment; the module commits it itself.
	Reconfigure bool `json:"reconfigure,omitempty"`
	// Rendered are the digests (hex) of the services' rendered templates,
	// by service: their directories are STATE_DIR/APP/rendered/<digest>.
	Rendered map[string]string `json:"rendered,omitempty"`
}

// OldContainer is one container of the previous set, as it was.
type OldContainer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Image   string `json:"image"`
	Running bool   `json:"running"`
	// Service is the service the container ran (our label, or Compose's
	// for an app that Docker Compose ran before).
	Service string `json:"service,omitempty"`
	// Stop is set, with Deployment.Stopping, before the container's stop
	// is sent: a rollback finishes only the stops that may be in flight,
	// so a hand-over that failed leaves the old container untouched.
	Stop bool `json:"stop,omitempty"`
	// Kept: the new artifact runs this container's configuration unchanged,
	// so it stays as it is, part of both the old and the new set. Decided
	// once, with the move to PhaseInstalling.
	Kept bool `json:"kept,omitempty"`
}

// kept tells whether the container id is one of the old set that the
// update keeps.
func (d *Deployment) kept(id string) bool {
	for _, o := range d.Old {
		if o.ID == id {
			return o.Kept
		}
	}
	return false
}

// Installed is what the last commit left for one app.
type Installed struct {
	Artifact string   `json:"artifact"`
	Images   []string `json:"images"`
	// Previous are the images of the set before, kept for one more update.
	Previous []string `json:"previous,omitempty"`
	// Files is the digest of the files archive the installed set mounts.
	Files string `json:"files,omitempty"`
	// Owned are those of Images and Previous that the module pulled or
	// loaded itself (absent before their Download): the only images a
	// commit removes. Records of earlier releases do not have it: their
	// images are kept.
	Owned []string `json:"owned,omitempty"`
	// Meta is the installed meta-data, as the artifact gave it: what
	// Reconfigure parses again with the device's values of the moment.
	// Records of earlier releases do not have it.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Rendered are the installed set's rendered templates (as for
	// Deployment.Rendered).
	Rendered map[string]string `json:"rendered,omitempty"`
}

// Labels the module puts on every container it creates.
const (
	LabelApp        = "io.mender.docker.app"
	LabelService    = "io.mender.docker.service"
	LabelArtifact   = "io.mender.docker.artifact"
	LabelDeployment = "io.mender.docker.deployment"
	// LabelConfigHash is the hash of the configuration the container was
	// created with (configHash): an update that asks for the same one
	// keeps the container.
	LabelConfigHash = "io.mender.docker.config-hash"
	// LabelOneShot marks the container of a service that another waits
	// for with service_completed_successfully: its exit with code 0 is its
	// success, for the health window and for `docker status` alike.
	LabelOneShot = "io.mender.docker.one-shot"
	// LabelImage is, on a container of an embedded image (created from
	// the image's ID), the reference the artifact names it by
	// (repo@sha256:…), for status to show. Not in the configuration hash:
	// the ID is.
	LabelImage = "io.mender.docker.image"
	// LabelName is, on a network or volume, its name in the meta-data
	// (the engine knows it as <app>_<name>).
	LabelName = "io.mender.docker.name"
)

// Labels Docker Compose puts on a project's containers: an app that
// Compose ran before this release is taken over by its first update.
const (
	ComposeProjectLabel = "com.docker.compose.project"
	ComposeServiceLabel = "com.docker.compose.service"
)

// prevSuffix is added to the names of the old set while the new set runs;
// nextSuffix to the names of new containers created while an old one still
// holds the name (it could not be renamed, or it hands over).
const (
	prevSuffix = "_prev"
	nextSuffix = "_next"
)
