package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mender-docker/mender-docker/module/strictjson"
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
	// Services, each with its own arguments; or Remove.
	Services Services `json:"services,omitempty"`
	// Compose is the format of releases that ran Docker Compose on the
	// device: read only to refuse it with a message to regenerate.
	Compose *Compose `json:"compose,omitempty"`
	Remove  bool     `json:"remove,omitempty"`
	// RemoveVolumes, with Remove, also deletes the app's named volumes.
	RemoveVolumes bool `json:"remove_volumes,omitempty"`
	// Networks and Volumes the app's services use, by their short name;
	// on the engine they are called <app>_<name>.
	Networks map[string]NetworkDoc `json:"networks,omitempty"`
	Volumes  map[string]VolumeDoc  `json:"volumes,omitempty"`
	// Files is the payload file (a tar) holding the files that services
	// mount read-only: Compose configs, secrets and bind-mounted project
	// files.
	Files *FilesDoc `json:"files,omitempty"`
	// Embedded images, by the reference that services name them with.
	Embedded map[string]Embedded `json:"embedded,omitempty"`
	// Params are default values of ${NAME} placeholders.
	Params map[string]string `json:"params,omitempty"`
	// PublicParams name the params whose defaults may be shown in the
	// device's logs and errors; every other value is hidden there.
	PublicParams []string `json:"public_params,omitempty"`
	// Attributes are the artifact's layer of the attributes that
	// templates and ${NAME} placeholders read: the lowest, which every
	// layer on the device overrides key by key (see package attributes).
	// Values are strings, numbers, booleans, lists of those, or objects
	// of the same; keys are names ([A-Za-z_][A-Za-z0-9_]*).
	Attributes map[string]any `json:"attributes,omitempty"`
	// SecretAttributes name attributes (dotted paths, "db.password")
	// whose values are secret whichever layer gives them: never logged,
	// and files they are rendered into are mode 0600.
	SecretAttributes []string `json:"secret_attributes,omitempty"`
}

// NetworkDoc is a network of the app.
type NetworkDoc struct {
	// Internal networks have no route out of the host.
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// External: the network exists on the device, called Name (default:
	// the key itself, without the app's prefix); the module joins it and
	// never creates, changes or removes it. Internal and Labels are then
	// not allowed: they describe a network the app creates.
	External bool   `json:"external,omitempty"`
	Name     string `json:"name,omitempty"`
	// IPAM fixes the network's subnets (default: the engine picks one);
	// EnableIPv6 gives it IPv6 (an IPv6 subnet needs it).
	IPAM       *IPAMDoc `json:"ipam,omitempty"`
	EnableIPv6 bool     `json:"enable_ipv6,omitempty"`
}

// IPAMDoc is a network's address management, as Compose writes it.
type IPAMDoc struct {
	Driver string        `json:"driver,omitempty"`
	Config []IPAMPoolDoc `json:"config,omitempty"`
}

// IPAMPoolDoc is one subnet of a network.
type IPAMPoolDoc struct {
	Subnet       string            `json:"subnet"`
	IPRange      string            `json:"ip_range,omitempty"`
	Gateway      string            `json:"gateway,omitempty"`
	AuxAddresses map[string]string `json:"aux_addresses,omitempty"`
}

// AddressDoc is a service's static addresses on one network.
type AddressDoc struct {
	IPv4 string `json:"ipv4_address,omitempty"`
	IPv6 string `json:"ipv6_address,omitempty"`
}

// VolumeDoc is a named volume of the app (local driver, no options).
type VolumeDoc struct {
	Labels map[string]string `json:"labels,omitempty"`
	// External and Name: as for NetworkDoc.
	External bool   `json:"external,omitempty"`
	Name     string `json:"name,omitempty"`
}

// FilesDoc names the payload file with the files services mount.
type FilesDoc struct {
	// Archive is the payload file (a tar of regular files and directories).
	Archive string `json:"archive"`
	// Digest is the sha256 of the archive: where the device keeps its
	// content, so that unchanged files keep their containers.
	Digest string `json:"digest"`
}

// HealthcheckDoc is a health check as written: Test is in exec form
// (["CMD", "prog", "arg"], ["CMD-SHELL", "cmd"] or ["NONE"]).
type HealthcheckDoc struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	StartPeriod string   `json:"start_period,omitempty"`
	Retries     int      `json:"retries,omitempty"`
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
	// Entrypoint replaces the image's; a list of one empty string clears
	// it (the meta-data cannot tell an empty list from an absent one).
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Healthcheck replaces the image's HEALTHCHECK, in exec form.
	Healthcheck *HealthcheckDoc `json:"healthcheck,omitempty"`
	// Networks the service joins (short names from the top-level
	// networks), each with its aliases.
	Networks map[string][]string `json:"networks,omitempty"`
	// Addresses are static addresses on some of those networks, which
	// must then have ipam subnets that hold them.
	Addresses map[string]AddressDoc `json:"addresses,omitempty"`
	// DependsOn: services that must be started (service_started), healthy
	// (service_healthy) or exited 0 (service_completed_successfully)
	// before this one starts.
	DependsOn map[string]string `json:"depends_on,omitempty"`
	// Files mounts files of the artifact's files archive read-only:
	// container path -> path inside the archive.
	Files map[string]string `json:"files,omitempty"`
	// Templates are files of the archive rendered on the device, in
	// Download, with the app's attributes (Go text/template, the
	// functions of package render), then mounted read-only: container
	// path -> path inside the archive.
	Templates map[string]string `json:"templates,omitempty"`
	// Update is how an update replaces the container: "recreate" (the
	// default) or "hand-over".
	Update string `json:"update,omitempty"`
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
		if err := strictjson.CheckIn("services", trimmed, &list); err != nil {
			return invalid("%v", err)
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
	if err := strictjson.CheckIn("services", trimmed, &byName); err != nil {
		return invalid("%v", err)
	}
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

// strictUnmarshal decodes data into v refusing unknown fields, keys that
// match a field only when case is ignored, and keys given twice.
func strictUnmarshal(data []byte, v any) error {
	if err := strictjson.Check(data, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// JSON writes d as an artifact carries it.
func (d Document) JSON() ([]byte, error) {
	return json.Marshal(d)
}

// Decode reads a document strictly without validating its values: Parse
// does that. An unknown field is an error, and so are a key that is not
// exactly a field's name (encoding/json alone would take "APP" or
// "Run_Args") and a key given twice in one object (it would take the last):
// reviewers and tools must read the meta-data the module runs. Every error
// wraps ErrInvalid.
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
	// "app": "" is an invalid name, not an absent one.
	var raw struct {
		Document
		App *string `json:"app"`
	}
	if err := strictjson.Check(trimmed, &raw); err != nil {
		return nil, invalid("%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
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

// CheckDeclared is Check for meta-data whose every placeholder must be
// one of its params (a compiled Compose project: any other variable was
// interpolated on the workstation, so another ${NAME} would be refused by
// a device without that parameter and filled in by one with it).
func (d *Document) CheckDeclared() error {
	declared := func(name string) (string, string, bool) {
		v, ok := d.Params[name]
		return v, "default", ok
	}
	_, err := d.clone().Meta(ParseOptions{Lookup: declared})
	return err
}

// clone copies d: Meta changes nothing of it, but Check must not come to
// depend on that.
func (d *Document) clone() *Document {
	c := *d
	return &c
}
