package integration

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/registryauth"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// The registry's login. The password must never show in what the module
// says.
const (
	authUser = "device"
	authPass = "Pr1vate-Reg1stry-Pa55"
)

// privateRegistry is a loopback registry that answers only requests with
// the test's basic-auth login, as a private registry does.
type privateRegistry struct {
	t      *testing.T
	reg    *fixture.Registry
	pushed []string
}

func newPrivateRegistry(t *testing.T) *privateRegistry {
	e := fixture.Docker(t)
	p := &privateRegistry{t: t}
	p.reg = fixture.NewRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, pw, ok := r.BasicAuth()
			if !ok || u != authUser || subtle.ConstantTimeCompare([]byte(pw), []byte(authPass)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() {
		for _, ref := range p.pushed {
			e.RemoveImage(context.Background(), ref)
		}
	})
	return p
}

// push builds an image and pushes it with the login.
func (p *privateRegistry) push(repo string) string {
	p.t.Helper()
	v := fixture.RandHex()
	img, err := fixture.Build(fixture.Image{Version: v})
	require.NoError(p.t, err)
	tag, err := name.ParseReference(p.reg.Addr+"/auth/"+repo+":"+v, name.Insecure)
	require.NoError(p.t, err)
	require.NoError(p.t, remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: authUser, Password: authPass})))
	d, err := img.Digest()
	require.NoError(p.t, err)
	ref := p.reg.Addr + "/auth/" + repo + "@" + d.String()
	p.pushed = append(p.pushed, ref)
	return ref
}

// writeConfig writes a docker CLI config.json into a fresh directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600))
	return dir
}

func basicAuths(host string) string {
	return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(authUser+":"+authPass)))
}

func authMeta(app, ref string) string {
	return fmt.Sprintf(`{"app":%q,"containers":[%q],"run_args":"--network none"}`, app, ref)
}

func hasImage(t *testing.T, ref string) bool {
	ok, err := fixture.Docker(t).HasImage(context.Background(), ref)
	require.NoError(t, err)
	return ok
}

// helperScript installs docker-credential-NAME on PATH, answering for
// host with secret, and returns nothing else.
func helperScript(t *testing.T, name, body string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte("#!/bin/sh\nserver=$(cat)\n"+body+"\n"), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func answerFor(host, pass string) string {
	return fmt.Sprintf(`if [ "$server" = %q ]; then printf '{"ServerURL":"%%s","Username":%q,"Secret":%q}' "$server"; else echo "credentials not found in native keychain"; exit 1; fi`, host, authUser, pass)
}

// A Download through the module, against the real engine, from a registry
// that wants a login: refused without credentials, done with them from
// each place the docker CLI keeps them, or from registry_auth_file.
func TestPrivateRegistry(t *testing.T) {
	p := newPrivateRegistry(t)
	ref := p.push("web")
	addr := p.reg.Addr
	app := "auth-" + fixture.RandHex()

	// download runs Download on a fresh device whose engine looks
	// credentials up with r, then Cleanup, which must remove what was
	// pulled. It says whether the image was there after Download.
	download := func(t *testing.T, r registryauth.Resolver) (bool, string, error) {
		eng, err := dockerapi.New("", dockerapi.WithCredentials(r.Lookup))
		require.NoError(t, err)
		defer eng.Close()
		d := fixture.NewDevice(t, eng)
		d.Artifact("auth-1", authMeta(app, ref))
		err = d.Run("Download")
		pulled := hasImage(t, ref)
		require.NoError(t, d.Run("Cleanup"))
		assert.False(t, hasImage(t, ref), "Cleanup left the image behind")
		said := d.Log.String() + fmt.Sprint(err)
		t.Log(said)
		assert.NotContains(t, said, authPass)
		return pulled, said, err
	}
	works := func(t *testing.T, r registryauth.Resolver) {
		pulled, said, err := download(t, r)
		require.NoError(t, err, said)
		assert.True(t, pulled)
	}

	t.Run("no credentials", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("DOCKER_CONFIG", dir)
		pulled, _, err := download(t, registryauth.Resolver{})
		require.ErrorIs(t, err, registryauth.ErrNoCredentials)
		assert.Contains(t, err.Error(), "no basic auth credentials: no credentials for "+addr+" in "+dir+"/config.json (missing) or registry_auth_file (not set)")
		assert.False(t, pulled)
	})
	t.Run("auths in DOCKER_CONFIG", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", writeConfig(t, basicAuths(addr)))
		works(t, registryauth.Resolver{})
	})
	t.Run("auths under a URL key", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", writeConfig(t, basicAuths("http://"+addr+"/v2/")))
		works(t, registryauth.Resolver{})
	})
	t.Run("credHelpers", func(t *testing.T) {
		helperScript(t, "authtest", answerFor(addr, authPass))
		t.Setenv("DOCKER_CONFIG", writeConfig(t, fmt.Sprintf(`{"credHelpers":{%q:"authtest"}}`, addr)))
		works(t, registryauth.Resolver{})
	})
	t.Run("credsStore", func(t *testing.T) {
		helperScript(t, "authtest", answerFor(addr, authPass))
		t.Setenv("DOCKER_CONFIG", writeConfig(t, `{"credsStore":"authtest"}`))
		works(t, registryauth.Resolver{})
	})
	t.Run("registry_auth_file", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		file := filepath.Join(writeConfig(t, basicAuths(addr)), "config.json")
		works(t, registryauth.Resolver{File: file})
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := "Wr0ng-" + authPass
		helperScript(t, "authtest", answerFor(addr, wrong))
		t.Setenv("DOCKER_CONFIG", writeConfig(t, `{"credsStore":"authtest"}`))
		pulled, said, err := download(t, registryauth.Resolver{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the registry refused the credentials from docker-credential-authtest")
		assert.NotContains(t, said, wrong)
		assert.False(t, pulled)
	})
	t.Run("failing helper", func(t *testing.T) {
		helperScript(t, "authtest", "echo "+authPass+"; echo "+authPass+" >&2; exit 1")
		t.Setenv("DOCKER_CONFIG", writeConfig(t, `{"credsStore":"authtest"}`))
		pulled, _, err := download(t, registryauth.Resolver{})
		require.ErrorIs(t, err, registryauth.ErrHelper)
		assert.False(t, pulled)
	})
}

// The module binary as the Mender client runs it: the device config's
// registry_auth_file and the docker CLI's config reach the pull.
func TestPrivateRegistryModuleBinary(t *testing.T) {
	p := newPrivateRegistry(t)
	bin := filepath.Join(t.TempDir(), "docker")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/docker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	app := "auth-" + fixture.RandHex()
	// run runs one state of the module with the device config conf (JSON
	// keys added to a test device's) and the docker CLI config in dockerConfig.
	run := func(state, files, dockerConfig, extra string) (string, error) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "mender-docker.conf")
		body := fmt.Sprintf(`{"state_dir":%q,"min_free_mb":0,"health_window":"0s","params_dir":%q,"mender_configure_file":%q%s}`,
			filepath.Join(dir, "..", "state"), dir, filepath.Join(dir, "none.json"), extra)
		require.NoError(t, os.WriteFile(conf, []byte(body), 0o600))
		cmd := exec.Command(bin, state, files)
		cmd.Env = append(os.Environ(), "MENDER_DOCKER_CONF="+conf, "DOCKER_CONFIG="+dockerConfig)
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		err := cmd.Run()
		assert.NotContains(t, stderr.String(), authPass)
		return stderr.String(), err
	}
	download := func(ref, dockerConfig, extra string) (string, error) {
		files := filepath.Join(t.TempDir(), "files")
		require.NoError(t, os.MkdirAll(filepath.Join(files, "header"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(files, "header", "meta-data"), []byte(authMeta(app, ref)), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(files, "header", "artifact_name"), []byte("auth-1"), 0o644))
		log, err := run("Download", files, dockerConfig, extra)
		assert.Equal(t, err == nil, hasImage(t, ref))
		// Whatever happened, the client ends the deployment; the module
		// removes what it pulled.
		cleanup, cerr := run("Cleanup", files, dockerConfig, extra)
		assert.NoError(t, cerr, "%s", cleanup)
		assert.False(t, hasImage(t, ref), "Cleanup left the image behind")
		return log, err
	}

	ref := p.push("web")
	empty := t.TempDir()
	log, err := download(ref, empty, "")
	require.Error(t, err, "pulled without credentials: %s", log)
	assert.Contains(t, log, "no credentials for "+p.reg.Addr)
	assert.False(t, hasImage(t, ref))

	t.Log(log)

	log, err = download(ref, writeConfig(t, basicAuths(p.reg.Addr)), "")
	require.NoError(t, err, "%s", log)

	file := filepath.Join(writeConfig(t, basicAuths(p.reg.Addr)), "config.json")
	log, err = download(ref, empty, fmt.Sprintf(`,"registry_auth_file":%q`, file))
	require.NoError(t, err, "%s", log)
}
