package spec

import "errors"

// ErrInvalid wraps every validation error of this package, so that callers
// can tell bad input from other failures with errors.Is.
var ErrInvalid = errors.New("invalid meta-data")
