package compose_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Compose's $$ is a literal $: $${NAME} is the text ${NAME} for the
// container's own shell. It reaches the container as that text, whatever
// parameters the device has, while a declared parameter is still filled
// in beside it.
func TestLiteralDollar(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": `
services:
  db:
    image: ` + addr + `/shop/db:15
    network_mode: none
    environment:
      "${K}": v
      URL: "$${HOME}/x"
    command: ["echo", "$${HOME}", "$$${SITE}", "${SITE}", "$$$${X}", "a$$b", "$${x-y}", "$$"]
    healthcheck:
      test: ["CMD-SHELL", "test \"$${POSTGRES_DB}\" = app"]
`})
	_, out, err := document(t, dir, compose.Options{Params: map[string]string{"SITE": "lab"}})
	require.NoError(t, err)
	device := map[string]string{"SITE": "dev", "HOME": "/device", "POSTGRES_DB": "device", "K": "device", "X": "device"}
	m, err := spec.ParseWith(out, spec.ParseOptions{Lookup: func(name string) (string, string, bool) {
		v, ok := device[name]
		return v, "device", ok
	}})
	require.NoError(t, err)
	require.Len(t, m.Services, 1)
	cfg := m.Services[0].Config
	assert.Equal(t, []string{"echo", "${HOME}", "$dev", "dev", "$${X}", "a$b", "${x-y}", "$"}, cfg.Cmd)
	assert.Equal(t, []string{"CMD-SHELL", `test "${POSTGRES_DB}" = app`}, cfg.Healthcheck.Test)
	assert.Subset(t, cfg.Env, []string{"${K}=v", "URL=${HOME}/x"}, "compose does not interpolate keys")
	assert.Equal(t, []spec.Substitution{{Name: "SITE", Value: "dev", Source: "device"}}, m.Substitutions, "only the declared parameter")
}

// An env_file's value is read as docker compose reads it: a literal ${X}
// there (single quotes) reaches the container as that text.
func TestEnvFileLiteralDollar(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    env_file: e.env\n",
		"e.env":        "A='${X}'\n",
	})
	_, out, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	m, err := spec.ParseWith(out, spec.ParseOptions{Lookup: func(string) (string, string, bool) { return "device", "device", true }})
	require.NoError(t, err)
	assert.Contains(t, m.Services[0].Config.Env, "A=${X}")
}
