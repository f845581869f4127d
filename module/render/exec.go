package render

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template/parse"

	"maps"
)

// The executor: text/template's own calls reflect's MethodByName, which
// makes the linker keep every exported method of every type in the
// module binary (2.3 MB). Templates here only ever see attributes
// (maps, lists, strings, numbers, booleans), so this walks the parse tree
// over those alone, with the functions of funcs called directly.

var (
	errBreak    = errors.New("break")
	errContinue = errors.New("continue")
)

// maxDepth bounds nesting of control structures and parenthesized
// pipelines at run time.
const maxDepth = 100

// maxSteps bounds the nodes one rendering visits: nested ranges over
// long lists would otherwise run for as long as a hostile template likes,
// writing nothing that the output limit could stop.
const maxSteps = 10_000_000

type variable struct {
	name  string
	value any
}

type state struct {
	tree  *parse.Tree
	out   *limited
	vars  []variable
	depth int
	steps int
}

// at is the error err at node n, as NAME:LINE: message.
func (s *state) at(n parse.Node, format string, a ...any) error {
	loc, _ := s.tree.ErrorContext(n)
	if i := strings.LastIndex(loc, ":"); i > 0 {
		loc = loc[:i]
	}
	return fmt.Errorf("%s: %s", loc, fmt.Sprintf(format, a...))
}

func (s *state) walk(dot any, n parse.Node) error {
	if s.steps++; s.steps > maxSteps {
		return s.at(n, "takes more than %d steps to render", maxSteps)
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := s.walk(dot, c); err != nil {
				return err
			}
		}
	case *parse.TextNode:
		_, err := s.out.Write(n.Text)
		return err
	case *parse.CommentNode:
	case *parse.ActionNode:
		v, err := s.pipe(dot, n.Pipe)
		if err != nil || len(n.Pipe.Decl) > 0 {
			return err
		}
		_, err = s.out.Write([]byte(printed(v)))
		return err
	case *parse.IfNode:
		return s.branch(dot, &n.BranchNode, false)
	case *parse.WithNode:
		return s.branch(dot, &n.BranchNode, true)
	case *parse.RangeNode:
		return s.rangeOver(dot, n)
	case *parse.BreakNode:
		return errBreak
	case *parse.ContinueNode:
		return errContinue
	default:
		return s.at(n, "%s is not allowed", n)
	}
	return nil
}

// enter counts one more level of nesting; leave undoes it and drops the
// variables declared inside.
func (s *state) enter(n parse.Node) (int, error) {
	s.depth++
	if s.depth > maxDepth {
		return 0, s.at(n, "nested deeper than %d", maxDepth)
	}
	return len(s.vars), nil
}

func (s *state) leave(mark int) { s.depth--; s.vars = s.vars[:mark] }

func (s *state) branch(dot any, b *parse.BranchNode, with bool) error {
	mark, err := s.enter(b)
	if err != nil {
		return err
	}
	defer s.leave(mark)
	v, err := s.pipe(dot, b.Pipe)
	if err != nil {
		return err
	}
	if truth(v) {
		if with {
			dot = v
		}
		return s.walk(dot, b.List)
	}
	if b.ElseList != nil {
		return s.walk(dot, b.ElseList)
	}
	return nil
}

func (s *state) rangeOver(dot any, r *parse.RangeNode) error {
	mark, err := s.enter(r)
	if err != nil {
		return err
	}
	defer s.leave(mark)
	v, err := s.pipe(dot, r.Pipe)
	if err != nil {
		return err
	}
	var keys, items []any
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			keys, items = append(keys, int64(i)), append(items, e)
		}
	case []string:
		for i, e := range x {
			keys, items = append(keys, int64(i)), append(items, e)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			keys, items = append(keys, k), append(items, x[k])
		}
	case nil:
	default:
		return s.at(r, "range can't iterate over %s", printed(v))
	}
	if len(items) == 0 {
		return s.walk(dot, r.ElseList)
	}
	inner := len(s.vars)
	for i, item := range items {
		s.vars = s.vars[:inner]
		switch len(r.Pipe.Decl) {
		case 1:
			s.vars = append(s.vars, variable{r.Pipe.Decl[0].Ident[0], item})
		case 2:
			s.vars = append(s.vars, variable{r.Pipe.Decl[0].Ident[0], keys[i]}, variable{r.Pipe.Decl[1].Ident[0], item})
		}
		err := s.walk(item, r.List)
		if errors.Is(err, errBreak) {
			break
		}
		if err != nil && !errors.Is(err, errContinue) {
			return err
		}
	}
	return nil
}

// pipe evaluates a pipeline: each command's value is the last argument of
// the next; declarations and assignments take the final value.
func (s *state) pipe(dot any, p *parse.PipeNode) (any, error) {
	if p == nil {
		return nil, nil
	}
	var v any
	for i, c := range p.Cmds {
		var err error
		if v, err = s.command(dot, c, v, i > 0); err != nil {
			return nil, err
		}
	}
	for _, d := range p.Decl {
		name := d.Ident[0]
		if p.IsAssign {
			for i := len(s.vars) - 1; i >= 0; i-- {
				if s.vars[i].name == name {
					s.vars[i].value = v
					break
				}
			}
			continue
		}
		s.vars = append(s.vars, variable{name, v})
	}
	return v, nil
}

func (s *state) command(dot any, c *parse.CommandNode, final any, piped bool) (any, error) {
	if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
		args := make([]any, 0, len(c.Args))
		for _, a := range c.Args[1:] {
			v, err := s.arg(dot, a)
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		}
		if piped {
			args = append(args, final)
		}
		return s.call(id, args)
	}
	if len(c.Args) > 1 || piped {
		return nil, s.at(c, "can't give argument to non-function %s", c.Args[0])
	}
	return s.arg(dot, c.Args[0])
}

func (s *state) call(id *parse.IdentifierNode, args []any) (any, error) {
	f, ok := funcs[id.Ident]
	if !ok {
		return nil, s.at(id, "function %q not defined", id.Ident)
	}
	v, err := f(args)
	if err != nil {
		return nil, s.at(id, "error calling %s: %v", id.Ident, err)
	}
	return v, nil
}

// arg is the value of one argument of a command.
func (s *state) arg(dot any, n parse.Node) (any, error) {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot, nil
	case *parse.FieldNode:
		return s.field(n, dot, n.Ident, "")
	case *parse.VariableNode:
		for i := len(s.vars) - 1; i >= 0; i-- {
			if s.vars[i].name == n.Ident[0] {
				return s.field(n, s.vars[i].value, n.Ident[1:], n.Ident[0])
			}
		}
		return nil, s.at(n, "undefined variable %s", n.Ident[0])
	case *parse.ChainNode:
		v, err := s.arg(dot, n.Node)
		if err != nil {
			return nil, err
		}
		return s.field(n, v, n.Field, "")
	case *parse.PipeNode:
		mark, err := s.enter(n)
		if err != nil {
			return nil, err
		}
		defer s.leave(mark)
		return s.pipe(dot, n)
	case *parse.IdentifierNode:
		return s.call(n, nil)
	case *parse.StringNode:
		return n.Text, nil
	case *parse.BoolNode:
		return n.True, nil
	case *parse.NumberNode:
		switch {
		case n.IsInt:
			return n.Int64, nil
		case n.IsFloat:
			return n.Float64, nil
		}
		return nil, s.at(n, "%s is not a number this template can use", n.Text)
	case *parse.NilNode:
		return nil, nil
	}
	return nil, s.at(n, "can't evaluate %s", n)
}

// field follows names from v, an attribute object: a missing one is the
// error that names the attribute.
func (s *state) field(n parse.Node, v any, names []string, root string) (any, error) {
	for i, k := range names {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, s.at(n, "can't read .%s of %s, which is not an object", k, printed(v))
		}
		if v, ok = m[k]; !ok {
			path := "." + strings.Join(names[:i+1], ".")
			if root != "" {
				path = root + path
			}
			return nil, fmt.Errorf("%w: %s", errMissing, s.at(n, "attribute %s is not set (give it a value on the device, or use default)", path))
		}
	}
	return v, nil
}

var errMissing = errors.New("missing attribute")

// truth is whether v counts as true for if and with: set and not empty.
func truth(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case int64:
		return x != 0
	case int:
		return x != 0
	case []any:
		return len(x) > 0
	case []string:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// printed is v as an action writes it.
func printed(v any) string {
	switch v.(type) {
	case []any, []string, map[string]any:
		return fmt.Sprint(v)
	}
	return toString(v)
}
