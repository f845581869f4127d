package image

import "errors"

var (
	// ErrUnknownImage: the registry has no such repository or tag.
	ErrUnknownImage = errors.New("unknown image")
	// ErrUnauthorized: the registry refused our credentials (or lack of them).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNoPlatform: the image has nothing for the platform asked for.
	ErrNoPlatform = errors.New("no manifest for the platform")
	// ErrInsecure: plain HTTP to a registry that was not allowed it.
	ErrInsecure = errors.New("refusing plain HTTP")
	// ErrTimeout: a registry did not answer in time.
	ErrTimeout = errors.New("timed out")
)
