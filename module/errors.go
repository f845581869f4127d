package module

import "errors"

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
)
