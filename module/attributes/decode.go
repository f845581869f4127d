package attributes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/module/strictjson"
)

// kind is the form of a file's values.
type kind int

const (
	// kindAttributes: attributes.d and attributes.local.json; a value
	// may be {"secret": true, "value": V}.
	kindAttributes kind = iota
	// kindMenderConfigure: a flat object of scalars, dotted keys; keys
	// that are no attribute path are other tools' and skipped.
	kindMenderConfigure
	// kindParams: params_dir/APP.json; a value may be {"value": V,
	// "public": true}, and one not public is secret.
	kindParams
)

// readLayer reads file as one layer; none for a missing file.
func readLayer(name, file string, k kind) ([]layer, error) {
	data, err := readFile(file)
	if data == nil || err != nil {
		return nil, err
	}
	raw, err := decodeJSON(file, data)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file, kind: k, secret: map[string]bool{}}
	values := map[string]any{}
	if err := d.object(values, "", raw, true); err != nil {
		return nil, err
	}
	if err := spec.CheckAttributes(file, values); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return []layer{{name: name, source: file, values: values, secret: d.secret}}, nil
}

// decodeJSON decodes one JSON object, numbers kept as their text; a key
// given twice is refused.
func decodeJSON(file string, data []byte) (map[string]any, error) {
	if err := strictjson.Check(data, nil); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")) + 1
			// Not json's message: it quotes a character of the text,
			// which may be part of a secret.
			return nil, fmt.Errorf("%w: %s:%d: not valid JSON", ErrInvalid, file, line)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: %s: data after the JSON object", ErrInvalid, file)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s: want a JSON object of attributes", ErrInvalid, file)
	}
	return m, nil
}

// decoder turns one file's JSON into attribute values.
type decoder struct {
	file   string
	kind   kind
	secret map[string]bool
}

// object puts the members of src into dst (at path prefix); a dotted key
// sets a nested attribute. Keys go in sorted order, so that "db" comes
// before "db.host" and a path given twice is found either way.
func (d *decoder) object(dst map[string]any, prefix string, src map[string]any, top bool) error {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := join(prefix, k)
		if !spec.ValidAttributePath(k) {
			if d.kind == kindMenderConfigure {
				continue
			}
			return fmt.Errorf("%w: %s: %q is not an attribute name or dotted path ([A-Za-z_][A-Za-z0-9_]*)", ErrInvalid, d.file, p)
		}
		v, secret, err := d.value(p, src[k], top)
		if err != nil {
			return err
		}
		if err := d.put(dst, prefix, k, v); err != nil {
			return err
		}
		if secret {
			markLeaves(d.secret, p, v)
		}
	}
	return nil
}

// value checks and converts the value at path p; secret when the file
// marked it so.
func (d *decoder) value(p string, v any, top bool) (any, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		if d.kind == kindMenderConfigure && !top {
			return nil, false, fmt.Errorf("%w: %s: %s: want a string", ErrInvalid, d.file, p)
		}
		// Mender Configure's file takes the parameters file's value form
		// too, as ${NAME} read it before attributes.
		if (d.kind == kindParams || d.kind == kindMenderConfigure) && top {
			return d.param(p, x)
		}
		if s, ok := x["secret"].(bool); ok && len(x) == 2 && hasKey(x, "value") {
			val, _, err := d.plain(p, x["value"])
			return val, s, err
		}
		out := map[string]any{}
		return out, false, d.object(out, p, x, false)
	}
	val, _, err := d.plain(p, v)
	// A parameters file's value is hidden unless the file says public.
	return val, d.kind == kindParams && top, err
}

// plain is a value with no secret marks inside: a scalar, a list of
// scalars or an object.
func (d *decoder) plain(p string, v any) (any, bool, error) {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, false, nil
	case []any:
		for i, e := range x {
			switch e.(type) {
			case nil, string, bool, json.Number:
			default:
				return nil, false, fmt.Errorf("%w: %s: %s[%d]: want a string, number or boolean (no object or list inside a list)", ErrInvalid, d.file, p, i)
			}
		}
		return x, false, nil
	case map[string]any:
		out := map[string]any{}
		sub := &decoder{file: d.file, kind: kindAttributes, secret: map[string]bool{}}
		if err := sub.object(out, p, x, false); err != nil {
			return nil, false, err
		}
		for q := range sub.secret {
			d.secret[q] = true
		}
		return out, false, nil
	}
	return nil, false, fmt.Errorf("%w: %s: %s: want a string, number, boolean, list or object", ErrInvalid, d.file, p)
}

// param reads a parameters file's {"value": V, "public": true}.
func (d *decoder) param(p string, x map[string]any) (any, bool, error) {
	public, okp := x["public"].(bool)
	_, hasPublic := x["public"]
	if !hasKey(x, "value") || hasPublic && !okp || len(x) > 2 || len(x) == 2 && !hasPublic {
		return nil, false, fmt.Errorf("%w: %s: %s: want a value, or {\"value\": ..., \"public\": true}", ErrInvalid, d.file, p)
	}
	val, _, err := d.plain(p, x["value"])
	return val, !public, err
}

// put sets dst's dotted key k (below prefix) to v: a path set twice in
// one file, flat and nested, is refused.
func (d *decoder) put(dst map[string]any, prefix, k string, v any) error {
	parts := strings.Split(k, ".")
	for i, part := range parts[:len(parts)-1] {
		next, ok := dst[part]
		if !ok {
			next = map[string]any{}
			dst[part] = next
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: %s: %s: set twice (%s is not an object)", ErrInvalid, d.file, join(prefix, k), join(prefix, strings.Join(parts[:i+1], ".")))
		}
		dst = m
	}
	last := parts[len(parts)-1]
	if _, ok := dst[last]; ok {
		return fmt.Errorf("%w: %s: %s: set twice (as a dotted key and nested)", ErrInvalid, d.file, join(prefix, k))
	}
	dst[last] = v
	return nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// markLeaves marks every leaf at or below p secret.
func markLeaves(secret map[string]bool, p string, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			markLeaves(secret, join(p, k), x)
		}
		return
	}
	secret[p] = true
}
