// Package artifactgen will hold the docker-artifact-gen library: resolving
// image tags to digests through the registry API and writing Mender
// Artifact v3 files natively (issue 3). Until then, artifacts come from the
// shell docker-artifact-gen or from `mender-artifact write module-image -T
// docker` with meta-data in the format that package module/spec documents.
package artifactgen
