package render

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// fn is a template function: its arguments as the template gave them.
type fn func(args []any) (any, error)

// funcs are the only functions a template may call: none reads the
// device's files, environment, network, clock or randomness.
var funcs map[string]fn

// funcNames are funcs' names, for the parser.
var funcNames map[string]any

func init() {
	funcs = map[string]fn{
		"attr":     fixed(2, func(a []any) (any, error) { return attr(a[0], toString(a[1])), nil }),
		"default":  dflt,
		"required": fixed(2, func(a []any) (any, error) { return required(toString(a[0]), a[1]) }),
		"json":     fixed(1, func(a []any) (any, error) { return toJSON(a[0]) }),
		"yaml":     fixed(1, func(a []any) (any, error) { return toJSON(a[0]) }), // JSON is YAML
		"shell":    str1(func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }),
		"ini":      str1(iniQuote),
		"join":     fixed(2, func(a []any) (any, error) { return join(toString(a[0]), a[1]), nil }),
		"split":    fixed(2, func(a []any) (any, error) { return toList(strings.Split(toString(a[1]), toString(a[0]))), nil }),
		"upper":    str1(strings.ToUpper),
		"lower":    str1(strings.ToLower),
		"trim":     str1(strings.TrimSpace),
		"replace": fixed(3, func(a []any) (any, error) {
			return strings.ReplaceAll(toString(a[2]), toString(a[0]), toString(a[1])), nil
		}),
		"b64enc":   str1(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }),
		"b64dec":   fixed(1, b64dec),
		"toString": str1(func(s string) string { return s }),
		"hasKey":   fixed(2, func(a []any) (any, error) { return hasKey(a[0], toString(a[1])), nil }),
		// The usual builtins of text/template.
		"not":    fixed(1, func(a []any) (any, error) { return !truth(a[0]), nil }),
		"and":    andOr(false),
		"or":     andOr(true),
		"eq":     compare(func(c int) bool { return c == 0 }),
		"ne":     compare(func(c int) bool { return c != 0 }),
		"lt":     compare(func(c int) bool { return c < 0 }),
		"le":     compare(func(c int) bool { return c <= 0 }),
		"gt":     compare(func(c int) bool { return c > 0 }),
		"ge":     compare(func(c int) bool { return c >= 0 }),
		"len":    fixed(1, length),
		"index":  index,
		"print":  func(a []any) (any, error) { return fmt.Sprint(texts(a)...), nil },
		"printf": printf,
	}
	funcNames = map[string]any{}
	for k := range funcs {
		funcNames[k] = true
	}
}

// fixed is f, called with exactly n arguments.
func fixed(n int, f fn) fn {
	return func(a []any) (any, error) {
		if len(a) != n {
			return nil, fmt.Errorf("wants %d argument(s), got %d", n, len(a))
		}
		return f(a)
	}
}

func str1(f func(string) string) fn {
	return fixed(1, func(a []any) (any, error) { return f(toString(a[0])), nil })
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
func dflt(a []any) (any, error) {
	switch len(a) {
	case 1:
		return a[0], nil
	case 2:
		if unset(a[1]) {
			return a[0], nil
		}
		return a[1], nil
	}
	return nil, fmt.Errorf("wants 2 arguments, got %d", len(a))
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
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func texts(a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		out[i] = printed(v)
	}
	return out
}

func printf(a []any) (any, error) {
	if len(a) == 0 {
		return nil, errors.New("wants a format")
	}
	args := make([]any, len(a)-1)
	for i, v := range a[1:] {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				v = f
			}
		}
		args[i] = v
	}
	format := toString(a[0])
	if bigWidth.MatchString(format) {
		// %999999999d would allocate a gigabyte before the output
		// limit could see it.
		return nil, errors.New("printf: width or precision over 9999")
	}
	return fmt.Sprintf(format, args...), nil
}

var bigWidth = regexp.MustCompile(`%[-+# 0]*(\d{5,}|[^%]*\.\d{5,})`)

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// iniQuote double-quotes s as an INI value, escaping \, " and line ends.
func iniQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

func toList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// join is sep between the items of a list (or a single value as text).
func join(sep string, v any) string {
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = toString(e)
		}
		return strings.Join(parts, sep)
	}
	return toString(v)
}

func b64dec(a []any) (any, error) {
	b, err := base64.StdEncoding.DecodeString(toString(a[0]))
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

func andOr(or bool) fn {
	return func(a []any) (any, error) {
		if len(a) == 0 {
			return nil, errors.New("wants arguments")
		}
		for _, v := range a[:len(a)-1] {
			if truth(v) == or {
				return v, nil
			}
		}
		return a[len(a)-1], nil
	}
}

// number is v as a float when it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// compare compares two numbers as numbers, anything else as text.
func compare(ok func(int) bool) fn {
	return fixed(2, func(a []any) (any, error) {
		x, xn := number(a[0])
		y, yn := number(a[1])
		if xn && yn {
			c := 0
			if x < y {
				c = -1
			} else if x > y {
				c = 1
			}
			return ok(c), nil
		}
		return ok(strings.Compare(toString(a[0]), toString(a[1]))), nil
	})
}

func length(a []any) (any, error) {
	switch x := a[0].(type) {
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	case string:
		return int64(len(x)), nil
	}
	return nil, fmt.Errorf("len of %s", toString(a[0]))
}

func index(a []any) (any, error) {
	if len(a) < 1 {
		return nil, errors.New("wants a list or object")
	}
	v := a[0]
	for _, k := range a[1:] {
		switch x := v.(type) {
		case []any:
			i, ok := number(k)
			if !ok || i < 0 || int(i) >= len(x) {
				return nil, fmt.Errorf("index %s out of range", toString(k))
			}
			v = x[int(i)]
		case map[string]any:
			v = x[toString(k)]
		default:
			return nil, fmt.Errorf("can't index %s", toString(v))
		}
	}
	return v, nil
}
