package module

import (
	"fmt"
	"log"
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
}

func (r *redactor) hide(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.parsed {
		s = m.Hide(s)
	}
	return s
}

func (r *redactor) hideError(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.parsed {
		err = m.HideError(err)
	}
	return err
}

func (r *redactor) remember(m *spec.Meta) {
	r.mu.Lock()
	r.parsed = append(r.parsed, m)
	r.mu.Unlock()
}

// forget starts a run afresh.
func (r *redactor) forget() {
	r.mu.Lock()
	r.parsed = nil
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
