package artifactgen_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const img = "127.0.0.1:5000/acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func baseOptions() artifactgen.Options {
	return artifactgen.Options{ArtifactName: "web-1.0", DeviceTypes: []string{"rpi4", "rpi3"}, Images: []string{img}, RunArgs: "-p 8080:80 --restart always"}
}

func write(t *testing.T, o artifactgen.Options, w artifact.WriteOptions) []byte {
	a, err := o.Artifact()
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, artifact.Write(context.Background(), &buf, a, w))
	return buf.Bytes()
}

// Golden files: see testdata/README.md for how each was made.
func TestGolden(t *testing.T) {
	services := baseOptions()
	services.Images, services.RunArgs = nil, ""
	services.App = "shop"
	services.Health = spec.Health{Window: 5 * time.Second}
	services.Services = []artifactgen.Service{{Name: "web", Image: img, RunArgs: "--network host"}, {Name: "worker", Image: img}}
	services.Provides = map[string]string{"shop.schema": "7"}
	services.ClearsProvides = []string{"shop.*"}
	for file, o := range map[string]artifactgen.Options{"shell-format.mender": baseOptions(), "services.mender": services} {
		t.Run(file, func(t *testing.T) {
			got := write(t, o, artifact.WriteOptions{Compression: artifact.None, ModTime: time.Unix(1700000000, 0)})
			path := filepath.Join("testdata", file)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "output differs from %s (go test -update rewrites it)", path)
			if _, err := exec.LookPath("mender-artifact"); err == nil || fixture.InCI() {
				out, err := menderArtifact(t, "read", path)
				require.NoError(t, err, out)
				assert.NotContains(t, out, "Invalid metadata", "meta-data within Mender's rules (no objects in lists)")
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, c := range []artifact.Compression{artifact.Gzip, artifact.None, artifact.Zstd} {
		a := write(t, baseOptions(), artifact.WriteOptions{Compression: c})
		b := write(t, baseOptions(), artifact.WriteOptions{Compression: c})
		assert.Equal(t, a, b, string(c))
		info, err := artifact.Read(bytes.NewReader(a), nil)
		require.NoError(t, err, string(c))
		assert.Equal(t, c, info.Compression)
		assert.JSONEq(t, `{"containers":["`+img+`"],"run_args":"-p 8080:80 --restart always"}`, string(info.MetaData))
	}
}

func needMenderArtifact(t *testing.T) {
	_, err := exec.LookPath("mender-artifact")
	fixture.Need(t, err == nil, "mender-artifact")
}

func menderArtifact(t *testing.T, args ...string) (string, error) {
	out, err := exec.Command("mender-artifact", args...).CombinedOutput()
	return string(out), err
}

// keys writes a private key in the given encoding and its public key.
func keys(t *testing.T, kind string) (priv, pub string) {
	dir := t.TempDir()
	var der []byte
	var typ string
	var pubKey any
	switch kind {
	case "rsa-pkcs1", "rsa-pkcs8":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		pubKey = &k.PublicKey
		typ, der = "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)
		if kind == "rsa-pkcs8" {
			der, _ = x509.MarshalPKCS8PrivateKey(k)
			typ = "PRIVATE KEY"
		}
	case "ecdsa-sec1", "ecdsa-pkcs8":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		pubKey = &k.PublicKey
		typ = "EC PRIVATE KEY"
		der, _ = x509.MarshalECPrivateKey(k)
		if kind == "ecdsa-pkcs8" {
			der, _ = x509.MarshalPKCS8PrivateKey(k)
			typ = "PRIVATE KEY"
		}
	}
	priv, pub = filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.pub")
	require.NoError(t, os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	pubDER, err := x509.MarshalPKIXPublicKey(pubKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644))
	return priv, pub
}

// mender-artifact 3.9 reads every artifact we write, and validates our
// signatures; a one-byte change is refused by it and by Read.
func TestMenderArtifactAcceptsOurs(t *testing.T) {
	needMenderArtifact(t)
	dir := t.TempDir()
	for _, c := range []artifact.Compression{artifact.Gzip, artifact.None} {
		path := filepath.Join(dir, "plain-"+string(c)+".mender")
		require.NoError(t, os.WriteFile(path, write(t, baseOptions(), artifact.WriteOptions{Compression: c}), 0o644))
		out, err := menderArtifact(t, "read", path)
		require.NoError(t, err, out)
		assert.Contains(t, out, "Name: web-1.0")
		assert.Contains(t, out, "rootfs-image.docker.version: web-1.0")
		out, err = menderArtifact(t, "validate", path)
		require.NoError(t, err, out)
	}
	for _, kind := range []string{"rsa-pkcs1", "rsa-pkcs8", "ecdsa-sec1", "ecdsa-pkcs8"} {
		t.Run(kind, func(t *testing.T) {
			privPath, pubPath := keys(t, kind)
			pemData, _ := os.ReadFile(privPath)
			key, err := artifact.ParsePrivateKey(pemData)
			require.NoError(t, err)
			data := write(t, baseOptions(), artifact.WriteOptions{Key: key})
			path := filepath.Join(dir, kind+".mender")
			require.NoError(t, os.WriteFile(path, data, 0o644))
			out, err := menderArtifact(t, "validate", path, "-k", pubPath)
			require.NoError(t, err, out)
			out, err = menderArtifact(t, "read", path, "-k", pubPath)
			require.NoError(t, err, out)
			assert.Contains(t, out, "signed and verified correctly")
			pubData, _ := os.ReadFile(pubPath)
			pub, err := artifact.ParsePublicKey(pubData)
			require.NoError(t, err)
			info, err := artifact.Read(bytes.NewReader(data), pub)
			require.NoError(t, err)
			assert.True(t, info.Verified)

			// One byte changed inside the compressed header.
			i := bytes.Index(data, []byte("header.tar.gz")) + 512 + 40
			bad := bytes.Clone(data)
			bad[i] ^= 0x01
			badPath := filepath.Join(dir, kind+"-bad.mender")
			require.NoError(t, os.WriteFile(badPath, bad, 0o644))
			out, err = menderArtifact(t, "validate", badPath, "-k", pubPath)
			assert.Error(t, err, "mender-artifact accepted a changed artifact: %s", out)
			_, err = artifact.Read(bytes.NewReader(bad), pub)
			assert.ErrorIs(t, err, artifact.ErrBadArtifact)

			// A changed signature.
			j := bytes.Index(data, []byte("manifest.sig")) + 512 + 10
			bad = bytes.Clone(data)
			bad[j] ^= 0x01
			_, err = artifact.Read(bytes.NewReader(bad), pub)
			assert.ErrorIs(t, err, artifact.ErrSignature)
			require.NoError(t, os.WriteFile(badPath, bad, 0o644))
			out, err = menderArtifact(t, "validate", badPath, "-k", pubPath)
			assert.Error(t, err, "mender-artifact accepted a changed signature: %s", out)
		})
	}
}

// Our header, field by field, against the one mender-artifact writes for
// the same inputs.
func TestHeaderMatchesMenderArtifact(t *testing.T) {
	needMenderArtifact(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		flags []string
		opts  func(*artifactgen.Options)
	}{
		{"defaults", nil, func(*artifactgen.Options) {}},
		{"software name and version", []string{"--software-name", "web", "--software-version", "1.2.3"}, func(o *artifactgen.Options) {
			o.SoftwareName, o.SoftwareVersion = "web", "1.2.3"
		}},
		{"software filesystem", []string{"--software-filesystem", "apps", "--software-name", "web"}, func(o *artifactgen.Options) {
			o.SoftwareFilesystem, o.SoftwareName = "apps", "web"
		}},
		{"provides depends clears groups", []string{"--provides", "a.b:1", "--depends", "c.d:2", "--clears-provides", "x.*", "--provides-group", "g1", "--depends-groups", "g0"}, func(o *artifactgen.Options) {
			o.Provides, o.Depends, o.ClearsProvides = map[string]string{"a.b": "1"}, map[string]string{"c.d": "2"}, []string{"x.*"}
			o.ProvidesGroup, o.DependsGroups = "g1", []string{"g0"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions()
			tc.opts(&o)
			meta, err := o.MetaData()
			require.NoError(t, err)
			metaPath := filepath.Join(dir, "meta.json")
			require.NoError(t, os.WriteFile(metaPath, meta, 0o644))
			theirsPath := filepath.Join(dir, "theirs.mender")
			args := []string{"write", "module-image", "-T", "docker", "-n", o.ArtifactName, "-t", "rpi4", "-t", "rpi3", "-m", metaPath, "-o", theirsPath}
			out, err := menderArtifact(t, append(args, tc.flags...)...)
			require.NoError(t, err, out)
			f, err := os.Open(theirsPath)
			require.NoError(t, err)
			defer f.Close()
			theirs, err := artifact.Read(f, nil)
			require.NoError(t, err)
			ours, err := artifact.Read(bytes.NewReader(write(t, o, artifact.WriteOptions{})), nil)
			require.NoError(t, err)

			assert.Equal(t, theirs.Header, ours.Header, "header-info")
			assert.Equal(t, theirs.TypeInfo, ours.TypeInfo, "type-info")
			assert.JSONEq(t, string(theirs.MetaData), string(ours.MetaData), "meta-data")
			// And byte for byte where the JSON is the same.
			h1, _ := json.Marshal(theirs.Header)
			h2, _ := json.Marshal(ours.Header)
			assert.Equal(t, string(h1), string(h2))
		})
	}
}

func TestParsePrivateKeyRefusals(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	for name, tc := range map[string]struct {
		pem, want string
	}{
		"not PEM":   {"hello", "no PEM block"},
		"public":    {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})), "not a private key"},
		"small RSA": {string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})), "1024 bits"},
		"P-384":     {string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER})), "P-384"},
		"garbage":   {string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("xx")})), "unusable key"},
	} {
		_, err := artifact.ParsePrivateKey([]byte(tc.pem))
		assert.ErrorIs(t, err, artifact.ErrKey, name)
		assert.ErrorContains(t, err, tc.want, name)
	}
}

func TestWriteRefusesIncompleteHeaders(t *testing.T) {
	o := baseOptions()
	o.DeviceTypes = nil
	_, err := o.Artifact()
	assert.ErrorContains(t, err, "DeviceTypes")
	o = baseOptions()
	o.Images = []string{"127.0.0.1:5000/acme/web:latest"}
	_, err = o.Artifact()
	assert.ErrorIs(t, err, spec.ErrInvalid)
	o = baseOptions()
	o.RunArgs = "--rm"
	_, err = o.Artifact()
	assert.ErrorContains(t, err, "--rm: not supported")
}
