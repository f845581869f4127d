package module_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// victim is a directory outside the state directory that a hostile
// artifact or a planted journal tries to have deleted.
func victim(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644))
	return dir
}

// "app": "../plant" is refused in every state: no state reads a journal
// or a parameters file outside its directory, and none deletes anything a
// journal there names.
func TestAppNameCheckedInEveryState(t *testing.T) {
	d := newDevice(t)
	v := victim(t)
	plant := filepath.Join(d.u.Config.StateDir, "..", "plant")
	require.NoError(t, os.MkdirAll(plant, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(plant, "deployment.json"),
		[]byte(fmt.Sprintf(`{"phase":"downloading","app":"../plant","project_dir":%q,"old_project_dir":%q}`, v, v)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "..", "plant.json"), []byte(`{not json`), 0o644))
	img := d.image("web", "1", memengine.Behavior{})
	d.Artifact("evil", `{"app":"../plant","containers":["`+img+`"]}`)
	for _, state := range []string{"Download", "ArtifactInstall", "ArtifactCommit", "ArtifactRollback", "ArtifactFailure", "Cleanup"} {
		err := d.run(state)
		require.Error(t, err, state)
		assert.Contains(t, err.Error(), `app: "../plant"`, state)
		assert.NotContains(t, err.Error(), "parameters", state)
		assert.FileExists(t, filepath.Join(v, "precious"), state)
	}
	assert.Empty(t, d.eng.Images())
}

// The files directories named in the journal are deleted by later states:
// anything but a digest there is refused, so that no path leads out.
func TestJournalPathsStayInStateDir(t *testing.T) {
	v := victim(t)
	for name, tc := range map[string]struct{ deployment, installed string }{
		"absolute":      {`"files":%q`, ``},
		"climbs out":    {`"files":"sha256:../../VICTIM"`, ``},
		"installed":     {``, `{"files":%q}`},
		"names another": {`"app":"other"`, ``},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			state := d.u.Config.StateDir
			require.NoError(t, os.MkdirAll(filepath.Join(state, "shop"), 0o700))
			fill := func(s string) string {
				s = strings.ReplaceAll(s, "VICTIM", filepath.Base(v))
				if strings.Contains(s, "%q") {
					s = fmt.Sprintf(s, v)
				}
				return s
			}
			dep := `{"phase":"downloaded","app":"shop"}`
			if tc.deployment != "" {
				dep = `{"phase":"downloaded","app":"shop",` + fill(tc.deployment) + `}`
			}
			if tc.deployment == `"app":"other"` {
				dep = `{"phase":"downloaded","app":"other","files":"` + v + `"}`
			}
			require.NoError(t, os.WriteFile(filepath.Join(state, "shop", "deployment.json"), []byte(dep), 0o600))
			if tc.installed != "" {
				require.NoError(t, os.WriteFile(filepath.Join(state, "shop", "installed.json"), []byte(fill(tc.installed)), 0o600))
			}
			d.Artifact("shop-1", `{"app":"shop","remove":true}`)
			err := d.run("Cleanup")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "journal of app shop")
			assert.Contains(t, err.Error(), "corrupted")
			assert.FileExists(t, filepath.Join(v, "precious"))
		})
	}
}

// Meta-data over the limit says so, in every state.
func TestMetaDataTooLarge(t *testing.T) {
	d := newDevice(t)
	img := d.image("web", "1", memengine.Behavior{})
	d.Artifact("big", `{"params":{"X":"`+strings.Repeat("a", 1<<20)+`"},"containers":["`+img+`"]}`)
	for _, state := range []string{"Download", "Cleanup"} {
		err := d.run(state)
		require.Error(t, err, state)
		assert.Contains(t, err.Error(), "too large", state)
		assert.NotContains(t, err.Error(), "not valid JSON", state)
	}
}

// A corrupted journal names its file and says how to recover.
func TestCorruptedJournal(t *testing.T) {
	d := newDevice(t)
	path := filepath.Join(d.u.Config.StateDir, "shop", "deployment.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(`{"phase":"installing","ap`), 0o600))
	img := d.image("web", "1", memengine.Behavior{})
	d.Artifact("shop-1", `{"app":"shop","containers":["`+img+`"]}`)
	err := d.run("Download")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "journal "+path+" is corrupted")
	assert.Contains(t, err.Error(), "delete the file to start over")
	assert.Empty(t, d.eng.Images())
}

// The new policy keys refuse in Download, before anything is pulled.
func TestPolicyRefusesInDownload(t *testing.T) {
	for name, tc := range map[string]struct {
		policy config.Policy
		args   string
		want   string
	}{
		"seccomp":    {config.Policy{DenyUnconfined: true}, "--security-opt seccomp:unconfined", "--security-opt seccomp=unconfined is refused by the device policy (deny_unconfined)"},
		"other opt":  {config.Policy{AllowedSecurityOpts: []string{"no-new-privileges"}}, "--security-opt apparmor=x", "--security-opt apparmor=x is refused"},
		"uts":        {config.Policy{DenyHostNamespaces: true}, "--uts host", "--uts host is refused"},
		"userns":     {config.Policy{DenyHostNamespaces: true}, "--userns=host", "--userns host is refused"},
		"pid":        {config.Policy{DenyContainerNamespaces: true}, "--pid container:db", "--pid container:db is refused"},
		"cgroup":     {config.Policy{DenyDeviceCgroupRules: true}, "--device-cgroup-rule 'c 1:3 rwm'", "--device-cgroup-rule c 1:3 rwm is refused"},
		"registries": {config.Policy{AllowedRegistries: []string{"registry.example.com"}}, "", "registry 127.0.0.1:5000 is refused by the device policy (allowed_registries: registry.example.com)"},
		"dns":        {config.Policy{}, "--dns notanip", `--dns: "notanip": not an IP address`},
		"opt value":  {config.Policy{}, "--security-opt nonsense=1", `--security-opt: "nonsense=1": not a security option`},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			d.u.Config.Policy = tc.policy
			img := d.image("web", "1", memengine.Behavior{})
			err := d.install("web-1", `{"services":{"web":{"image":"`+img+`","run_args":"`+tc.args+`"}}}`, true)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, d.eng.Images(), "nothing pulled")
			assert.Empty(t, d.containers())
		})
	}
}

// Meta-data of the releases that ran Docker Compose on the device is
// refused in Download, saying to regenerate it, with nothing changed.
func TestOldComposeMetaRefused(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	img := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("shop-1", `{"app":"shop","services":{"web":{"image":"`+img+`"}}}`, true))
	before, images := d.snapshot(), d.eng.Images()
	d.Artifact("c-1", `{"app":"shop","compose":{"project":"p.tar","images":["`+img+`"]}}`)
	require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", "p.tar"), []byte("a project tar"), 0o644))
	d.eng.KillAfter(0)
	err := d.run("Download")
	require.ErrorIs(t, err, spec.ErrInvalid)
	assert.Contains(t, err.Error(), "regenerate it")
	assert.Equal(t, 0, d.eng.Calls(), "the engine was not even asked")
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images())
	_, err = os.Stat(filepath.Join(d.u.Config.StateDir, "shop", "deployment.json"))
	assert.True(t, os.IsNotExist(err), "no deployment journalled")
}

// A journal written by a release that ran Docker Compose (project paths,
// old parameters) still loads: the fields it no longer knows are ignored,
// and the directories they name are not touched.
func TestOldJournalLoads(t *testing.T) {
	d := newDevice(t)
	v := victim(t)
	img := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("shop-1", `{"app":"shop","containers":["`+img+`"]}`, true))
	before := d.snapshot()
	state := d.u.Config.StateDir
	require.NoError(t, os.WriteFile(filepath.Join(state, "shop", "installed.json"),
		[]byte(fmt.Sprintf(`{"artifact":"shop-1","images":[%q],"project_dir":%q,"project_file":"docker-compose.yml","params":{"A":"b"}}`, img, v)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(state, "shop", "deployment.json"),
		[]byte(fmt.Sprintf(`{"phase":"rolled-back","app":"shop","artifact":"shop-2","id":"x","meta":{},"project_dir":%q,"old_project_dir":%q,"old_project_file":"x.yml","old_params":{"A":"b"}}`, v, v)), 0o600))
	st := d.u.Status(context.Background(), "shop")
	require.Len(t, st.Apps, 1)
	assert.Equal(t, "shop-1", st.Apps[0].Artifact)
	assert.Empty(t, st.Apps[0].Problems)
	d.Artifact("shop-2", `{"app":"shop","containers":["`+img+`"]}`)
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot())
	assert.FileExists(t, filepath.Join(v, "precious"))
	_, err := os.Stat(filepath.Join(state, "shop", "deployment.json"))
	assert.True(t, os.IsNotExist(err))
}
