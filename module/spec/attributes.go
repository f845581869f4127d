package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Limits on the artifact's attributes: they are merged and rendered on a
// small device.
const (
	MaxAttributeDepth = 8
	maxAttributeKeys  = 1000
)

var attributeKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidAttributePath tells whether p is a dotted path of attribute names
// ("db.host").
func ValidAttributePath(p string) bool {
	parts := strings.Split(p, ".")
	if len(parts) > MaxAttributeDepth {
		return false
	}
	return !slices.ContainsFunc(parts, func(k string) bool { return !attributeKeyRE.MatchString(k) })
}

// CheckAttributes checks a layer of attributes: names for keys, scalar
// leaves or lists of scalars (Mender's meta-data allows no object inside
// a list), at most MaxAttributeDepth deep. field names the layer in
// errors ("attributes", or a device file).
func CheckAttributes(field string, v map[string]any) error {
	n := 0
	return checkAttrs(field, v, 1, &n)
}

func checkAttrs(field string, v map[string]any, depth int, n *int) error {
	if depth > MaxAttributeDepth {
		return fmt.Errorf("%s: nested deeper than %d", field, MaxAttributeDepth)
	}
	for k, x := range v {
		*n++
		if *n > maxAttributeKeys {
			return fmt.Errorf("%s: more than %d keys", field, maxAttributeKeys)
		}
		f := field + "." + k
		if !attributeKeyRE.MatchString(k) {
			return fmt.Errorf("%s: %q is not an attribute name ([A-Za-z_][A-Za-z0-9_]*)", field, k)
		}
		switch x := x.(type) {
		case map[string]any:
			if err := checkAttrs(f, x, depth+1, n); err != nil {
				return err
			}
		case []any:
			for i, e := range x {
				if !scalar(e) {
					return fmt.Errorf("%s[%d]: want a string, number or boolean", f, i)
				}
			}
		default:
			if !scalar(x) {
				return fmt.Errorf("%s: want a string, number, boolean, list or object", f)
			}
		}
	}
	return nil
}

func scalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, float64, int, int64, fmt.Stringer:
		return true
	}
	return false
}

// addAttributes reads the artifact's layer of attributes.
func (m *Meta) addAttributes(d *Document) error {
	if err := CheckAttributes("attributes", d.Attributes); err != nil {
		return invalid("%v", err)
	}
	for i, p := range d.SecretAttributes {
		if !ValidAttributePath(p) {
			return invalid("secret_attributes[%d]: %q is not a dotted path of attribute names", i, p)
		}
	}
	m.Attributes, m.SecretAttributes = d.Attributes, slices.Clone(d.SecretAttributes)
	return nil
}
