package imagearchive

import "errors"

// ErrRefused: a tar in the payload is refused (sparse entries, names
// outside it, too big, or an image archive that is not the one the
// meta-data names). module.ErrArchive is this error.
var ErrRefused = errors.New("payload archive refused")
