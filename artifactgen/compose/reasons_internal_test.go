package compose

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The reasons given for ignored and refused keys name the library's fields,
// never the command's flags: artifactgen/cli says them as flags.
func TestReasonsNameNoFlag(t *testing.T) {
	for _, reasons := range []map[string]string{ignored, refused} {
		for key, why := range reasons {
			assert.NotContains(t, why, "--", "the reason for %s", key)
		}
	}
}
