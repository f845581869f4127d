package memengine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/test/fixture"
)

func contractEnv() enginetest.Env {
	e := memengine.New()
	return enginetest.Env{
		Engine: e,
		Image: func(t *testing.T, name string) string {
			ref := fmt.Sprintf("127.0.0.1:5000/%s@sha256:%s", name, strings.Repeat("a", 64))
			e.AddRemote(ref, memengine.Behavior{Output: []string{"testapp " + name + " started"}})
			return ref
		},
		Archive: fixture.Archives,
		Missing: "127.0.0.1:5000/missing@sha256:" + strings.Repeat("0", 64),
	}
}

func TestContract(t *testing.T) {
	env := contractEnv()
	enginetest.Run(t, env)
	enginetest.RunLoad(t, env)
}

func TestResources(t *testing.T) {
	enginetest.RunResources(t, contractEnv())
}

// NoBridge acts out the real engine's quirk as the contract describes it.
func TestContractNoBridge(t *testing.T) {
	env := contractEnv()
	env.Engine.(*memengine.Engine).NoBridge = true
	enginetest.Run(t, env)
}
