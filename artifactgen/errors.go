package artifactgen

import "errors"

var (
	// ErrNoImage: nothing to ship (no image, service, compose project or removal).
	ErrNoImage = errors.New("no image")
	// ErrNeedsEmbed: an option that works only with Embed.
	ErrNeedsEmbed = errors.New("goes with --embed")
	// ErrOutputIsDir: the output path is a directory, not a file to write.
	ErrOutputIsDir = errors.New("is a directory; give the artifact's file name")
	// ErrNoStdout: output "-" without a writer to take the artifact.
	ErrNoStdout = errors.New("stdout: no writer given")
)
