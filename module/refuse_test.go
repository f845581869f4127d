package module_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
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

// Project directories in the journal are deleted by later states: one
// that is not where Download puts it is refused, also through a link.
func TestJournalPathsStayInStateDir(t *testing.T) {
	v := victim(t)
	for name, tc := range map[string]struct{ deployment, installed string }{
		"absolute":      {`"project_dir":%q`, ``},
		"climbs out":    {`"old_project_dir":"STATE/shop/projects/../../../VICTIM"`, ``},
		"other app":     {`"project_dir":"STATE/other/projects/x"`, ``},
		"link":          {`"project_dir":"STATE/shop/projects/link"`, ``},
		"installed":     {`"project_dir":"STATE/shop/projects/abc"`, `{"project_dir":%q}`},
		"compose file":  {`"old_project_dir":"STATE/shop/projects/abc","old_project_file":"../../x.yml"`, ``},
		"names another": {`"app":"other"`, ``},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			state := d.u.Config.StateDir
			require.NoError(t, os.MkdirAll(filepath.Join(state, "shop", "projects"), 0o700))
			require.NoError(t, os.Symlink(v, filepath.Join(state, "shop", "projects", "link")))
			fill := func(s string) string {
				s = strings.ReplaceAll(strings.ReplaceAll(s, "STATE", state), "VICTIM", filepath.Base(v))
				if strings.Contains(s, "%q") {
					s = fmt.Sprintf(s, v)
				}
				return s
			}
			dep := `{"phase":"downloaded","app":"shop",` + fill(tc.deployment) + `}`
			if tc.deployment == `"app":"other"` {
				dep = `{"phase":"downloaded","app":"other","project_dir":"` + v + `"}`
			}
			if name == "climbs out" {
				// Put the victim where the unclean path leads.
				require.NoError(t, os.Rename(v, filepath.Join(state, "..", filepath.Base(v))))
				v2 := filepath.Join(state, "..", filepath.Base(v))
				t.Cleanup(func() { os.Rename(v2, v) })
				require.FileExists(t, filepath.Join(v2, "precious"))
				defer func() { assert.FileExists(t, filepath.Join(v2, "precious")) }()
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
			if name != "climbs out" {
				assert.FileExists(t, filepath.Join(v, "precious"))
			}
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

// The same checks read a Compose app's file, with placeholders put in as
// Compose will: an artifact's defaults do not get around them.
func TestComposePolicyMore(t *testing.T) {
	svc := func(s string) string { return "services:\n  web:\n    image: 127.0.0.1:5000/x\n" + s }
	hardened := config.Policy{DenyHostNamespaces: true, DenyContainerNamespaces: true, DenyUnconfined: true,
		DenyDeviceCgroupRules: true, BindMountPaths: []string{"/data"}, AllowedRegistries: []string{"127.0.0.1:5000"}}
	for name, tc := range map[string]struct{ compose, params, want string }{
		"seccomp":            {svc("    security_opt: [\"seccomp:unconfined\"]\n"), "", "security-opt seccomp=unconfined is refused"},
		"apparmor":           {svc("    security_opt: [apparmor=unconfined]\n"), "", "apparmor=unconfined is refused"},
		"userns":             {svc("    userns_mode: host\n"), "", "--userns host is refused"},
		"uts":                {svc("    uts: host\n"), "", "--uts host is refused"},
		"cgroup":             {svc("    cgroup: host\n"), "", "cgroup: host is refused"},
		"pid service":        {svc("    pid: service:db\n"), "", "pid: service:db is refused"},
		"ipc container":      {svc("    ipc: container:db\n"), "", "ipc: container:db is refused"},
		"network container":  {svc("    network_mode: container:db\n"), "", "network_mode: container:db is refused"},
		"cgroup rules":       {svc("    device_cgroup_rules: [\"c 1:3 rwm\"]\n"), "", "--device-cgroup-rule c 1:3 rwm is refused"},
		"registry":           {"services:\n  web:\n    image: docker.io/library/alpine@sha256:" + strings.Repeat("a", 64) + "\n", "", "registry docker.io is refused"},
		"hub by default":     {"services:\n  web:\n    image: alpine\n", "", "registry docker.io is refused"},
		"default gives host": {svc("    pid: ${PIDMODE:-host}\n"), "", "--pid host is refused"},
		"param gives host":   {svc("    network_mode: ${NET}\n"), `"NET":"host"`, "--network host is refused"},
		"param gives path":   {svc("    volumes: [\"${DIR}:/x\"]\n"), `"DIR":"/etc"`, "-v /etc:/x is refused"},
		"privileged param":   {svc("    privileged: ${P}\n"), `"P":"true"`, ""},
		"home":               {svc("    volumes: [\"~/.ssh:/x\"]\n"), "", "/.ssh:/x is refused"},
		"long relative":      {svc("    volumes: [{type: bind, source: ../../.., target: /x}]\n"), "", "is refused"},
		"volume device":      {svc("    volumes: [\"v:/x\"]\nvolumes:\n  v:\n    driver_opts: {type: none, o: bind, device: /etc}\n"), "", "volume v: device /etc is refused"},
		"included":           {"include: [more/extra.yml]\n" + svc(""), "", "--pid host is refused"},
		"extended":           {svc("    extends: {file: more/extra.yml, service: side}\n"), "", "--pid host is refused"},
		"include outside":    {"include: [../x.yml]\n" + svc(""), "", `"../x.yml" is outside the project`},
		"volumes_from":       {svc("    volumes_from: [\"container:other\"]\n"), "", "volumes_from: container:other is refused"},
		"allowed":            {svc("    security_opt: [no-new-privileges]\n    volumes: [\"./conf:/conf\", \"/data/x:/x\", \"v:/v\"]\n    pid: ${PIDMODE:-}\n"), "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			d.u.Compose = &stubComposer{}
			d.u.Config.Policy = hardened
			if name == "privileged param" {
				d.u.Config.Policy = config.Policy{DenyPrivileged: true}
				tc.want = "--privileged is refused"
			}
			img := d.image("web", "1", memengine.Behavior{})
			params := ""
			if tc.params != "" {
				params = `"params":{` + tc.params + `},`
			}
			d.Artifact("c-1", `{"app":"shop",`+params+`"compose":{"project":"p.tar","images":["`+img+`"]}}`)
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			files := [][2]string{{"docker-compose.yml", tc.compose}, {"more/extra.yml", "services:\n  side:\n    image: 127.0.0.1:5000/x\n    pid: host\n"}}
			for _, f := range files {
				tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
				tw.Write([]byte(f[1]))
			}
			tw.Close()
			require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", "p.tar"), buf.Bytes(), 0o644))
			err := d.run("Download")
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, d.eng.Images(), "nothing kept")
		})
	}
}
