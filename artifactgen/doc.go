// Package artifactgen is the library behind docker-artifact-gen: Generate
// takes a Request (the artifact's options, images as given, where they come
// from and where to write) and writes the artifact; Preload writes the
// directory an OS image carries instead. It builds the update module's
// meta-data (validated with the same parser the module uses) over three
// sub-packages, split as mender-artifact splits its own: image (pinning
// references, fetching, embedding and deltas), compose (compiling Compose projects)
// and artifact (the format's writer, reader and signatures).
package artifactgen
