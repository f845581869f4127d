package module

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mender-docker/mender-docker/module/attributes"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/module/strictjson"
)

// appOf reads only the app of meta-data, so that states after Download
// can find their journal without resolving parameters again. The name is
// checked here too: every state builds paths from it.
func appOf(data []byte, defaultApp string) (string, error) {
	if len(data) > spec.MaxMetaDataBytes {
		return "", fmt.Errorf("%w: too large: larger than %d bytes", spec.ErrInvalid, spec.MaxMetaDataBytes)
	}
	// Only the key "app" exactly, and only once, as Decode reads it.
	if err := strictjson.Check(data, nil); err != nil {
		return "", fmt.Errorf("%w: %v", spec.ErrInvalid, err)
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("%w: not valid JSON", spec.ErrInvalid)
	}
	app := spec.DefaultApp
	raw, named := v["app"]
	named = named && string(raw) != "null"
	switch {
	case named:
		if err := json.Unmarshal(raw, &app); err != nil {
			return "", fmt.Errorf("%w: app: want a string", spec.ErrInvalid)
		}
	case defaultApp != "":
		app = defaultApp
	}
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("%w: app: %q must be 1-63 of a-z 0-9 _ . - and start with a letter or digit", spec.ErrInvalid, app)
	}
	return app, nil
}

// paramSource gives ${NAME} placeholders their values, and says which
// of them may be shown in logs and errors.
type paramSource struct {
	lookup func(string) (string, string, bool)
	public func(string) bool
}

// deviceParams reads the device's values for an app's ${NAME}
// placeholders, in order of precedence: the app's parameters file, then
// Mender Configure's device configuration.
func deviceParams(cfg config.Config, app string) (paramSource, error) {
	if !spec.ValidApp(app) {
		// The file name is built from it: never one outside params_dir.
		return paramSource{}, fmt.Errorf("%w: app: %q is not a valid app name", spec.ErrInvalid, app)
	}
	type source struct {
		file   string
		values map[string]string
		public map[string]bool
	}
	var sources []source
	var files []string
	if cfg.ParamsDir != "" {
		files = append(files, filepath.Join(cfg.ParamsDir, app+".json"))
	}
	if cfg.MenderConfigureFile != "" {
		files = append(files, cfg.MenderConfigureFile)
	}
	for _, file := range files {
		values, public, err := readParams(file)
		if err != nil {
			return paramSource{}, err
		}
		sources = append(sources, source{file, values, public})
	}
	find := func(name string) (source, bool) {
		for _, s := range sources {
			if _, ok := s.values[name]; ok {
				return s, true
			}
		}
		return source{}, false
	}
	// Then the other layers of the device's attributes (attributes.d,
	// the local file): a top-level attribute NAME, shown unless secret.
	set, err := attributes.Load(attributes.SourcesFor(cfg, app), attributes.Artifact{})
	if err != nil {
		return paramSource{}, err
	}
	return paramSource{
		lookup: func(name string) (string, string, bool) {
			if s, ok := find(name); ok {
				return s.values[name], s.file, true
			}
			if v, ok := set.Text(name); ok {
				_, o, _ := set.Lookup(name)
				return v, o.Layer + " " + o.Source, true
			}
			return "", "", false
		},
		public: func(name string) bool {
			if s, ok := find(name); ok {
				return s.public[name]
			}
			_, o, ok := set.Lookup(name)
			return ok && !o.Secret
		},
	}, nil
}

// readParams reads a JSON object of names to values; a missing file has
// none. Numbers and booleans count as their JSON text. A value given as
// {"value": V, "public": true} may be shown in logs and errors; every
// other value is hidden there.
func readParams(file string) (values map[string]string, public map[string]bool, err error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parameters %s: %w", file, err)
	}
	var raw map[string]json.RawMessage
	if err := strictjson.Check(data, raw); err != nil {
		return nil, nil, fmt.Errorf("parameters %s: %v", file, err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("parameters %s: want a JSON object of names to values: %v", file, err)
	}
	values, public = map[string]string{}, map[string]bool{}
	for k, v := range raw {
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
			if !valueForm(v) {
				// A nested attribute (an object of names), for templates:
				// no ${NAME} value.
				continue
			}
			var e struct {
				Value  json.RawMessage `json:"value"`
				Public bool            `json:"public"`
				Secret bool            `json:"secret"`
			}
			if err := strictjson.CheckIn(k, v, &e); err != nil {
				return nil, nil, fmt.Errorf("parameters %s: %v", file, err)
			}
			if err := json.Unmarshal(v, &e); err != nil || e.Value == nil {
				return nil, nil, fmt.Errorf("parameters %s: %s: want a value, or {\"value\": ..., \"public\": true}", file, k)
			}
			v, public[k] = e.Value, e.Public && !e.Secret
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			values[k] = s
		} else {
			values[k] = string(v)
		}
	}
	return values, public, nil
}

// valueForm tells whether an object in a parameters file is a value's
// form ({"value": V, "public": B} or {"secret": true, "value": V}, read
// strictly after): one with "value". Any other object is a nested
// attribute, for templates.
func valueForm(v json.RawMessage) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(v, &keys) != nil {
		return true // reported by the strict read
	}
	_, ok := keys["value"]
	return ok
}

// recorded gives the values Download resolved, and which of them it found
// public, so that every later state runs with the same values even if the
// device's files change.
func recorded(d *Deployment) paramSource {
	return paramSource{
		lookup: func(name string) (string, string, bool) {
			v, ok := d.Params[name]
			return v, "as resolved at Download", ok
		},
		public: func(name string) bool { return slices.Contains(d.PublicParams, name) },
	}
}
