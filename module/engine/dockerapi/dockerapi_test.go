package dockerapi_test

import (
	"strings"
	"testing"

	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// TestContract runs the engine contract against the real Docker engine,
// pulling from a registry on 127.0.0.1.
func TestContract(t *testing.T) {
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	env := enginetest.Env{
		Engine: e,
		Image: func(t *testing.T, name string) string {
			return fixture.MustPush(t, reg, "mdtest/"+name, "v1", fixture.Image{Version: name + "-" + fixture.RandHex()})
		},
		Archive: fixture.Archives,
		Missing: reg.Addr + "/mdtest/missing@sha256:" + strings.Repeat("0", 64),
	}
	enginetest.Run(t, env)
	enginetest.RunLoad(t, env)
}
