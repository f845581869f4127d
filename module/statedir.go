package module

import (
	"context"
	"io"
	"time"

	"github.com/mender-docker/mender-docker/module/journal"
)

// MoveStateDir is journal.Move, which owns the state directory's layout.
//
// Deprecated: call journal.Move; test/integration is the last caller.
func MoveStateDir(ctx context.Context, from, to string, wait time.Duration, logw io.Writer) error {
	return journal.Move(ctx, from, to, wait, logw)
}
