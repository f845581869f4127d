package artifactgen

import "errors"

var (
	// ErrUnknownImage: the registry has no such repository or tag.
	ErrUnknownImage = errors.New("unknown image")
	// ErrUnauthorized: the registry refused our credentials (or lack of them).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNoPlatform: a multi-platform image has no entry for --platform.
	ErrNoPlatform = errors.New("no manifest for the platform")
	// ErrInsecure: plain HTTP to a registry that was not allowed it.
	ErrInsecure = errors.New("refusing plain HTTP")
	// ErrTimeout: a registry did not answer in time.
	ErrTimeout = errors.New("timed out")
	// ErrNoOutputDir: the directory to write the artifact in is missing.
	ErrNoOutputDir = errors.New("does not exist")
	// ErrScriptName: a state script's name is not one Mender runs.
	ErrScriptName = errors.New("bad state script name")
	// ErrNoImage: nothing to ship (no image, service, compose project or removal).
	ErrNoImage = errors.New("no image")
	// ErrNeedsEmbed: an option that works only with Embed.
	ErrNeedsEmbed = errors.New("goes with --embed")
	// ErrKey: the signing key cannot be used.
	ErrKey = errors.New("unusable key")
	// ErrBadArtifact: an artifact being read is malformed or tampered with.
	ErrBadArtifact = errors.New("bad artifact")
	// ErrSignature: the signature does not verify with the given key.
	ErrSignature = errors.New("signature does not verify")
)
