package module

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Whatever the engine, Compose or a container writes, a log message stays
// one line with no terminal control characters.
func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                  "plain",
		"a\r\nb\r\n":                             "a; b",
		"pulling 10%\rpulling 50%\rpulling 100%": "pulling 100%",
		"\x1b[1;31mred\x1b[0m and \x1b]0;title\x07ok": "red and ok",
		"tab\there\x00\x07\x7f":                       "tab here",
		"two\n\nlines":                                "two; lines",
		"\x1b[2K\rdone":                               "done",
	} {
		assert.Equal(t, want, OneLine(in), "%q", in)
	}
}
