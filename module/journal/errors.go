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
	// ErrBusy: WaitFlock gave up; another process holds the lock.
	ErrBusy = errors.New("lock held by another process")
)
