package module

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/module/strictjson"
)

// appOf reads only the app of meta-data, so that states after Download
// can find their journal without resolving parameters again. The name is
// checked here too: every state builds paths from it.
func (u *Updater) appOf(data []byte) (string, error) {
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
	case u.Config.DefaultApp != "":
		app = u.Config.DefaultApp
	}
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("%w: app: %q must be 1-63 of a-z 0-9 _ . - and start with a letter or digit", spec.ErrInvalid, app)
	}
	return app, nil
}

// deviceParams reads the device's values for an app's ${NAME}
// placeholders, in order of precedence: the app's parameters file, then
// Mender Configure's device configuration.
func (u *Updater) deviceParams(app string) (func(string) (string, string, bool), error) {
	if !spec.ValidApp(app) {
		// The file name is built from it: never one outside params_dir.
		return nil, fmt.Errorf("%w: app: %q is not a valid app name", spec.ErrInvalid, app)
	}
	var sources []struct {
		file   string
		values map[string]string
	}
	var files []string
	if u.Config.ParamsDir != "" {
		files = append(files, filepath.Join(u.Config.ParamsDir, app+".json"))
	}
	if u.Config.MenderConfigureFile != "" {
		files = append(files, u.Config.MenderConfigureFile)
	}
	for _, file := range files {
		values, err := readParams(file)
		if err != nil {
			return nil, err
		}
		sources = append(sources, struct {
			file   string
			values map[string]string
		}{file, values})
	}
	return func(name string) (string, string, bool) {
		for _, s := range sources {
			if v, ok := s.values[name]; ok {
				return v, s.file, true
			}
		}
		return "", "", false
	}, nil
}

// readParams reads a JSON object of names to values; a missing file has
// none. Numbers and booleans count as their JSON text.
func readParams(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("parameters %s: %w", file, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parameters %s: want a JSON object of names to values: %v", file, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out, nil
}

// recorded looks values up in what Download resolved, so that every later
// state runs with the same values even if the device's files change.
func recorded(values map[string]string) func(string) (string, string, bool) {
	return func(name string) (string, string, bool) {
		v, ok := values[name]
		return v, "as resolved at Download", ok
	}
}
