package journal

import "errors"

var (
	// ErrNone: there is no such file (a normal state, not a failure).
	ErrNone = errors.New("no journal")
	// ErrBadApp: the app's name cannot be a directory of the state
	// directory (it would lead out of it).
	ErrBadApp = errors.New("not a valid app name")
	// ErrCorrupt: a journal file exists but cannot be read back.
	ErrCorrupt = errors.New("corrupted")
	// ErrUnsafe: the state directory, or an app's directory in it, can
	// be changed by others than the module (writable by group or others,
	// owned by another user, or a symbolic link where a directory was).
	ErrUnsafe = errors.New("unsafe state directory")
	// ErrLocked: another process held the state directory for longer
	// than the caller would wait.
	ErrLocked = errors.New("state directory is in use by another module process")
	// ErrBusy: WaitFlock gave up; another process holds the lock.
	ErrBusy = errors.New("lock held by another process")
)
