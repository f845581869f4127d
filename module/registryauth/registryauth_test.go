package registryauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	reg    = "127.0.0.1:5000"
	ref    = reg + "/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	secret = "s3cr3t-Pa55-never-shown"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// dockerConfig points DOCKER_CONFIG at a fresh directory holding data as
// config.json (none if data is empty) and returns the file's path.
func dockerConfig(t *testing.T, data string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	path := filepath.Join(dir, "config.json")
	if data != "" {
		require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	}
	return path
}

// helper installs docker-credential-NAME, a shell script, on PATH. The
// script gets the server on stdin and records it in the returned file.
func helper(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "asked")
	body := "#!/bin/sh\nserver=$(cat)\necho \"$server\" >>" + log + "\n" + script + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(body), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// noSecret checks that nothing the package says shows the secret.
func noSecret(t *testing.T, c Credentials, err error) {
	t.Helper()
	for _, s := range []string{fmt.Sprint(err), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		assert.NotContains(t, s, secret)
		assert.NotContains(t, s, b64("user:"+secret))
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{
		ref:                                  reg,
		"alpine@sha256:00":                   "docker.io",
		"acme/web@sha256:00":                 "docker.io",
		"docker.io/acme/web@sha256:00":       "docker.io",
		"index.docker.io/acme/web@sha256:00": "docker.io",
		"localhost/web@sha256:00":            "localhost",
		"localhost:5000/web@sha256:00":       "localhost:5000",
		"registry.example.com/a/b/c:tag":     "registry.example.com",
		"[::1]:5000/web@sha256:00":           "[::1]:5000",
		"Upper/web@sha256:00":                "Upper",
	} {
		assert.Equal(t, want, Host(in), in)
	}
}

func TestAuthsForms(t *testing.T) {
	for _, tc := range []struct {
		name, key, entry string
		ref              string
		want             Credentials
	}{
		{"auth field", reg, `{"auth":%q}`, ref, Credentials{Username: "user", Password: secret}},
		{"username and password", reg, `{"username":"user","password":%q}`, ref, Credentials{Username: "user", Password: secret}},
		{"identity token", reg, `{"identitytoken":%q}`, ref, Credentials{IdentityToken: secret}},
		{"registry token", reg, `{"registrytoken":%q}`, ref, Credentials{RegistryToken: secret}},
		{"https URL key with path", "https://" + reg + "/v1/", `{"auth":%q}`, ref, Credentials{Username: "user", Password: secret}},
		{"http URL key", "http://" + reg, `{"auth":%q}`, ref, Credentials{Username: "user", Password: secret}},
		{"key with path", reg + "/v2/", `{"auth":%q}`, ref, Credentials{Username: "user", Password: secret}},
		{"hub key", HubKey, `{"auth":%q}`, "acme/web@sha256:00", Credentials{Username: "user", Password: secret}},
		{"hub key for docker.io", HubKey, `{"auth":%q}`, "docker.io/library/alpine@sha256:00", Credentials{Username: "user", Password: secret}},
		{"hub short key", "index.docker.io", `{"auth":%q}`, "alpine@sha256:00", Credentials{Username: "user", Password: secret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			val := secret
			if strings.Contains(tc.entry, "auth\"") {
				val = b64("user:" + secret)
			}
			path := dockerConfig(t, fmt.Sprintf(`{"auths":{%q:`+tc.entry+`,"other.example.com":{"auth":%q}}}`, tc.key, val, b64("x:y")))
			c, err := Resolver{}.Lookup(context.Background(), tc.ref)
			require.NoError(t, err)
			want := tc.want
			want.ServerAddress = configKey(Host(tc.ref))
			want.From = path
			assert.Equal(t, want, c)
			noSecret(t, c, err)
		})
	}
}

func TestNoCredentials(t *testing.T) {
	t.Run("no file", func(t *testing.T) {
		path := dockerConfig(t, "")
		_, err := Resolver{}.Lookup(context.Background(), ref)
		require.ErrorIs(t, err, ErrNoCredentials)
		assert.Equal(t, "no credentials for "+reg+" in "+path+" (missing) or registry_auth_file (not set)", err.Error())
	})
	t.Run("other registries only", func(t *testing.T) {
		path := dockerConfig(t, `{"auths":{"127.0.0.1:5001":{"auth":"`+b64("u:p")+`"},"127.0.0.1":{"auth":"`+b64("u:p")+`"}}}`)
		file := filepath.Join(t.TempDir(), "auth.json")
		_, err := Resolver{File: file}.Lookup(context.Background(), ref)
		require.ErrorIs(t, err, ErrNoCredentials)
		assert.Equal(t, "no credentials for "+reg+" in registry_auth_file "+file+" (missing) or "+path, err.Error())
	})
	t.Run("empty entry and empty file", func(t *testing.T) {
		dockerConfig(t, `{"auths":{"`+reg+`":{}}}`)
		file := filepath.Join(t.TempDir(), "auth.json")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := Resolver{File: file}.Lookup(context.Background(), ref)
		require.ErrorIs(t, err, ErrNoCredentials)
	})
}

// registry_auth_file comes first; the docker config is the fallback.
func TestFileOrder(t *testing.T) {
	path := dockerConfig(t, `{"auths":{"`+reg+`":{"auth":"`+b64("docker:pw")+`"},"127.0.0.1:5001":{"auth":"`+b64("docker:pw")+`"}}}`)
	file := filepath.Join(t.TempDir(), "auth.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"auths":{"`+reg+`":{"auth":"`+b64("device:pw")+`"}}}`), 0o600))
	r := Resolver{File: file}
	c, err := r.Lookup(context.Background(), ref)
	require.NoError(t, err)
	assert.Equal(t, "device", c.Username)
	assert.Equal(t, file, c.From)
	c, err = r.Lookup(context.Background(), "127.0.0.1:5001/x@sha256:00")
	require.NoError(t, err)
	assert.Equal(t, "docker", c.Username)
	assert.Equal(t, path, c.From)
}

func TestDockerConfigFiles(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", "/etc/dc")
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, []string{"/etc/dc/config.json"}, DockerConfigFiles())
	t.Setenv("DOCKER_CONFIG", "")
	assert.Equal(t, []string{"/home/u/.docker/config.json", "/root/.docker/config.json"}, DockerConfigFiles())
	t.Setenv("HOME", "/root")
	assert.Equal(t, []string{"/root/.docker/config.json"}, DockerConfigFiles())
	t.Setenv("HOME", "")
	assert.Equal(t, []string{"/root/.docker/config.json"}, DockerConfigFiles())

	// HOME's file is read when it exists.
	home := t.TempDir()
	t.Setenv("HOME", home)
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".docker"), 0o700))
	cfg := filepath.Join(home, ".docker", "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"auths":{"`+reg+`":{"auth":"`+b64("home:pw")+`"}}}`), 0o600))
	c, err := Resolver{}.Lookup(context.Background(), ref)
	require.NoError(t, err)
	assert.Equal(t, cfg, c.From)
}

const testHelper = `case "$server" in
  ` + reg + `) printf '{"ServerURL":"%s","Username":"helper","Secret":"` + secret + `"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"` + secret + `"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`

func TestCredsStore(t *testing.T) {
	asked := helper(t, "test", testHelper)
	dockerConfig(t, `{"credsStore":"test","auths":{"127.0.0.1:5001":{"auth":"`+b64("file:pw")+`"}}}`)
	r := Resolver{}
	ctx := context.Background()

	c, err := r.Lookup(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, "helper", c.Username)
	assert.Equal(t, secret, c.Password)
	assert.Equal(t, reg, c.ServerAddress)
	assert.Contains(t, c.From, "docker-credential-test")
	noSecret(t, c, err)

	// Docker Hub: asked by its config key; "<token>" means an identity token.
	c, err = r.Lookup(ctx, "acme/web@sha256:00")
	require.NoError(t, err)
	assert.Equal(t, Credentials{IdentityToken: secret, ServerAddress: HubKey, From: c.From}, c)

	// Nothing in the store: the auths entry still counts.
	c, err = r.Lookup(ctx, "127.0.0.1:5001/x@sha256:00")
	require.NoError(t, err)
	assert.Equal(t, "file", c.Username)

	// Nothing anywhere.
	_, err = r.Lookup(ctx, "127.0.0.1:5002/x@sha256:00")
	require.ErrorIs(t, err, ErrNoCredentials)

	data, err := os.ReadFile(asked)
	require.NoError(t, err)
	assert.Equal(t, reg+"\n"+HubKey+"\n127.0.0.1:5001\n127.0.0.1:5002\n", string(data))
}

func TestCredHelpers(t *testing.T) {
	helper(t, "test", testHelper)
	otherAsked := helper(t, "other", `echo "credentials not found in native keychain"; exit 1`)
	dockerConfig(t, `{"credsStore":"other","credHelpers":{"`+reg+`":"test"},"auths":{"`+reg+`":{"auth":"`+b64("file:pw")+`"}}}`)

	// The registry's own helper wins over credsStore and auths.
	c, err := Resolver{}.Lookup(context.Background(), ref)
	require.NoError(t, err)
	assert.Equal(t, "helper", c.Username)
	_, err = os.Stat(otherAsked)
	assert.ErrorIs(t, err, os.ErrNotExist, "credsStore asked although credHelpers names a helper")

	// Other registries go to credsStore.
	_, err = Resolver{}.Lookup(context.Background(), "127.0.0.1:5001/x@sha256:00")
	require.ErrorIs(t, err, ErrNoCredentials)
	data, err := os.ReadFile(otherAsked)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5001\n", string(data))
}

func TestHelperFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("fails printing the secret", func(t *testing.T) {
		helper(t, "test", `echo "oops `+secret+`"; echo "`+secret+`" >&2; exit 3`)
		path := dockerConfig(t, `{"credsStore":"test"}`)
		c, err := Resolver{}.Lookup(ctx, ref)
		require.ErrorIs(t, err, ErrHelper)
		assert.Equal(t, path+": credential helper failed: docker-credential-test get: exit status 3", err.Error())
		noSecret(t, c, err)
	})
	t.Run("answers garbage", func(t *testing.T) {
		helper(t, "test", `echo '{"Username":"u","Secret":"`+secret+`"'`)
		dockerConfig(t, `{"credsStore":"test"}`)
		c, err := Resolver{}.Lookup(ctx, ref)
		require.ErrorIs(t, err, ErrHelper)
		assert.Contains(t, err.Error(), "not the helper protocol's JSON")
		noSecret(t, c, err)
	})
	t.Run("not installed", func(t *testing.T) {
		dockerConfig(t, `{"credHelpers":{"`+reg+`":"absent-xyz"}}`)
		_, err := Resolver{}.Lookup(ctx, ref)
		require.ErrorIs(t, err, ErrHelper)
		assert.Contains(t, err.Error(), "docker-credential-absent-xyz is not installed")
	})
	t.Run("not a name", func(t *testing.T) {
		dockerConfig(t, `{"credsStore":"../../bin/sh"}`)
		_, err := Resolver{}.Lookup(ctx, ref)
		require.ErrorIs(t, err, ErrHelper)
	})
	t.Run("hangs", func(t *testing.T) {
		// Not exec: the shell's child keeps stdout open after the kill.
		helper(t, "test", `sleep 30; echo never`)
		dockerConfig(t, `{"credsStore":"test"}`)
		start := time.Now()
		_, err := Resolver{HelperTimeout: 200 * time.Millisecond}.Lookup(ctx, ref)
		require.ErrorIs(t, err, ErrHelper)
		assert.Contains(t, err.Error(), "no answer within 200ms")
		assert.Less(t, time.Since(start), 15*time.Second, "well before the helper's 30s")
	})
}

func TestMalformed(t *testing.T) {
	for name, data := range map[string]string{
		"syntax":           `{"auths":{"` + reg + `":{"password":"` + secret + `" "username":"u"}}}`,
		"truncated":        `{"auths":{"` + reg + `":{"password":"` + secret,
		"wrong type":       `{"auths":{"` + reg + `":{"username":"u","password":["` + secret + `"]}}}`,
		"auths not object": `{"auths":"` + secret + `"}`,
		"bad base64":       `{"auths":{"` + reg + `":{"auth":"` + secret + `!"}}}`,
		"no colon":         `{"auths":{"` + reg + `":{"auth":"` + b64(secret) + `"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			for _, viaFile := range []bool{false, true} {
				path := dockerConfig(t, data)
				r := Resolver{}
				if viaFile {
					dockerConfig(t, "")
					r.File = path
				}
				c, err := r.Lookup(context.Background(), ref)
				require.ErrorIs(t, err, ErrMalformed)
				t.Log(err)
				assert.True(t, strings.HasPrefix(err.Error(), path+": malformed credentials file: "), err.Error())
				assert.NotContains(t, err.Error(), "\n")
				noSecret(t, c, err)
				assert.NotContains(t, err.Error(), b64(secret))
				assert.False(t, errors.Is(err, ErrNoCredentials))
			}
		})
	}
}

func TestCredentialsPrintNoSecret(t *testing.T) {
	c := Credentials{Username: "u", Password: secret, IdentityToken: secret, RegistryToken: secret, ServerAddress: reg, From: "x"}
	noSecret(t, c, nil)
	assert.Contains(t, fmt.Sprint(c), reg)
}
