// Package render renders an app's configuration templates: Go
// text/template with the merged attributes as data, a small fixed set of
// functions and no access to the device's files, environment or network.
// Parse checks a template (syntax, unknown functions, no {{template}},
// {{define}} or {{block}}: one file is one template) for the generator
// and the device alike; Execute renders it and fails, naming the
// template, the line and the attribute, when it reads an attribute that
// is not set.
//
// The functions, each with an example:
//
//	default   {{ .port | default 8080 }}, {{ default "none" .proxy }}: the value, or the default when it is unset, null or ""
//	required  {{ required "set db.host" .db.host }}: fails with the message when unset, null or ""
//	json      {{ json .name }}: the value as JSON ("a \"b\"", [1,2], {"k":"v"})
//	yaml      {{ yaml .name }}: the value as a YAML scalar or flow collection
//	shell     {{ shell .name }}: single-quoted for sh ('it'\''s')
//	ini       {{ ini .name }}: double-quoted for an INI value ("a \"b\"")
//	join      {{ join "," .hosts }}: a list's items as text, joined
//	split     {{ split "," .csv }}: text split into a list
//	upper, lower, trim   {{ upper .level }}
//	replace   {{ replace "-" "_" .name }}: every old replaced by new
//	b64enc, b64dec       {{ b64enc .key }}
//	toString  {{ toString .port }}: a value as text (numbers as JSON writes them)
//	hasKey    {{ if hasKey .db "port" }}…{{ end }}
//
// and text/template's usual not, and, or, eq, ne, lt, le, gt, ge, len,
// index, print and printf. Templates are parsed by text/template/parse
// and run by this package's own executor (exec.go) over attribute values
// only: text/template's executor would cost the module binary 2 MB.
//
// An attribute read with default, or as an argument in a pipeline that
// calls default, may be missing; anywhere else a missing one is an error.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template/parse"
	"unicode/utf8"
)

// ErrTemplate marks a template that does not parse or does not render.
var ErrTemplate = errors.New("template")

// Limits on one template and what it renders.
const (
	MaxTemplateBytes = 1 << 20
	MaxOutputBytes   = 4 << 20
)

// Template is a parsed template.
type Template struct {
	name string
	tree *parse.Tree
}

// Check parses text as the template name, as Parse does, for the
// generator.
func Check(name string, text []byte) error {
	_, err := Parse(name, text)
	return err
}

// Parse parses text as the template called name (its path in the files
// archive, used in errors as name:line).
func Parse(name string, text []byte) (*Template, error) {
	if len(text) > MaxTemplateBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrTemplate, name, MaxTemplateBytes)
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: %s: not UTF-8 text", ErrTemplate, name)
	}
	trees, err := parse.Parse(name, string(text), "", "", funcNames)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTemplate, tidy(err.Error()))
	}
	if len(trees) > 1 {
		return nil, fmt.Errorf("%w: %s: {{define}} and {{block}} are not allowed: one file is one template", ErrTemplate, name)
	}
	tree := trees[name]
	if tree == nil || tree.Root == nil {
		tree = &parse.Tree{Name: name, Root: &parse.ListNode{}}
	}
	if err := optional(tree, tree.Root); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTemplate, err)
	}
	return &Template{name: name, tree: tree}, nil
}

// Render parses and executes text, as Parse and Execute do.
func Render(name string, text []byte, data map[string]any, secrets []string) ([]byte, bool, error) {
	t, err := Parse(name, text)
	if err != nil {
		return nil, false, mask(err, secrets)
	}
	return t.Execute(data, secrets)
}

// Execute renders t with data (attributes.Set.Data). secrets are values
// that must not appear in an error; usesSecret tells whether the output
// holds one of them (the file is then written 0600).
func (t *Template) Execute(data map[string]any, secrets []string) (out []byte, usesSecret bool, err error) {
	var b limited
	st := &state{tree: t.tree, out: &b, vars: []variable{{"$", data}}}
	if err := st.walk(data, t.tree.Root); err != nil {
		return nil, false, mask(fmt.Errorf("%w: %s", ErrTemplate, t.explain(err)), secrets)
	}
	for _, s := range secrets {
		if s != "" && bytes.Contains(b.buf.Bytes(), []byte(s)) {
			usesSecret = true
			break
		}
	}
	return b.buf.Bytes(), usesSecret, nil
}

var posRE = regexp.MustCompile(`^template: ([^:]+):(\d+):(?:\d+:)? ?`)

// explain is an execution error as one line.
func (t *Template) explain(err error) string {
	if errors.Is(err, errTooLarge) {
		return fmt.Sprintf("%s: renders more than %d bytes", t.name, MaxOutputBytes)
	}
	if errors.Is(err, errBreak) || errors.Is(err, errContinue) {
		return fmt.Sprintf("%s: break or continue outside range", t.name)
	}
	return strings.TrimPrefix(err.Error(), errMissing.Error()+": ")
}

// tidy turns "template: NAME:LINE:COL: msg" into "NAME:LINE: msg".
func tidy(msg string) string {
	if m := posRE.FindStringSubmatch(msg); m != nil {
		return m[1] + ":" + m[2] + ": " + msg[len(m[0]):]
	}
	return strings.TrimPrefix(msg, "template: ")
}

// mask replaces secret values in err's text by ***.
func mask(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &maskedError{msg, err}
}

type maskedError struct {
	msg  string
	orig error
}

func (e *maskedError) Error() string        { return e.msg }
func (e *maskedError) Is(target error) bool { return errors.Is(e.orig, target) }

var errTooLarge = errors.New("output too large")

// limited is a buffer that refuses to grow past MaxOutputBytes.
type limited struct{ buf bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > MaxOutputBytes {
		return 0, errTooLarge
	}
	return l.buf.Write(p)
}

// optional walks the tree: it refuses {{template}}, and in every pipeline
// that calls default, replaces each attribute read (.a.b) by a lookup
// that gives nil for a missing one, so that default can supply it.
func optional(tree *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := optional(tree, c); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		loc, _ := tree.ErrorContext(n)
		if i := strings.LastIndex(loc, ":"); i > 0 {
			loc = loc[:i] // name:line, without the column
		}
		return fmt.Errorf("%s: {{template %q}} is not allowed: one file is one template", loc, n.Name)
	case *parse.ActionNode:
		return optionalPipe(tree, n.Pipe)
	case *parse.IfNode:
		return optionalBranch(tree, &n.BranchNode)
	case *parse.RangeNode:
		return optionalBranch(tree, &n.BranchNode)
	case *parse.WithNode:
		return optionalBranch(tree, &n.BranchNode)
	}
	return nil
}

func optionalBranch(tree *parse.Tree, b *parse.BranchNode) error {
	if err := optionalPipe(tree, b.Pipe); err != nil {
		return err
	}
	if err := optional(tree, b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return optional(tree, b.ElseList)
	}
	return nil
}

func optionalPipe(tree *parse.Tree, p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	defaulted := false
	for _, c := range p.Cmds {
		if len(c.Args) > 0 {
			if id, ok := c.Args[0].(*parse.IdentifierNode); ok && id.Ident == "default" {
				defaulted = true
			}
		}
	}
	for _, c := range p.Cmds {
		for i, a := range c.Args {
			switch a := a.(type) {
			case *parse.PipeNode:
				if err := optionalPipe(tree, a); err != nil {
					return err
				}
			case *parse.FieldNode:
				if defaulted {
					c.Args[i] = lookupPipe(strings.Join(a.Ident, "."))
				}
			}
		}
	}
	return nil
}

// lookupPipe is the pipeline (attr . "a.b"), parsed from text so that its
// nodes are whole.
func lookupPipe(path string) parse.Node {
	if n, ok := lookups.Load(path); ok {
		return n.(parse.Node) // execution only reads nodes: shared
	}
	trees, err := parse.Parse("lookup", fmt.Sprintf(`{{ (attr . %q) }}`, path), "", "", funcNames)
	if err != nil {
		panic(err) // path is a quoted string: it always parses
	}
	n := trees["lookup"].Root.Nodes[0].(*parse.ActionNode).Pipe.Cmds[0].Args[0]
	lookups.Store(path, n)
	return n
}

// lookups are the lookup pipelines made so far, by path.
var lookups sync.Map
