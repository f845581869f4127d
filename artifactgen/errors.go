package artifactgen

import "errors"

var (
	// ErrNoImage: nothing to ship (no image, service, compose project or removal).
	ErrNoImage = errors.New("no image")
	// ErrNeedsEmbed: an option that works only with Embed.
	ErrNeedsEmbed = errors.New("goes with --embed")
	// ErrOutputIsDir: the output path is a directory, not a file to write.
	ErrOutputIsDir = errors.New("is a directory; give the artifact's file name")
	// ErrOutputNotDir: a preload's output path is a file, not a directory.
	ErrOutputNotDir = errors.New("is a file; preload writes a directory")
	// ErrNoStdout: output "-" without a writer to take the artifact.
	ErrNoStdout = errors.New("stdout: no writer given")
)
