package spec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ParseOptions tune Parse for a device.
type ParseOptions struct {
	// DefaultApp is the app of meta-data that names none.
	DefaultApp string
	// Lookup gives a ${NAME} placeholder's value from the device, and
	// where it came from; the artifact's params are the fallback.
	Lookup func(name string) (value, source string, ok bool)
}

// Substitution records one placeholder's value, for the log.
type Substitution struct {
	Name, Value, Source string
}

// Masked is the substitution as it may be logged: values of names that
// look secret are hidden.
func (s Substitution) String() string {
	v := s.Value
	if secretName.MatchString(s.Name) {
		v = "***"
	}
	return fmt.Sprintf("%s=%s (%s)", s.Name, v, s.Source)
}

var (
	placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	paramName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretName  = regexp.MustCompile(`(?i)pass|secret|token|key|cred|auth`)
)

// substituter replaces ${NAME} in single words (after shell-like
// splitting, so that a value never adds or splits arguments).
type substituter struct {
	lookup   func(string) (string, string, bool)
	defaults map[string]string
	used     map[string]Substitution
}

// dollarsBrace is a run of $ before {, with the placeholder's name when
// one follows: $${ is the escape of a literal ${ (see word).
var dollarsBrace = regexp.MustCompile(`(\$+)\{(?:([A-Za-z_][A-Za-z0-9_]*)\})?`)

// word substitutes the placeholders of w. In a run of $ before {, $$ is
// one literal $ (so $${NAME} is the text ${NAME}, kept for the container's
// own shell), and an odd run ends in a placeholder; $ elsewhere is as
// written.
func (s *substituter) word(w string) (string, error) {
	var missing string
	out := dollarsBrace.ReplaceAllStringFunc(w, func(m string) string {
		sm := dollarsBrace.FindStringSubmatch(m)
		n := len(sm[1])
		lit := strings.Repeat("$", n/2)
		if n%2 == 0 {
			return lit + m[n:]
		}
		if sm[2] == "" {
			return lit + m[n-1:]
		}
		return lit + s.placeholder(sm[2], &missing)
	})
	if missing != "" {
		return "", fmt.Errorf("${%s} has no value: set it in the device's parameters for this app, or give a default in params (for the text ${%s}, write $${%s})", missing, missing, missing)
	}
	return out, nil
}

// placeholder is the value of ${name}; missing gets the first name
// without one.
func (s *substituter) placeholder(name string, missing *string) string {
	p := "${" + name + "}"
	if sub, ok := s.used[name]; ok {
		return sub.Value
	}
	sub, found := Substitution{}, false
	if s.lookup != nil {
		var v, src string
		if v, src, found = s.lookup(name); found {
			sub = Substitution{name, v, src}
		}
	}
	if v, ok := s.defaults[name]; !found && ok {
		sub, found = Substitution{name, v, "artifact default"}, true
	}
	if !found {
		if *missing == "" {
			*missing = name
		}
		return p
	}
	s.used[name] = sub
	return sub.Value
}

// quotedRE matches a Go-quoted string (%q) in an error message.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// hideValues keeps the values that placeholders in words (the original
// text of one flag and its value) put in out of err: parameters may be
// secrets, and errors end up in the deployment log. The error names the
// parameters instead.
func (s *substituter) hideValues(err error, words []string) error {
	if s == nil {
		return err
	}
	var names, values []string
	for _, w := range words {
		for _, m := range placeholder.FindAllStringSubmatch(w, -1) {
			if sub, ok := s.used[m[1]]; ok && !slices.Contains(names, m[1]) {
				names = append(names, m[1])
				values = append(values, sub.Value)
			}
		}
	}
	if len(names) == 0 {
		return err
	}
	refs := "${" + strings.Join(names, "}, ${") + "}"
	hidden := refs + " (value not shown)"
	// Values outside quotes (a flag name a parameter gave) become a
	// marker first, so that the names put in are not searched again.
	// Longer values first, in case one holds another; each also as %q
	// escapes it.
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return len(values[order[a]]) > len(values[order[b]]) })
	msg := err.Error()
	for _, i := range order {
		if v := values[i]; v != "" {
			q := strconv.Quote(v)
			msg = strings.ReplaceAll(msg, q[1:len(q)-1], fmt.Sprintf("\x00%d\x00", i))
			msg = strings.ReplaceAll(msg, v, fmt.Sprintf("\x00%d\x00", i))
		}
	}
	msg = quotedRE.ReplaceAllStringFunc(msg, func(q string) string {
		if strings.Contains(q, "\x00") {
			return hidden
		}
		return q
	})
	for i := range values {
		msg = strings.ReplaceAll(msg, fmt.Sprintf("\x00%d\x00", i), "${"+names[i]+"}")
	}
	if !strings.Contains(msg, hidden) {
		msg += " (from " + hidden + ")"
	}
	return errors.New(msg)
}

func (s *substituter) list() []Substitution {
	var out []Substitution
	for _, sub := range s.used {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func checkParams(params map[string]string) error {
	for name := range params {
		if !paramName.MatchString(name) {
			return invalid("params: %q is not a parameter name (letters, digits, _)", name)
		}
	}
	return nil
}

// Values are the substituted values by name.
func (m *Meta) Values() map[string]string {
	if len(m.Substitutions) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, s := range m.Substitutions {
		out[s.Name] = s.Value
	}
	return out
}
