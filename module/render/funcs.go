package render

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// funcs are the only functions a template may call: none reads the
// device's files, environment, network, clock or randomness.
var funcs = template.FuncMap{
	"attr":     attr,
	"default":  dflt,
	"required": required,
	"json":     toJSON,
	"yaml":     toYAML,
	"shell":    shellQuote,
	"ini":      iniQuote,
	"join":     join,
	"split":    func(sep, s string) []string { return strings.Split(s, sep) },
	"upper":    func(v any) string { return strings.ToUpper(toString(v)) },
	"lower":    func(v any) string { return strings.ToLower(toString(v)) },
	"trim":     func(v any) string { return strings.TrimSpace(toString(v)) },
	"replace":  func(old, new string, v any) string { return strings.ReplaceAll(toString(v), old, new) },
	"b64enc":   func(v any) string { return base64.StdEncoding.EncodeToString([]byte(toString(v))) },
	"b64dec":   b64dec,
	"toString": toString,
	"hasKey":   hasKey,
}

// attr is the attribute at path below dot, nil when it is missing: what
// a pipeline that calls default reads attributes with.
func attr(dot any, path string) any {
	v := dot
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[k]; !ok {
			return nil
		}
	}
	return v
}

func unset(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// dflt is default: default D V is V, or D when V is unset, null or "".
func dflt(d any, given ...any) any {
	if len(given) == 0 || unset(given[len(given)-1]) {
		return d
	}
	return given[len(given)-1]
}

func required(msg string, v any) (any, error) {
	if unset(v) {
		return nil, errors.New(msg)
	}
	return v, nil
}

// toString is v as text: a string as it is, a number or boolean as JSON
// writes it, null as "", a list or object as JSON.
func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool, int, int64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// toYAML writes v so that YAML reads it back as v: JSON is a subset of
// YAML (strings double-quoted, lists and objects in flow style).
func toYAML(v any) (string, error) { return toJSON(v) }

// shellQuote single-quotes v for sh: nothing inside is expanded.
func shellQuote(v any) string {
	return "'" + strings.ReplaceAll(toString(v), "'", `'\''`) + "'"
}

// iniQuote double-quotes v as an INI value, escaping \, " and line ends.
func iniQuote(v any) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(toString(v)) + `"`
}

// join is sep between the items of a list (or a single value as text).
func join(sep string, v any) string {
	switch l := v.(type) {
	case []any:
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = toString(e)
		}
		return strings.Join(parts, sep)
	case []string:
		return strings.Join(l, sep)
	}
	return toString(v)
}

func b64dec(v any) (string, error) {
	b, err := base64.StdEncoding.DecodeString(toString(v))
	if err != nil {
		return "", fmt.Errorf("b64dec: not base64")
	}
	return string(b), nil
}

func hasKey(m any, key string) bool {
	mm, ok := m.(map[string]any)
	if !ok {
		return false
	}
	_, ok = mm[key]
	return ok
}
