package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Document is the meta-data as it travels in an artifact: the generator
// fills one in and writes it with JSON, the module reads it with Decode and
// validates it into a Meta. It is the one definition of the format.
//
// Fields are in the order they are written; nil and empty are told apart
// where the format does (a "containers" of [] is an error, not absent).
type Document struct {
	App    string     `json:"app,omitempty"`
	Health *HealthDoc `json:"health,omitempty"`
	// Containers and RunArgs are the shell generator's form: every image
	// run with the same arguments. RunArgs is written whenever Containers
	// is, as the shell generator does.
	Containers []string `json:"containers,omitempty"`
	RunArgs    *string  `json:"run_args,omitempty"`
	// Services, each with its own arguments; or Compose; or Remove.
	Services Services `json:"services,omitempty"`
	Compose  *Compose `json:"compose,omitempty"`
	Remove   bool     `json:"remove,omitempty"`
	// Embedded images, by the reference that services name them with.
	Embedded map[string]Embedded `json:"embedded,omitempty"`
	// Params are default values of ${NAME} placeholders.
	Params map[string]string `json:"params,omitempty"`
}

// HealthDoc is Health as written: durations such as "10s".
type HealthDoc struct {
	Window  string `json:"window,omitempty"`
	Timeout string `json:"timeout,omitempty"`
}

// Doc is h as a document writes it: nil when both fields are zero (the
// device's defaults), a non-positive field left out.
func (h Health) Doc() *HealthDoc {
	if h.Window == 0 && h.Timeout == 0 {
		return nil
	}
	d := &HealthDoc{}
	if h.Window > 0 {
		d.Window = h.Window.String()
	}
	if h.Timeout > 0 {
		d.Timeout = h.Timeout.String()
	}
	return d
}

// ServiceDoc is one service of a document.
type ServiceDoc struct {
	// Name is the service's key in "services".
	Name    string   `json:"-"`
	Image   string   `json:"image"`
	RunArgs string   `json:"run_args,omitempty"`
	Command []string `json:"command,omitempty"`
	// field is how errors name the service when the legacy list form
	// gave it ("services[2]"); empty for the object form.
	field string
}

// Services are a document's services. They are written as an object keyed
// by name: Mender's meta-data rules forbid objects inside lists, and the
// client re-encodes the JSON with sorted keys, so services start in name
// order. The legacy form, a list of objects with a "name" each, is read
// too, in its own order.
type Services []ServiceDoc

// MarshalJSON writes the object form.
func (l Services) MarshalJSON() ([]byte, error) {
	byName := make(map[string]ServiceDoc, len(l))
	for _, s := range l {
		if _, dup := byName[s.Name]; dup {
			return nil, invalid("services: %q used twice", s.Name)
		}
		byName[s.Name] = s
	}
	return json.Marshal(byName)
}

// UnmarshalJSON reads either form, strictly: an unknown field is an error.
func (l *Services) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		var list []struct {
			Name string `json:"name"`
			ServiceDoc
		}
		if err := strictUnmarshal(trimmed, &list); err != nil {
			return invalid("services: %v", err)
		}
		out := make(Services, 0, len(list))
		for i, s := range list {
			s.ServiceDoc.Name = s.Name
			s.ServiceDoc.field = fmt.Sprintf("services[%d]", i)
			out = append(out, s.ServiceDoc)
		}
		*l = out
		return nil
	}
	var byName map[string]ServiceDoc
	if err := strictUnmarshal(trimmed, &byName); err != nil {
		return invalid("services: want an object of services by name: %v", err)
	}
	if byName == nil {
		return invalid("services: want an object of services by name")
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(Services, 0, len(names))
	for _, n := range names {
		s := byName[n]
		s.Name = n
		out = append(out, s)
	}
	*l = out
	return nil
}

func (s ServiceDoc) errField() string {
	if s.field != "" {
		return s.field
	}
	return "services." + s.Name
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// JSON writes d as an artifact carries it.
func (d Document) JSON() ([]byte, error) {
	type plain Document
	if d.Compose != nil {
		// Compose apps have always had params before embedded: kept, so
		// that the same inputs give the same artifact bytes. (The outer
		// field hides the inner one and comes after all of it.)
		return json.Marshal(struct {
			plain
			Embedded map[string]Embedded `json:"embedded,omitempty"`
		}{plain(d), d.Embedded})
	}
	return json.Marshal(plain(d))
}

// Decode reads a document strictly (an unknown field is an error) without
// validating its values: Parse does that. Every error wraps ErrInvalid.
func Decode(data []byte) (*Document, error) {
	if len(data) > MaxMetaDataBytes {
		return nil, invalid("too large: larger than %d bytes", MaxMetaDataBytes)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, invalid("empty: the artifact has no meta-data (want {\"containers\": [...]} or {\"services\": [...]})")
	}
	if trimmed[0] != '{' {
		return nil, invalid("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	// "app": "" is an invalid name, not an absent one.
	var raw struct {
		Document
		App *string `json:"app"`
	}
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, ErrInvalid) {
			return nil, err
		}
		return nil, invalid("not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return nil, invalid("trailing data after the JSON object")
	}
	d := raw.Document
	if raw.App != nil {
		if *raw.App == "" {
			return nil, invalid("app: \"\" must be 1-63 of a-z 0-9 _ . - and start with a letter or digit")
		}
		d.App = *raw.App
	}
	return &d, nil
}

// Check validates d as a device would, except that a placeholder without
// a default gets a stand-in value, so that the rest of its arguments are
// checked: the generator's check before it writes an artifact.
func (d *Document) Check() error {
	standIn := func(name string) (string, string, bool) {
		if v, ok := d.Params[name]; ok {
			return v, "default", true
		}
		return "1", "stand-in", true
	}
	_, err := d.clone().Meta(ParseOptions{Lookup: standIn})
	return err
}

// clone copies what Meta may change (the compose file's default).
func (d *Document) clone() *Document {
	c := *d
	if d.Compose != nil {
		cc := *d.Compose
		c.Compose = &cc
	}
	return &c
}
