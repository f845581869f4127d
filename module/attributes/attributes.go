// Package attributes merges the layers of values that an app's templates
// and ${NAME} placeholders read: the artifact's defaults, then the device
// type's, the device's group's, the device's own (Mender Configure's
// device configuration and attributes.d), then the local override file;
// a later layer wins, and objects are merged key by key. It knows where
// each value came from and which values are secret, so that callers can
// show the one and hide the other.
package attributes

import "errors"

// Layer names, lowest first.
const (
	LayerArtifact = "artifact"
	LayerType     = "type"
	LayerGroup    = "group"
	LayerDevice   = "device"
	LayerLocal    = "local"
)

// ErrInvalid marks a device file that cannot be read as attributes.
var ErrInvalid = errors.New("invalid attributes")

// Sources are where the device keeps its layers. Empty fields are
// skipped.
type Sources struct {
	// Dir is attributes.d: *.json read in name order; type-<device
	// type>.json is the type layer, group-<group>.json the group layer,
	// any other *.json (not type-*/group-*) the device layer.
	Dir string
	// DeviceTypeFile is Mender's device_type file (device_type=NAME).
	DeviceTypeFile string
	// Group is the device's group; "" takes the Mender Configure key
	// "mender_docker_group", if any.
	Group string
	// MenderConfigure is Mender Configure's device-config.json: a flat
	// object of strings, a dotted key naming a nested attribute; part of
	// the device layer, above attributes.d.
	MenderConfigure string
	// Local are override files (attributes.local.json, the app's
	// params_dir/APP.json), the top layer, later files winning.
	Local []string
}

// Artifact is the artifact's own layer.
type Artifact struct {
	Values map[string]any
	// Secret are dotted paths secret in every layer.
	Secret []string
}

// Origin tells where the value of one leaf attribute came from.
type Origin struct {
	Path   string // dotted path
	Layer  string // one of the Layer names
	Source string // file, or "artifact"
	Secret bool
}

// Set is the merged attributes of one app.
type Set struct {
	data    map[string]any
	origins []Origin
}

// Load reads the device's layers from src and merges them over a.
func Load(src Sources, a Artifact) (*Set, error) {
	return nil, errors.New("attributes.Load: not implemented yet")
}

// Data is the merged attributes, as templates see them: maps, lists,
// strings, float64/json.Number, bools. Callers must not change it.
func (s *Set) Data() map[string]any { return s.data }

// Lookup is the value at a dotted path, and where it came from.
func (s *Set) Lookup(path string) (any, Origin, bool) { return nil, Origin{}, false }

// Text is the value at path as text for a ${NAME} placeholder: a string
// as it is, a number or boolean as JSON writes it; false for a missing
// path or an object or list.
func (s *Set) Text(path string) (string, bool) { return "", false }

// Origins are every leaf attribute's origin, sorted by path.
func (s *Set) Origins() []Origin { return s.origins }

// Secrets are the values of the secret attributes, as text, longest
// first: what must be masked in anything shown.
func (s *Set) Secrets() []string { return nil }

// Masked is Data with every secret leaf replaced by "***".
func (s *Set) Masked() map[string]any { return nil }
