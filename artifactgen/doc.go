// Package artifactgen is the library behind docker-artifact-gen: it turns
// image tags into digests with registry API requests only (no layer is
// downloaded, no Docker engine needed), builds the update module's
// meta-data (validated with the same parser the module uses), and writes
// Mender Artifacts of format version 3 natively, optionally signed with an
// RSA or ECDSA P-256 key, deterministically for the same inputs and time.
// It also reads artifacts back, for the inspect command and the tests.
package artifactgen
