package module

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every field of status output stays on its line and cannot rewrite the
// terminal, whatever meta-data, artifact names or the engine said.
func TestStatusFieldsEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"plain name-1.2":      "plain name-1.2",
		"a\nb":                `a\nb`,
		"\x1b[2Kx\r":          `\x1b[2Kx\r`,
		"tab\there":           `tab\there`,
		"back\\slash":         `back\\slash`,
		"bidi\u202egnp.exe":   `bidi\u202egnp.exe`,
		"bad \xff utf8":       `bad \xff utf8`,
		"ünïcödé ok":          "ünïcödé ok",
		"del\x7f nbsp\u00a0.": `del\x7f nbsp\u00a0.`,
	} {
		assert.Equal(t, want, printable(in), "%q", in)
	}
	evil := "v1\napp fake: healthy, artifact x, committed\x1b[2K"
	st := Status{Healthy: true, Engine: EngineStatus{Version: "20.10\n"}, Apps: []AppStatus{{
		App: "shop", Artifact: evil, Phase: "installing", Deploying: evil, Problems: []string{"p\nq"},
		Containers: []ContainerStatus{{Name: "shop-web\t", Service: "web", Image: "img\n", State: "running", Current: true}},
	}}}
	var text strings.Builder
	require.NoError(t, st.WriteText(&text))
	assert.NotContains(t, text.String(), "\x1b")
	assert.Equal(t, 6, strings.Count(text.String(), "\n"), "engine, blank, app, problem, header, container:\n%s", text.String())
	var inv strings.Builder
	require.NoError(t, st.WriteInventory(&inv))
	for _, l := range strings.Split(strings.TrimSuffix(inv.String(), "\n"), "\n") {
		assert.Contains(t, l, "=", "one key=value a line: %q", l)
	}
	assert.Contains(t, inv.String(), "docker_app_shop_artifact=v1\\napp fake: healthy, artifact x, committed\\x1b[2K\n")
}
