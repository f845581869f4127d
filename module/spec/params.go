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
	// Public tells whether the value Lookup gives for a name may be shown
	// in logs and errors; without it none may.
	Public func(name string) bool
}

// Substitution records one placeholder's value, for the log.
type Substitution struct {
	Name, Value, Source string
	// Public: whoever gave the value said it may be shown (the artifact
	// through public_params for its own default, the device for its
	// value). Every other value is hidden from logs and errors.
	Public bool
}

// String is the substitution as it may be logged: the value only when it
// is public.
func (s Substitution) String() string {
	v := s.Value
	if !s.Public {
		v = "***"
	}
	return fmt.Sprintf("%s=%s (%s)", s.Name, v, s.Source)
}

var (
	placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	paramName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// substituter replaces ${NAME} in single words (after shell-like
// splitting, so that a value never adds or splits arguments).
type substituter struct {
	lookup   func(string) (string, string, bool)
	public   func(string) bool
	defaults map[string]string
	// artifactPublic are the artifact's public_params.
	artifactPublic []string
	used           map[string]Substitution
	// words are the words that hidden values went into, as put in and as
	// written: what Hide turns back.
	words []wordSub
}

type wordSub struct{ out, orig string }

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
	if out != w && slices.ContainsFunc(placeholder.FindAllStringSubmatch(w, -1), func(m []string) bool { return !s.used[m[1]].Public }) {
		s.words = append(s.words, wordSub{out, w})
	}
	return out, nil
}

// placeholder is the value of ${name}; missing gets the first name
// without one.
func (s *substituter) placeholder(name string, missing *string) string {
	if sub, ok := s.used[name]; ok {
		return sub.Value
	}
	sub, found := Substitution{}, false
	if s.lookup != nil {
		var v, src string
		if v, src, found = s.lookup(name); found {
			sub = Substitution{name, v, src, s.public != nil && s.public(name)}
		}
	}
	if v, ok := s.defaults[name]; !found && ok {
		sub, found = Substitution{name, v, "artifact default", slices.Contains(s.artifactPublic, name)}, true
	}
	if !found {
		if *missing == "" {
			*missing = name
		}
		return "${" + name + "}"
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
			if sub, ok := s.used[m[1]]; ok && !sub.Public && !slices.Contains(names, m[1]) {
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
			msg = strings.ReplaceAll(msg, q[1:len(q)-1], marker(i))
			msg = strings.ReplaceAll(msg, v, marker(i))
		}
	}
	msg = quotedRE.ReplaceAllStringFunc(msg, func(q string) string {
		if strings.Contains(q, "\x00") {
			return hidden
		}
		return q
	})
	for i := range values {
		msg = strings.ReplaceAll(msg, marker(i), "${"+names[i]+"}")
	}
	if !strings.Contains(msg, hidden) {
		msg += " (from " + hidden + ")"
	}
	return errors.New(msg)
}

// marker stands for the i-th value while values are replaced: NULs
// around a private-use character, so that no value (digits, words) can
// match inside one.
func marker(i int) string {
	return "\x00" + string(rune(0xF0000+i)) + "\x00"
}

func (s *substituter) list() []Substitution {
	var out []Substitution
	for _, sub := range s.used {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func checkParams(params map[string]string, public []string) error {
	for name := range params {
		if !paramName.MatchString(name) {
			return invalid("params: %q is not a parameter name (letters, digits, _)", name)
		}
	}
	for i, name := range public {
		if _, ok := params[name]; !ok {
			// The artifact can vouch only for what it gives: a device's
			// value is shown only if the device says so.
			return invalid("public_params[%d]: %q has no default in params (a device's own value is public only if the device marks it so)", i, name)
		}
	}
	return nil
}

// hider hides the values of subs that are not public, and the words in
// that they went into, in text bound for logs and errors: a parameter may
// be a secret, and refusals, engine errors and logs quote the values that
// run arguments ended up with. A word or value becomes what was written
// (${NAME}, or the word with its placeholders). Values shorter than
// minHiddenAnywhere are replaced only where they stand as words of their
// own (not inside another word), so that "1" does not mangle every number
// of a message; longer ones wherever they appear.
type hider struct {
	words []wordSub
	subs  []Substitution
}

const minHiddenAnywhere = 8

func (h hider) hide(msg string) string {
	type repl struct {
		from, to string
		anywhere bool
	}
	var rs []repl
	for _, w := range h.words {
		rs = append(rs, repl{w.out, w.orig, false})
	}
	for _, s := range h.subs {
		if !s.Public && s.Value != "" {
			rs = append(rs, repl{s.Value, "${" + s.Name + "}", len(s.Value) >= minHiddenAnywhere})
		}
	}
	if len(rs) == 0 {
		return msg
	}
	// Longer first, in case one holds another; each also as %q escapes
	// it. Markers stand in until the end, so that what was put in is not
	// searched again.
	sort.SliceStable(rs, func(a, b int) bool { return len(rs[a].from) > len(rs[b].from) })
	changed := false
	for i, r := range rs {
		q := strconv.Quote(r.from)
		for _, from := range []string{r.from, q[1 : len(q)-1]} {
			next := replaceWord(msg, from, marker(i), r.anywhere)
			changed = changed || next != msg
			msg = next
		}
	}
	for i, r := range rs {
		msg = strings.ReplaceAll(msg, marker(i), r.to)
	}
	if changed && !strings.Contains(msg, "value not shown") {
		msg += " (parameter values not shown)"
	}
	return msg
}

// replaceWord replaces from in s by to: everywhere, or only where it is
// not part of a longer word (letters, digits, _ on either side).
func replaceWord(s, from, to string, anywhere bool) string {
	if anywhere {
		return strings.ReplaceAll(s, from, to)
	}
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	var b strings.Builder
	for {
		i := strings.Index(s, from)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(from)
		if (i > 0 && isWord(s[i-1]) && isWord(from[0])) || (end < len(s) && isWord(s[end]) && isWord(from[len(from)-1])) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i] + to)
		s = s[end:]
	}
}

// hiddenError is an error with parameter values hidden from its text; it
// still matches what the original matched (errors.Is), without giving the
// original away (no Unwrap).
type hiddenError struct {
	msg  string
	orig error
}

func (e *hiddenError) Error() string        { return e.msg }
func (e *hiddenError) Is(target error) bool { return errors.Is(e.orig, target) }

func (h hider) hideErr(err error) error {
	if err == nil {
		return nil
	}
	if msg := h.hide(err.Error()); msg != err.Error() {
		return &hiddenError{msg, err}
	}
	return err
}

// Hide hides, in text bound for logs and errors, the values of m's
// parameters that are not public (and the words they went into), as
// ${NAME} or the word as written.
func (m *Meta) Hide(s string) string {
	return hider{m.hiddenWords, m.Substitutions}.hide(s)
}

// HideError is err with Hide applied to its text; errors.Is still holds.
func (m *Meta) HideError(err error) error {
	return hider{m.hiddenWords, m.Substitutions}.hideErr(err)
}

// Public are the names whose values may be shown.
func (m *Meta) Public() []string {
	var out []string
	for _, s := range m.Substitutions {
		if s.Public {
			out = append(out, s.Name)
		}
	}
	return out
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
