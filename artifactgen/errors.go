package artifactgen

import "errors"

var (
	// ErrNoImage: nothing to ship (no image, service, compose project or removal).
	ErrNoImage = errors.New("no image")
	// ErrNeedsEmbed: an option that works only with Embed.
	ErrNeedsEmbed = errors.New("goes with --embed")
)
