package artifact

import "errors"

var (
	// ErrKey: the signing key cannot be used.
	ErrKey = errors.New("unusable key")
	// ErrBadArtifact: an artifact being read is malformed or tampered with.
	ErrBadArtifact = errors.New("bad artifact")
	// ErrSignature: the signature does not verify with the given key.
	ErrSignature = errors.New("signature does not verify")
	// ErrNoOutputDir: the directory to write the artifact in is missing.
	ErrNoOutputDir = errors.New("does not exist")
	// ErrScriptName: a state script's name is not one Mender runs.
	ErrScriptName = errors.New("bad state script name")
)
