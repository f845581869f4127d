// Package render renders an app's configuration templates: Go
// text/template with the merged attributes as data, a small fixed set of
// functions and no access to the device's files, environment or network.
// Parse checks a template (syntax, unknown functions) for the generator
// and the device alike; Execute renders it and fails, naming the
// template, the line and the attribute, when it reads an attribute that
// is not set.
package render

import "errors"

// ErrTemplate marks a template that does not parse or does not render.
var ErrTemplate = errors.New("template")

// Template is a parsed template.
type Template struct{ name string }

// Parse parses text as the template called name (its path in the files
// archive, used in errors as name:line).
func Parse(name string, text []byte) (*Template, error) {
	return nil, errors.New("render.Parse: not implemented yet")
}

// Execute renders t with data (attributes.Set.Data). secrets are values
// that must not appear in an error; usesSecret tells whether the output
// holds one of them (the file is then written 0600).
func (t *Template) Execute(data map[string]any, secrets []string) (out []byte, usesSecret bool, err error) {
	return nil, false, errors.New("render.Execute: not implemented yet")
}
