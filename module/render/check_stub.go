package render

// A stand-in for the render branch's Check, so that the generator
// compiles and is tested before it is merged; deleted on that merge.

import (
	"fmt"
	"text/template"
)

// stubFuncs are the names of design21's function set; bodies do not
// matter for a check.
var stubFuncs = func() template.FuncMap {
	m := template.FuncMap{}
	for _, n := range []string{"default", "required", "json", "yaml", "shell", "ini", "join", "split", "upper", "lower", "trim", "replace", "b64enc", "b64dec", "toString", "hasKey"} {
		m[n] = func(...any) any { return nil }
	}
	return m
}()

// Check parses text as the template name: a syntax error or an unknown
// function is an error "name:LINE: ...".
func Check(name string, text []byte) error {
	t := template.New(name).Funcs(stubFuncs)
	if _, err := t.Parse(string(text)); err != nil {
		return fmt.Errorf("%w: %s", ErrTemplate, trimPrefix(err.Error()))
	}
	return nil
}

// trimPrefix turns "template: NAME:LINE: msg" into "NAME:LINE: msg".
func trimPrefix(s string) string {
	const p = "template: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
