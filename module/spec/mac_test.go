package spec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// --mac-address takes a unicast 48-bit MAC in the engine's lower-case
// form; a bad one, or one for a container without interfaces of its own,
// fails naming the flag.
func TestRunArgsMacAddress(t *testing.T) {
	var got engine.ContainerConfig
	require.NoError(t, spec.ParseRunArgs("--mac-address 02:42:AC:11:00:02 --network mynet", &got))
	assert.Equal(t, engine.ContainerConfig{MacAddress: "02:42:ac:11:00:02", NetworkMode: "mynet"}, got)
	got = engine.ContainerConfig{}
	require.NoError(t, spec.ParseRunArgs("--mac-address=00-1b-21-3a-4f-5c", &got), "globally administered, dashes")
	assert.Equal(t, "00:1b:21:3a:4f:5c", got.MacAddress)
	for args, want := range map[string]string{
		"--mac-address 02:42:ac:11:00":                   "--mac-address: \"02:42:ac:11:00\" is not a 48-bit MAC address",
		"--mac-address 02:42:ac:11:00:02:03:04":          "is not a 48-bit MAC address",
		"--mac-address 01:00:5e:00:00:01":                "multicast",
		"--mac-address 00:00:00:00:00:00":                "all zeros",
		"--mac-address 02:42:ac:11:00:02 --network none": "--mac-address with --network none: a container without a network has no network interface",
		"--network host --mac-address 02:42:ac:11:00:02": "--mac-address with --network host: the container uses the device's own network interfaces",
	} {
		var c engine.ContainerConfig
		err := spec.ParseRunArgs(args, &c)
		if assert.Error(t, err, args) {
			assert.Contains(t, err.Error(), want, args)
		}
	}
}

// Hand-over runs two copies at once: a MAC address or a static address
// can be only one container's.
func TestHandOverRefusesOneOfAKind(t *testing.T) {
	img := "r.example/a@sha256:" + strings.Repeat("a", 64)
	for doc, want := range map[string]string{
		`{"services":{"a":{"image":"` + img + `","update":"hand-over","run_args":"--network mynet --mac-address 02:42:0a:00:00:07"}}}`:                                                                      "services.a.update: hand-over needs two copies running at once, and MAC address 02:42:0a:00:00:07 can be one container's only",
		`{"networks":{"n":{"ipam":{"config":[{"subnet":"10.9.0.0/24"}]}}},"services":{"a":{"image":"` + img + `","update":"hand-over","networks":{"n":[]},"addresses":{"n":{"ipv4_address":"10.9.0.2"}}}}}`: "services.a.update: hand-over needs two copies running at once, and a static address on network default_n can be held by only one",
	} {
		_, err := spec.Parse([]byte(doc))
		if assert.Error(t, err, doc) {
			assert.Contains(t, err.Error(), want)
		}
	}
}
