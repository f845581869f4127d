package compose

import "errors"

var (
	// ErrUnsupported: a Compose key the device cannot run, refused at
	// generation rather than silently dropped.
	ErrUnsupported = errors.New("not supported")
	// ErrParamInStructure: a device parameter (${NAME}) where the device
	// substitutes none, in a key that decides the container's structure.
	ErrParamInStructure = errors.New("parameters are allowed only in values")
	// ErrOutsideProject: a file the app needs lies outside the project
	// directory.
	ErrOutsideProject = errors.New("outside the project directory")
	// ErrWritableBind: a writable bind of project files, which the device
	// can only ship as a read-only copy.
	ErrWritableBind = errors.New("a writable bind of project files")
)
