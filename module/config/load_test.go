package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
)

// Every error of the device config names the file, the line and the key,
// in the config's words: not Go's types, not a bare json message.
func TestLoadErrorsNameFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mender-docker.conf")
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"state_dir\": \"/x\",\n  \"health_window\": \"10 seconds\"\n}", `:3: health_window: "10 seconds" is not a duration such as "10s"`},
		{"{\n  \"health_window\": 10\n}", `:2: health_window: 10 is not a duration such as "10s" (a string, in quotes)`},
		{"{\n\n  \"parallel_pulls\": \"3\"\n}", `:3: parallel_pulls: want a whole number, not a string`},
		{"{\"parallel_pulls\": 1.5}", `:1: parallel_pulls: want a whole number, not 1.5`},
		{"{\n  \"min_free_mb\": 1,\n}", `:3: not valid JSON: invalid character '}' looking for beginning of object key string`},
		{"{\n  \"state_dri\": \"/x\"\n}", `:2: state_dri: unknown key`},
		{"{\n  \"policy\": {\n    \"deny_privileged\": \"yes\"\n  }\n}", `:3: policy.deny_privileged: want true or false, not a string`},
		{"{\n  \"policy\": {\n    \"deny_privlieged\": true\n  }\n}", `:3: policy.deny_privlieged: unknown key`},
		{"{\n  \"policy\": {\n    \"bind_mount_paths\": \"/data\"\n  }\n}", `:3: policy.bind_mount_paths: want a list of strings, not a string`},
		{"{\n  \"policy\": {\n    \"bind_mount_paths\": [\"data\"]\n  }\n}", `:3: policy.bind_mount_paths: "data" is not an absolute path`},
		{"{\"policy\": true}", `:1: policy: want an object { ... }`},
		{"{\n  \"stop_timeout\": \"1s\",\n  \"stop_timeout\": \"2s\"\n}", `:3: stop_timeout: given twice`},
		{"{\n  \"parallel_pulls\": 0\n}", `:2: parallel_pulls: must be at least 1`},
		{"{\n  \"state_dir\": \"\"\n}", `:2: state_dir: must not be empty`},
		{"[]", `:1: want a JSON object { ... }`},
		{"{} {}", `:1: unexpected text after the configuration's closing }`},
		{"{\n  \"a\": 1 /* never closed\n}", `:2: a /* comment is never closed`},
		{"{\n  \"state_dir\": \"/x\"", `:2: not valid JSON: the file ends inside the configuration`},
		{"// nothing but a comment\n", `:1: want a JSON object { ... }; the file has none`},
	} {
		require.NoError(t, os.WriteFile(p, []byte(tc.in), 0o644))
		_, err := config.Load(p)
		require.Error(t, err, tc.in)
		assert.Equal(t, "config "+p+tc.want, err.Error(), tc.in)
	}
}

// JSON with comments: // to the end of the line and /* */ anywhere
// outside strings; comment markers inside strings are text.
func TestLoadComments(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mender-docker.conf")
	in := `// the device's settings
{
  /* the journal */ "state_dir": "/x//y/*z*/", // not a comment inside the string
  "params_dir": "/p\"//q", /* an escaped quote does not end the string
  "health_window": "99s", and this key is commented out */
  // "stop_timeout": "1s",
  "health_window": "3s"
}
// trailing note`
	require.NoError(t, os.WriteFile(p, []byte(in), 0o644))
	c, err := config.Load(p)
	require.NoError(t, err)
	assert.Equal(t, "/x//y/*z*/", c.StateDir)
	assert.Equal(t, `/p"//q`, c.ParamsDir)
	assert.Equal(t, config.Duration(3*time.Second), c.HealthWindow)
	assert.Equal(t, config.Default().StopTimeout, c.StopTimeout)
}

// Keys match exactly: encoding/json alone would take State_Dir for
// state_dir.
func TestLoadExactKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mender-docker.conf")
	require.NoError(t, os.WriteFile(p, []byte("{\n  \"State_Dir\": \"/x\"\n}"), 0o644))
	_, err := config.Load(p)
	require.Error(t, err)
	assert.Equal(t, "config "+p+":2: State_Dir: unknown key", err.Error())
}
