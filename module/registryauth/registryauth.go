// Package registryauth finds the credentials for an image's registry the
// way the docker CLI does, so that a device where `docker login` worked
// pulls private images: it reads config.json files (`auths`, `credsStore`,
// `credHelpers`) and runs `docker-credential-*` helpers. It knows nothing of
// the Docker API; the engine adapter turns what it finds into the pull's
// registry auth. No error or message of this package ever holds a secret:
// file contents and helper output stay out of them.
package registryauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
)

// HubKey is the config.json key of Docker Hub, as `docker login` writes it.
const HubKey = "https://index.docker.io/v1/"

// DefaultHelperTimeout bounds one run of a credential helper: a helper
// waiting for a keyring unlock that never comes must not hang a
// deployment.
const DefaultHelperTimeout = 30 * time.Second

// rootConfig is where the docker CLI of root keeps its config; the module
// runs as root, often without HOME (systemd services).
const rootConfig = "/root/.docker/config.json"

// Credentials are what a registry login needs. Its String and GoString
// hide the secrets, so printing one by mistake leaks nothing.
type Credentials struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
	// ServerAddress is the config key they were found under, e.g.
	// "127.0.0.1:5000" or HubKey.
	ServerAddress string
	// From says where they came from (a file, a helper), for messages.
	From string
}

func (c Credentials) String() string {
	return fmt.Sprintf("credentials for %s from %s (user %q, secrets hidden)", c.ServerAddress, c.From, c.Username)
}

func (c Credentials) GoString() string { return c.String() }

// Resolver looks up credentials. The zero value reads only the docker
// CLI's config.
type Resolver struct {
	// File, if set, is read before the docker CLI's config: the device
	// configuration's registry_auth_file, in the same format.
	File string
	// HelperTimeout bounds each helper run; zero means
	// DefaultHelperTimeout.
	HelperTimeout time.Duration
}

// Lookup finds the credentials for the registry of ref (a reference such
// as 127.0.0.1:5000/acme/web@sha256:…). With none anywhere it returns an
// error wrapping ErrNoCredentials that says where it looked; other errors
// (a malformed file, a failing helper) mean the configuration is broken.
func (r Resolver) Lookup(ctx context.Context, ref string) (Credentials, error) {
	host := Host(ref)
	key := configKey(host)
	var looked []string
	if r.File != "" {
		c, found, err := r.lookupFile(ctx, r.File, key)
		if err != nil || found {
			return c, err
		}
		looked = append(looked, "registry_auth_file "+describe(r.File))
	}
	files := DockerConfigFiles()
	path := files[len(files)-1]
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			path = f
			break
		}
	}
	c, found, err := r.lookupFile(ctx, path, key)
	if err != nil || found {
		return c, err
	}
	if r.File == "" {
		return Credentials{}, fmt.Errorf("%w for %s in %s or registry_auth_file (not set)", ErrNoCredentials, host, describe(path))
	}
	looked = append(looked, describe(path))
	return Credentials{}, fmt.Errorf("%w for %s in %s", ErrNoCredentials, host, strings.Join(looked, " or "))
}

// describe names a file for messages, saying when it does not exist.
func describe(path string) string {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return path + " (missing)"
	}
	return path
}

// DockerConfigFiles lists where the docker CLI's config may be, in order:
// $DOCKER_CONFIG/config.json alone when DOCKER_CONFIG is set (an explicit
// choice), else $HOME/.docker/config.json, then /root/.docker/config.json.
// The first that exists is read.
func DockerConfigFiles() []string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return []string{filepath.Join(d, "config.json")}
	}
	var out []string
	if h := os.Getenv("HOME"); h != "" {
		out = append(out, filepath.Join(h, ".docker", "config.json"))
	}
	if len(out) == 0 || out[0] != rootConfig {
		out = append(out, rootConfig)
	}
	return out
}

// Host is the registry host of an image reference, by the docker CLI's
// rule: the first path element is a host if it has a dot or a colon, is
// localhost, or has an upper-case letter; otherwise the image is on Docker
// Hub ("docker.io").
func Host(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	first, _, ok := strings.Cut(name, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first) {
		return "docker.io"
	}
	if first == "index.docker.io" {
		return "docker.io"
	}
	return first
}

// configKey is the key config.json files and helpers know a registry by.
func configKey(host string) string {
	if host == "docker.io" {
		return HubKey
	}
	return host
}

// file is the part of config.json that concerns credentials; the rest of
// the docker CLI's settings are ignored.
type file struct {
	Auths       map[string]authEntry `json:"auths"`
	CredsStore  string               `json:"credsStore"`
	CredHelpers map[string]string    `json:"credHelpers"`
}

type authEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// load reads one config file; a missing file is an empty one.
func load(path string) (*file, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &file{}, nil
	}
	if err != nil {
		// os errors name the path and the cause, never the content.
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil && len(bytes.TrimSpace(data)) > 0 {
		// The decoder's own messages may quote a piece of the file.
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("%s: %w: not valid JSON (at byte %d)", path, ErrMalformed, syn.Offset)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%s: %w: %s must be a JSON %s", path, ErrMalformed, typ.Field, jsonKind(typ.Type))
		}
		return nil, fmt.Errorf("%s: %w: not valid JSON", path, ErrMalformed)
	}
	return &f, nil
}

// jsonKind names the JSON type that holds a Go type of file.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "string"
}

// lookupFile applies the docker CLI's order to one file: the registry's
// own credHelpers entry, else credsStore, else auths. Unlike the CLI, an
// auths entry is still used when credsStore has nothing for the registry.
func (r Resolver) lookupFile(ctx context.Context, path, key string) (Credentials, bool, error) {
	f, err := load(path)
	if err != nil {
		return Credentials{}, false, err
	}
	helper, ok := f.CredHelpers[key]
	if !ok && key == HubKey {
		helper, ok = hubEntry(f.CredHelpers)
	}
	if !ok {
		helper = f.CredsStore
	}
	if helper != "" {
		c, found, err := r.runHelper(ctx, helper, key)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("%s: %w", path, err)
		}
		if found {
			c.From = "docker-credential-" + helper + ", named in " + path
			return c, true, nil
		}
	}
	e, ok := matchAuths(f.Auths, key)
	if !ok {
		return Credentials{}, false, nil
	}
	c := Credentials{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken, ServerAddress: key, From: path}
	if e.Auth != "" {
		user, pass, err := decodeAuth(e.Auth)
		if err != nil {
			return Credentials{}, false, fmt.Errorf("%s: %w: auths entry for %s: %v", path, ErrMalformed, key, err)
		}
		c.Username, c.Password = user, pass
	}
	if c.Username == "" && c.Password == "" && c.IdentityToken == "" && c.RegistryToken == "" {
		return Credentials{}, false, nil
	}
	return c, true, nil
}

// hubEntry finds a Docker Hub entry written under a short key.
func hubEntry[V any](m map[string]V) (V, bool) {
	for _, k := range []string{"index.docker.io", "docker.io", "https://index.docker.io/v1", "https://docker.io"} {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// matchAuths finds key among auths: exactly, else, as the docker CLI does,
// any key whose host part is key ("https://127.0.0.1:5000/v1/" matches
// 127.0.0.1:5000). Keys are tried in order, so the choice is stable.
func matchAuths(auths map[string]authEntry, key string) (authEntry, bool) {
	if e, ok := auths[key]; ok {
		return e, true
	}
	if key == HubKey {
		return hubEntry(auths)
	}
	keys := make([]string, 0, len(auths))
	for k := range auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if hostOf(k) == key {
			return auths[k], true
		}
	}
	return authEntry{}, false
}

// hostOf strips a scheme and path from a config key, keeping host[:port].
func hostOf(k string) string {
	if strings.Contains(k, "://") {
		if u, err := url.Parse(k); err == nil && u.Hostname() != "" {
			if u.Port() == "" {
				return u.Hostname()
			}
			return net.JoinHostPort(u.Hostname(), u.Port())
		}
		_, k, _ = strings.Cut(k, "://")
	}
	h, _, _ := strings.Cut(k, "/")
	return h
}

// decodeAuth splits the base64 "user:password" of an auths entry. Its
// errors say what is wrong, not what was there.
func decodeAuth(s string) (string, string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", "", errors.New(`"auth" is not base64`)
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", errors.New(`"auth" is not base64 of user:password`)
	}
	return user, strings.Trim(pass, "\x00"), nil
}

// helperAnswer is the credential helper protocol's answer to `get`.
type helperAnswer struct {
	ServerURL string
	Username  string
	Secret    string
}

// notFound is the message every helper prints when it has nothing
// (docker-credential-helpers' standard).
const notFound = "credentials not found in native keychain"

// maxAnswer caps what is read from a helper.
const maxAnswer = 1 << 20

// runHelper runs `docker-credential-NAME get` with the server on stdin.
// The helper's output and stderr are never shown: a broken helper may
// print a secret.
func (r Resolver) runHelper(ctx context.Context, name, server string) (Credentials, bool, error) {
	prog := "docker-credential-" + name
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, "-") || strings.TrimSpace(name) != name {
		return Credentials{}, false, fmt.Errorf("%w: %q is not a helper name", ErrHelper, name)
	}
	timeout := r.HelperTimeout
	if timeout <= 0 {
		timeout = DefaultHelperTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "get")
	cmd.Stdin = strings.NewReader(server)
	out := &capped{max: maxAnswer}
	cmd.Stdout = out
	// A killed helper's children may hold the pipe open; stop waiting.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Credentials{}, false, fmt.Errorf("%w: %s get: no answer within %s", ErrHelper, prog, timeout)
	case ctx.Err() != nil:
		return Credentials{}, false, fmt.Errorf("%w: %s get: %v", ErrHelper, prog, ctx.Err())
	case errors.Is(err, exec.ErrNotFound):
		return Credentials{}, false, fmt.Errorf("%w: %s is not installed (not on PATH)", ErrHelper, prog)
	case err != nil && strings.Contains(strings.ToLower(out.String()), "credentials not found"):
		return Credentials{}, false, nil
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Credentials{}, false, fmt.Errorf("%w: %s get: %s", ErrHelper, prog, ee.ProcessState)
		}
		return Credentials{}, false, fmt.Errorf("%w: %s get: %v", ErrHelper, prog, err)
	case out.over:
		return Credentials{}, false, fmt.Errorf("%w: %s get: answer over %d bytes", ErrHelper, prog, maxAnswer)
	}
	if strings.TrimSpace(out.String()) == notFound {
		return Credentials{}, false, nil
	}
	var a helperAnswer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		return Credentials{}, false, fmt.Errorf("%w: %s get: the answer is not the helper protocol's JSON", ErrHelper, prog)
	}
	if a.Username == "" && a.Secret == "" {
		return Credentials{}, false, nil
	}
	c := Credentials{ServerAddress: server}
	// The CLI stores an identity token under this user name.
	if a.Username == "<token>" {
		c.IdentityToken = a.Secret
	} else {
		c.Username, c.Password = a.Username, a.Secret
	}
	return c, true, nil
}

// capped is a buffer that keeps at most max bytes and notes the rest.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
