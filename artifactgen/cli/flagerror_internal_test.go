package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mender-docker/mender-docker/artifactgen/image"
)

// The registry's refusals name Resolver fields; the command says its
// flags, and errors.Is still sees the library's sentinel. (The insecure
// refusal needs a private-range registry, which TestArgv cannot reach:
// artifactgen/image TestNoPlainHTTPFallback makes the real one.)
func TestFlagErrorRegistryHints(t *testing.T) {
	for _, tc := range []struct {
		lib  error
		want string
	}{
		{fmt.Errorf(`Get "http://10.1.2.3:5000/v2/": %w`, fmt.Errorf("%w: 10.1.2.3:5000 over plain HTTP (its HTTPS failed); list 10.1.2.3:5000 in Resolver.Insecure if it really serves plain HTTP", image.ErrInsecure)),
			`Get "http://10.1.2.3:5000/v2/": refusing plain HTTP: 10.1.2.3:5000 over plain HTTP (its HTTPS failed); give --insecure-registry 10.1.2.3:5000 if it really serves plain HTTP`},
		{fmt.Errorf("pulling x: %w", fmt.Errorf("%w: registry h:1 sent nothing for 1s (Resolver.Timeout)", image.ErrTimeout)),
			"pulling x: timed out: registry h:1 sent nothing for 1s (--registry-timeout)"},
	} {
		got := flagError(tc.lib)
		assert.EqualError(t, got, tc.want)
		assert.True(t, errors.Is(got, image.ErrInsecure) || errors.Is(got, image.ErrTimeout))
	}
	plain := errors.New("other")
	assert.Same(t, plain, flagError(plain), "an error naming no field is left as it is")
}
