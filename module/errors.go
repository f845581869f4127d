package module

import (
	"errors"

	"github.com/mender-docker/mender-docker/module/imagearchive"
)

var (
	// ErrUnhealthy: the new containers did not stay up or become healthy.
	ErrUnhealthy = errors.New("new containers failed the health check")
	// ErrNoDeployment: a state needs a deployment that the journal lacks.
	ErrNoDeployment = errors.New("no deployment in progress")
	// ErrCommitted: rollback asked for after commit had begun; the commit
	// was finished instead.
	ErrCommitted = errors.New("the update was already being committed")
	// ErrDiskSpace: not enough free space on the engine's disk.
	ErrDiskSpace = errors.New("not enough free disk space")
	// ErrMissingBase: a delta artifact needs layers the device lacks.
	ErrMissingBase = errors.New("missing base layers")
	// ErrPayload: the payload did not bring an embedded image or the files
	// archive it lists.
	ErrPayload = errors.New("not in the payload")
	// ErrAppLocked: the app held its update lock for longer than the
	// install would wait.
	ErrAppLocked = errors.New("the app holds its update lock")
	// ErrArchive: a tar in the payload is refused (sparse entries, too
	// big, or an image archive that is not the one the meta-data names);
	// the image archive's package owns it.
	ErrArchive = imagearchive.ErrRefused
	// ErrUnsafePath: a path in the state directory that the module would
	// hand to the engine is a symbolic link or not what the module made.
	ErrUnsafePath = errors.New("unsafe path in the state directory")
	// ErrInFlight: reconfigure asked for while a Mender deployment of the
	// app is in flight.
	ErrInFlight = errors.New("a deployment is in flight")
	// ErrNotReconfigurable: reconfigure asked for an app with no installed
	// meta-data (not installed, or installed by an earlier release).
	ErrNotReconfigurable = errors.New("no installed meta-data to reconfigure")
)
