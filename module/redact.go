package module

import (
	"errors"
	"fmt"
	"log"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mender-docker/mender-docker/module/spec"
)

// redactor owns what a run must not show: the values of the parameters
// that are not public, of the meta-data this run has read (or the
// journal's values of it). Text bound for the log or an error goes
// through it: the engine and the policy quote the values a configuration
// ended up with. Status reads journals while a state may run.
type redactor struct {
	mu     sync.Mutex
	parsed []*spec.Meta
	// values are secret attributes' values, longest first: shown as ***.
	values []string
}

func (r *redactor) hide(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.parsed {
		s = m.Hide(s)
	}
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

func (r *redactor) hideError(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.parsed {
		err = m.HideError(err)
	}
	if err != nil && len(r.values) > 0 {
		msg := err.Error()
		for _, v := range r.values {
			msg = strings.ReplaceAll(msg, v, "***")
		}
		if msg != err.Error() {
			err = &maskedError{msg, err}
		}
	}
	return err
}

// rememberValues hides vals (secret attributes' values) from then on.
func (r *redactor) rememberValues(vals []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vals {
		if v != "" && !slices.Contains(r.values, v) {
			r.values = append(r.values, v)
		}
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

// maskedError is an error with secret values masked in its text; it still
// matches what the original matched (errors.Is), without giving the
// original away (no Unwrap).
type maskedError struct {
	msg  string
	orig error
}

func (e *maskedError) Error() string        { return e.msg }
func (e *maskedError) Is(target error) bool { return errors.Is(e.orig, target) }

func (r *redactor) remember(m *spec.Meta) {
	r.mu.Lock()
	r.parsed = append(r.parsed, m)
	r.mu.Unlock()
}

// forget starts a run afresh.
func (r *redactor) forget() {
	r.mu.Lock()
	r.parsed = nil
	r.values = nil
	r.mu.Unlock()
}

// logger writes the module's log: one line per message, whatever the
// engine or a container said, with the secrets hidden.
type logger struct {
	out     *log.Logger
	secrets *redactor
}

func (l logger) logf(format string, a ...any) {
	if l.out != nil {
		l.out.Print(OneLine(l.secrets.hide(fmt.Sprintf(format, a...))))
	}
}
