package compose

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/mender-docker/mender-docker/module/render"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The project's top-level extensions for configuration at runtime.
const (
	TemplatesExtension        = "x-mender-templates"
	AttributesExtension       = "x-mender-attributes"
	SecretAttributesExtension = "x-mender-secret-attributes"
)

// attributeFiles are looked for beside the compose file, when
// x-mender-attributes names none.
var attributeFiles = []string{"attributes.yml", "attributes.yaml", "attributes.json"}

// maxTemplate is the size of the largest template the device renders.
const maxTemplate = 1 << 20

// ReadAttributes reads a layer of attributes from a YAML or JSON file, as
// the device will decode it from the meta-data (numbers as float64), and
// checks it; errors name the file and the key.
func ReadAttributes(file string) (map[string]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(file)
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if v == nil {
		return nil, nil
	}
	// Through JSON, so that the generator writes what the device reads.
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: keys must be strings: %w", name, err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: want a mapping of attributes at the top", name)
	}
	if err := spec.CheckAttributes(name, m); err != nil {
		return nil, err
	}
	return m, nil
}

// CheckSecretAttributes checks dotted paths of secret attributes; field
// names them in errors.
func CheckSecretAttributes(field string, paths []string) error {
	for i, p := range paths {
		if !spec.ValidAttributePath(p) {
			return fmt.Errorf("%s[%d]: %q is not a dotted path of attribute names", field, i, p)
		}
	}
	return nil
}

// CheckTemplate checks a template (name as the user knows the file) as
// the device will parse it.
func CheckTemplate(name string, text []byte) error {
	if len(text) > maxTemplate {
		return fmt.Errorf("%s: larger than %d bytes", name, maxTemplate)
	}
	return render.Check(name, text)
}

// attributes reads the project's artifact layer and its secret paths.
func attributes(dir string, p *types.Project) (map[string]any, []string, error) {
	file, err := attributesFile(dir, p)
	if err != nil {
		return nil, nil, err
	}
	var attrs map[string]any
	if file != "" {
		if attrs, err = ReadAttributes(file); err != nil {
			return nil, nil, err
		}
	}
	secrets, err := stringList(p, SecretAttributesExtension)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckSecretAttributes(SecretAttributesExtension, secrets); err != nil {
		return nil, nil, err
	}
	return attrs, secrets, nil
}

func attributesFile(dir string, p *types.Project) (string, error) {
	if x, ok := p.Extensions[AttributesExtension]; ok {
		f, ok := x.(string)
		if !ok || f == "" {
			return "", fmt.Errorf("%s: want a file name", AttributesExtension)
		}
		abs, err := inside(dir, f)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", AttributesExtension, f, err)
		}
		return abs, nil
	}
	var found []string
	for _, n := range attributeFiles {
		if isFile(filepath.Join(dir, n)) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(dir, found[0]), nil
	}
	return "", fmt.Errorf("%s: only one attributes file may be beside the compose file (or name one with %s)", strings.Join(found, ", "), AttributesExtension)
}

// templateList reads x-mender-templates: project files, as their names
// in the files archive.
func templateList(dir string, p *types.Project) (map[string]bool, error) {
	list, err := stringList(p, TemplatesExtension)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i, f := range list {
		abs, err := inside(dir, f)
		if err == nil && !isFile(abs) {
			err = fmt.Errorf("not a file")
		}
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %s: %w", TemplatesExtension, i, f, err)
		}
		rel, _ := filepath.Rel(dir, abs)
		out[path.Join("project", filepath.ToSlash(rel))] = false
	}
	return out, nil
}

func stringList(p *types.Project, key string) ([]string, error) {
	x, ok := p.Extensions[key]
	if !ok {
		return nil, nil
	}
	l, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list of strings", key)
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: want a string", key, i)
		}
		out[i] = s
	}
	return out, nil
}

// isTemplate tells whether the archive file name is a template: a project
// file named *.tmpl or listed in x-mender-templates. It marks a listed one
// used.
func (c *compiler) isTemplate(name string) bool {
	e, ok := c.files.entries[name]
	if !ok || e.disk == "" || e.isDir {
		return false
	}
	if _, listed := c.templates[name]; listed {
		c.templates[name] = true
		return true
	}
	return strings.HasSuffix(name, ".tmpl")
}

// checkTemplate checks the template at name in the archive.
func (c *compiler) checkTemplate(name string) error {
	data, err := os.ReadFile(c.files.entries[name].disk)
	if err != nil {
		return err
	}
	return CheckTemplate(strings.TrimPrefix(name, "project/"), data)
}

// unusedTemplates refuses an x-mender-templates entry no service mounts.
func (c *compiler) unusedTemplates() error {
	for _, n := range slices.Sorted(maps.Keys(c.templates)) {
		if !c.templates[n] {
			return fmt.Errorf("%s: %s is mounted by no service (as a config, secret or bind)", TemplatesExtension, strings.TrimPrefix(n, "project/"))
		}
	}
	return nil
}
