package artifactgen

import "errors"

// Errors name the Request and Options fields, not the command's flags: the
// command (artifactgen/cli) says them in its own words.
var (
	// ErrNoImage: nothing to ship (no image, service, compose project or removal).
	ErrNoImage = errors.New("no image")
	// ErrNeedsEmbed: an option that works only with Embed.
	ErrNeedsEmbed = errors.New("goes with Embed")
	// ErrOutputIsDir: the output path is a directory, not a file to write.
	ErrOutputIsDir = errors.New("is a directory; give the artifact's file name")
	// ErrOutputNotDir: a preload's output path is a file, not a directory.
	ErrOutputNotDir = errors.New("is a file; preload writes a directory")
	// ErrNoStdout: output "-" without a writer to take the artifact.
	ErrNoStdout = errors.New("stdout: no writer given")
	// ErrServiceSyntax: a service not given as NAME=IMAGE[,RUN-ARGS].
	ErrServiceSyntax = errors.New("want NAME=IMAGE[,RUN-ARGS]")
	// ErrServiceTwice: two services of one name.
	ErrServiceTwice = errors.New("the name is used twice")
	// ErrRemoveAppAlone: a removal that names no app, or ships images too.
	ErrRemoveAppAlone = errors.New("RemoveApp: give App and no Images, Services or RunArgs")
	// ErrNeedsRemoveApp: RemoveVolumes without RemoveApp.
	ErrNeedsRemoveApp = errors.New("RemoveVolumes goes with RemoveApp")
	// ErrImagesAndServices: both forms of the app at once.
	//lint:ignore ST1005 the text starts with the Images field's name
	ErrImagesAndServices = errors.New("Images and Services: give one or the other")
	// ErrRunArgsWithServices: RunArgs, which go with Images, given with Services.
	ErrRunArgsWithServices = errors.New("RunArgs: with Services, give each service its own arguments")
	// ErrComposeWithImages: a Compose project and images or services too.
	ErrComposeWithImages = errors.New("give no Images or Services with it")
	// ErrTemplatesNeedServices: templates for the Images form, which has
	// no services to mount them in.
	ErrTemplatesNeedServices = errors.New("goes with Services")
	// ErrTemplatesWithCompose: templates given beside a Compose project.
	ErrTemplatesWithCompose = errors.New("a Compose project mounts its templates itself (*.tmpl or x-mender-templates)")
	// ErrAttributesTwice: attributes given and a Compose project's too.
	ErrAttributesTwice = errors.New("the Compose project has an attributes file too: give one")
	// ErrMissing: a field that must be set.
	ErrMissing = errors.New("must be given")
	// ErrNoDeviceType: no device type to depend on.
	ErrNoDeviceType = errors.New("at least one must be given")
	// ErrReservedProvide: a payload provide the artifact's own fields set.
	ErrReservedProvide = errors.New("set it with ArtifactName or ProvidesGroup")
)
