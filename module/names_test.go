package module_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// A container name belongs to the app with the longest name it starts
// with, unless the app that has it came first: app "a" cannot take
// "a-b-db" once there is an app "a-b", and keeps the "a-b-web" it had.
func TestContainerNameSpaces(t *testing.T) {
	d := newDevice(t)
	img := d.image("web", "1", memengine.Behavior{})
	img2 := d.image("web", "2", memengine.Behavior{})
	app := func(name, service, ref string) string {
		return fmt.Sprintf(`{"app":%q,"services":{%q:{"image":%q}}}`, name, service, ref)
	}
	require.NoError(t, d.install("a", app("a", "b-web", img), true), d.Log.String())
	require.NoError(t, d.install("a-b", app("a-b", "x", img), true), d.Log.String())
	err := d.install("a-db", app("a", "b-db", img), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "container name a-b-db is in the space of app a-b (a-b-*); refused")
	require.NoError(t, d.install("a2", app("a", "b-web", img2), true), "a's own name stays a's: %s", d.Log.String())
	err = d.install("prev", fmt.Sprintf(`{"app":"c","services":{"web":{"image":%q,"run_args":"--name a-b-x_prev"}}}`, img), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "names ending in _prev or _next are the module's own")
}
