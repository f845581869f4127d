package module_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/module/spec"
)

func TestParams(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	meta := `{"params":{"SITE":"default-site","PORT":"8080","DB_PASSWORD":"hunter2"},
	  "services":[{"name":"web","image":"` + v1 + `","run_args":"-p ${PORT}:80 -e SITE=${SITE} -e DB_PASSWORD=${DB_PASSWORD} -l site=${SITE}","command":["--title","${SITE} shop"]}]}`

	// The device's file wins over the artifact's default; Mender Configure
	// comes between.
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"SITE":{"value":"Oslo harbour","public":true},"PORT":9090}`), 0o644))
	require.NoError(t, os.WriteFile(d.u.Config.MenderConfigureFile, []byte(`{"SITE":"from configure","DB_PASSWORD":"s3cret"}`), 0o644))
	require.NoError(t, d.install("app-1", meta, true), d.Log.String())
	cfg := d.eng.Config(d.snapshot()[0].ID)
	assert.Equal(t, []string{"SITE=Oslo harbour", "DB_PASSWORD=s3cret"}, cfg.Env, "a value with a space stays one argument")
	assert.Equal(t, "9090", cfg.Ports[0].HostPort)
	assert.Equal(t, "Oslo harbour", cfg.Labels["site"])
	assert.Equal(t, []string{"--title", "Oslo harbour shop"}, cfg.Cmd)
	log := d.Log.String()
	assert.Contains(t, log, "parameter SITE=Oslo harbour")
	assert.Contains(t, log, "parameter DB_PASSWORD=*** (")
	assert.Contains(t, log, "parameter PORT=*** (", "every value is hidden unless marked public")
	assert.NotContains(t, log, "s3cret", "secrets never reach the log")
	assert.NotContains(t, log, "9090")

	// Changing the device's file after Download does not change what the
	// later states do.
	v2 := d.image("web", "2", memengine.Behavior{})
	d.Artifact("app-2", `{"params":{"SITE":"x"},"containers":["`+v2+`"],"run_args":"-l site=${SITE}"}`)
	require.NoError(t, d.run("Download"))
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"SITE":"changed"}`), 0o644))
	require.NoError(t, d.run("ArtifactInstall"))
	var web string
	for _, c := range d.snapshot() {
		if c.Image == v2 {
			web = c.ID
		}
	}
	assert.Equal(t, "Oslo harbour", d.eng.Config(web).Labels["site"])
	require.NoError(t, d.run("ArtifactCommit"))
}

func TestMissingParamFailsCleanly(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	before, images := d.snapshot(), d.eng.Images()
	v2 := d.image("web", "2", memengine.Behavior{})
	err := d.install("app-2", `{"containers":["`+v2+`"],"run_args":"-e SERVER=${SERVER_URL}"}`, true)
	require.ErrorIs(t, err, spec.ErrInvalid)
	assert.Contains(t, err.Error(), "${SERVER_URL} has no value")
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images())

	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{not json`), 0o644))
	err = d.install("app-2", `{"params":{"SERVER_URL":"x"},"containers":["`+v2+`"],"run_args":"-e SERVER=${SERVER_URL}"}`, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "default.json")
	assert.Equal(t, before, d.snapshot())
}

// Only whoever gives a value can make it public: the artifact for its own
// defaults (public_params), the device for its values.
func TestPublicParams(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	meta := `{"params":{"SITE":"harbour","PORT":"8080","REGION":"north"},"public_params":["SITE","PORT","REGION"],
	  "containers":["` + v1 + `"],"run_args":"-e SITE=${SITE} -e PORT=${PORT} -e REGION=${REGION} -e PW=${PW}"}`
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"PORT":"9191","PW":{"value":"pw-of-the-device"}}`), 0o644))
	require.NoError(t, os.WriteFile(d.u.Config.MenderConfigureFile, []byte(`{"REGION":{"value":"south","public":true}}`), 0o644))
	require.NoError(t, d.install("app-1", meta, true), d.Log.String())
	log := d.Log.String()
	assert.Contains(t, log, "parameter SITE=harbour (artifact default)")
	assert.Contains(t, log, "parameter PORT=*** (", "the artifact cannot make the device's value public")
	assert.Contains(t, log, "parameter REGION=south (")
	assert.Contains(t, log, "parameter PW=*** (")
	assert.NotContains(t, log, "9191")
	assert.NotContains(t, log, "pw-of-the-device")

	err := d.install("app-2", `{"params":{"A":"1"},"public_params":["B"],"containers":["`+v1+`"]}`, true)
	assert.ErrorContains(t, err, `public_params[0]: "B" has no default in params`)
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"PW":{"value":"x","Public":true}}`), 0o644))
	err = d.install("app-2", meta, true)
	assert.ErrorContains(t, err, `PW: unknown field "Public"`)
}
