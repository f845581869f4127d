package module

import (
	"context"
	"io"
)

// The dispatcher: the protocol's states, each mapped to its goal. Nothing
// in the package calls into this file; it calls down into the goals
// (lifecycle.go), which call the steps and the deployment's methods.

// Run carries out state for the deployment whose files are in filesDir,
// writing protocol answers (and nothing else) to stdout.
func (u *Updater) Run(ctx context.Context, state, filesDir string, stdout io.Writer) error {
	switch state {
	case "NeedsArtifactReboot":
		_, err := io.WriteString(stdout, "No\n")
		return err
	case "SupportsRollback":
		_, err := io.WriteString(stdout, "Yes\n")
		return err
	}
	var work func(context.Context) error
	switch state {
	case "Download":
		work = func(ctx context.Context) error { return u.Download(ctx, filesDir) }
	case "ArtifactInstall":
		work = func(ctx context.Context) error { return u.Install(ctx, filesDir) }
	case "ArtifactCommit":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, goalCommit) }
	case "ArtifactRollback":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, goalRollback) }
	case "ArtifactFailure":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, goalSettle) }
	case "Cleanup":
		work = func(ctx context.Context) error { return u.forApps(ctx, filesDir, goalCleanup) }
	default:
		// Unknown states (including the reboot states we never ask for)
		// are no-ops by the protocol.
		return nil
	}
	return u.locked(ctx, work)
}
