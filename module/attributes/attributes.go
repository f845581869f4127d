// Package attributes merges the layers of values that an app's templates
// and ${NAME} placeholders read: the artifact's defaults, then the device
// type's, the device's group's, the device's own (Mender Configure's
// device configuration and attributes.d), then the local override file;
// a later layer wins, and objects are merged key by key. It knows where
// each value came from and which values are secret, so that callers can
// show the one and hide the other.
package attributes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

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
	// Params names the one of Local that is a parameters file: its
	// values may be {"value": V, "public": true}, and a value not public
	// is secret (for logging: parameters were always hidden).
	Params string
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
	byPath  map[string]Origin
}

// Data is the merged attributes, as templates see them: maps, lists,
// strings, float64/json.Number, bools. Callers must not change it.
func (s *Set) Data() map[string]any { return s.data }

// Lookup is the value at a dotted path, and where it came from (for an
// object, only its Path).
func (s *Set) Lookup(path string) (any, Origin, bool) {
	var cur any = s.data
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, Origin{}, false
		}
		if cur, ok = m[k]; !ok {
			return nil, Origin{}, false
		}
	}
	o, ok := s.byPath[path]
	if !ok {
		o = Origin{Path: path}
	}
	return cur, o, true
}

// Text is the value at path as text for a ${NAME} placeholder: a string
// as it is, a number or boolean as JSON writes it; false for a missing
// path or an object or list.
func (s *Set) Text(path string) (string, bool) {
	v, _, ok := s.Lookup(path)
	if !ok {
		return "", false
	}
	return text(v)
}

// text is a scalar as text; false for an object or a list.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		// As encoding/json writes it (1e+21, not 21 digits).
		if b, err := json.Marshal(v); err == nil {
			return string(b), true
		}
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case map[string]any, []any:
		return "", false
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}

// Origins are every leaf attribute's origin, sorted by path.
func (s *Set) Origins() []Origin { return s.origins }

// Secrets are the values of the secret attributes, as text, longest
// first: what must be masked in anything shown.
func (s *Set) Secrets() []string {
	var out []string
	add := func(v any) {
		if t, ok := text(v); ok && t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, o := range s.origins {
		if !o.Secret {
			continue
		}
		v, _, _ := s.Lookup(o.Path)
		if l, ok := v.([]any); ok {
			for _, e := range l {
				add(e)
			}
			continue
		}
		add(v)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Masked is Data with every secret leaf replaced by "***".
func (s *Set) Masked() map[string]any {
	out := deepCopy(s.data).(map[string]any)
	for _, o := range s.origins {
		if !o.Secret {
			continue
		}
		parts := strings.Split(o.Path, ".")
		m := out
		for _, k := range parts[:len(parts)-1] {
			m = m[k].(map[string]any)
		}
		m[parts[len(parts)-1]] = "***"
	}
	return out
}

// Digest is "sha256:<hex>" over the canonical JSON of Data (keys sorted,
// numbers as their text) and the secret paths: it changes when a value
// or its secrecy changes, and not with the order keys were written in.
func (s *Set) Digest() string {
	secret := []string{}
	for _, o := range s.origins {
		if o.Secret {
			secret = append(secret, o.Path)
		}
	}
	b, err := json.Marshal(struct {
		Data   map[string]any `json:"data"`
		Secret []string       `json:"secret"`
	}{s.data, secret})
	if err != nil {
		// Only checked values are in data; a failure here is a bug.
		panic(fmt.Sprintf("attributes digest: %v", err))
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// deepCopy copies maps and lists, so that no layer shares them.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
