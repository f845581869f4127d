package registryauth

import "errors"

var (
	// ErrNoCredentials: no file or helper has credentials for the
	// registry. The pull goes ahead anonymously (public images need none).
	ErrNoCredentials = errors.New("no credentials")
	// ErrMalformed: a credentials file is not the docker CLI's config.json
	// format.
	ErrMalformed = errors.New("malformed credentials file")
	// ErrHelper: a docker-credential-* helper failed, was missing, or did
	// not answer in time.
	ErrHelper = errors.New("credential helper failed")
)
