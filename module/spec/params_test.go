package spec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Values of parameters that are not public stay out of errors and of text
// that quotes the final configuration (policy refusals, engine errors):
// the word as written, with its placeholders, stands in.
func TestHideParamValues(t *testing.T) {
	device := map[string]string{"DEV": "/dev/s3cr3t-abc", "NET": "host", "N": "same", "P": "1", "PW": "hunter2-long", "SITE": "harbour"}
	opts := spec.ParseOptions{
		Lookup: func(n string) (string, string, bool) { v, ok := device[n]; return v, "device", ok },
		Public: func(n string) bool { return n == "SITE" },
	}
	m, err := spec.ParseWith([]byte(`{"services":{"web":{"image":"`+img+`","run_args":"--device ${DEV}:/dev/x --network ${NET} -p ${P}:80 -e PW=${PW} -l site=${SITE} -l x=pre${PW}post"}}}`), opts)
	require.NoError(t, err)
	for in, want := range map[string]string{
		"service web: --device /dev/s3cr3t-abc:/dev/x is refused by the device policy (deny_devices)": "service web: --device ${DEV}:/dev/x is refused by the device policy (deny_devices) (parameter values not shown)",
		"service web: --network host is refused by the device policy (deny_host_namespaces)":          "service web: --network ${NET} is refused by the device policy (deny_host_namespaces) (parameter values not shown)",
		`adding custom device "/dev/s3cr3t-abc": no such file`:                                        `adding custom device "${DEV}": no such file (parameter values not shown)`,
		"port 1:80 and 10:80, 1": "port ${P}:80 and 10:80, ${P} (parameter values not shown)",
		"env PW=hunter2-long; label prehunter2-longpost; xhunter2-longx": "env PW=${PW}; label pre${PW}post; x${PW}x (parameter values not shown)",
		"site harbour": "site harbour",
		// Several at once: what one put in is never taken for another.
		"-p 1:80 --device /dev/s3cr3t-abc --network host, 1 and 0": "-p ${P}:80 --device ${DEV} --network ${NET}, ${P} and 0 (parameter values not shown)",
	} {
		assert.Equal(t, want, m.Hide(in), in)
	}
	assert.Equal(t, []string{"SITE"}, m.Public())

	// A short value that is also in what another was replaced with.
	m, err = spec.ParseWith([]byte(`{"params":{"LONG":"abcdefghij","Z":"0"},"containers":["`+img+`"],"run_args":"-e A=${LONG} -e B=${Z}"}`), spec.ParseOptions{})
	require.NoError(t, err)
	assert.Equal(t, "A=${LONG} and ${Z} (parameter values not shown)", m.Hide("A=abcdefghij and 0"))

	// Errors of the parse itself.
	_, err = spec.ParseWith([]byte(`{"services":{"a":{"image":"`+img+`","run_args":"--name ${N}"},"b":{"image":"`+img+`","run_args":"--name ${N}"}}}`), opts)
	require.ErrorIs(t, err, spec.ErrInvalid)
	assert.NotContains(t, err.Error(), `"same"`)
	assert.Contains(t, err.Error(), `--name "${N}" given to services a and b`)
	_, err = spec.ParseWith([]byte(`{"containers":["`+img+`"],"run_args":"--device x${DEV}"}`), opts)
	require.ErrorIs(t, err, spec.ErrInvalid)
	assert.NotContains(t, err.Error(), "s3cr3t")

	// An artifact's public_params show its own defaults only.
	m, err = spec.ParseWith([]byte(`{"params":{"A":"shown-default","NET":"x"},"public_params":["A","NET"],"containers":["`+img+`"],"run_args":"-e A=${A} -e N=${NET}"}`), opts)
	require.NoError(t, err)
	assert.Equal(t, "A=shown-default N=${NET} (parameter values not shown)", m.Hide("A=shown-default N=host"))
	for _, s := range m.Substitutions {
		assert.Equal(t, s.Name == "A", s.Public, s.Name)
	}
}
