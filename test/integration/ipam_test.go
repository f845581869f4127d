package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// ipamProject is a Compose project with an internal network of a fixed
// subnet (IPv4 and IPv6) and a service with static addresses (and its own
// MAC address) on it. %[1]s
// is the image, %[2]s the IPv4 subnet's first three octets, %[3]s the
// IPv6 subnet's prefix (fdXX:XXXX:XXXX), %[4]s the host part of the
// service's addresses and the last octet of its MAC.
const ipamProject = `
services:
  web:
    image: %[1]s
    restart: unless-stopped
    mac_address: "02:42:0a:00:00:%[4]s"
    networks:
      fixed:
        ipv4_address: %[2]s.%[4]s
        ipv6_address: "%[3]s::%[4]s"
networks:
  fixed:
    internal: true
    enable_ipv6: true
    ipam:
      config:
        - subnet: %[2]s.0/24
          gateway: %[2]s.1
        - subnet: "%[3]s::/64"
`

// A Compose project with a fixed subnet, static addresses and a MAC
// address, generated and installed on the real engine: the network has
// the subnets, the container the addresses and the MAC; an update to
// other ones, its rollback and the app's removal leave the addresses and
// the network as they should be. The subnets are random (10.x.y.0/24, a
// ULA /64), out of the engine's own default pools; should another run
// hold the same, the engine says "Pool overlaps" and the test takes
// another.
func TestIPAMOnEngine(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	e := w.d.Eng
	dir := t.TempDir()
	ref := w.version("v1")
	net := spec.ResourceName(w.app, "fixed")
	var v4, v6 string
	// artifactFor generates the project with the service at host address h.
	artifactFor := func(name, h string) string {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(fmt.Sprintf(ipamProject, ref, v4, v6, h)), 0o644))
		out := filepath.Join(t.TempDir(), name+".mender")
		_, err := artifactgen.Generate(ctx, artifactgen.Request{
			Options:    artifactgen.Options{ArtifactName: name, DeviceTypes: []string{"test-device"}, App: w.app},
			ComposeDir: dir,
			Resolver:   &image.Resolver{Keychain: authn.NewMultiKeychain()},
			Write:      artifact.WriteOptions{Compression: artifact.None},
			Output:     out,
		})
		require.NoError(t, err)
		return out
	}
	// install runs the client's sequence (as Device.Install does) on the
	// artifact file, whose payload stays in FILES_DIR.
	install := func(path string, commit bool) error {
		w.d.ArtifactFile(path)
		if err := w.d.Run("Download"); err != nil {
			w.d.Run("Cleanup")
			return err
		}
		if err := w.d.Run("ArtifactInstall"); err != nil {
			w.d.Run("ArtifactRollback")
			w.d.Run("ArtifactFailure")
			w.d.Run("Cleanup")
			return err
		}
		if !commit {
			return nil
		}
		if err := w.d.Run("ArtifactCommit"); err != nil {
			return err
		}
		return w.d.Run("Cleanup")
	}
	var err error
	for try := 0; try < 5; try++ {
		b := make([]byte, 6)
		rand.Read(b)
		v4 = fmt.Sprintf("10.%d.%d", 50+int(b[0])%50, b[1])
		v6 = fmt.Sprintf("fd%02x:%02x%02x:%02x%02x", b[1], b[2], b[3], b[4], b[5])
		if err = install(artifactFor("ipam-1", "10"), true); err == nil || !strings.Contains(err.Error(), "Pool overlaps") {
			break
		}
		t.Logf("subnet %s.0/24 or %s::/64 taken, another", v4, v6)
	}
	require.NoError(t, err, w.d.Log.String())

	n, err := e.InspectNetwork(ctx, net)
	require.NoError(t, err)
	assert.True(t, n.Internal)
	require.NotNil(t, n.IPAM)
	assert.Equal(t, []engine.IPAMPool{{Subnet: v4 + ".0/24", Gateway: v4 + ".1"}, {Subnet: v6 + "::/64"}}, n.IPAM.Config)
	assert.Equal(t, "true", inspectField(t, net, "{{.EnableIPv6}}"))
	addrs := func(when string, h string) {
		t.Helper()
		// The service's container (the previous one, kept stopped until
		// commit, holds no address).
		id := w.app + "-web"
		require.Equal(t, "true", inspectField(t, id, "{{.State.Running}}"), when)
		f := func(key string) string {
			return inspectField(t, id, `{{with index .NetworkSettings.Networks "`+net+`"}}`+key+`{{end}}`)
		}
		assert.Equal(t, v4+"."+h, f("{{.IPAddress}}"), when)
		assert.Equal(t, v6+"::"+h, f("{{.GlobalIPv6Address}}"), when)
		assert.Equal(t, v4+"."+h+" "+v6+"::"+h, f("{{.IPAMConfig.IPv4Address}} {{.IPAMConfig.IPv6Address}}"), when)
		assert.Equal(t, "02:42:0a:00:00:"+h, f("{{.MacAddress}}"), when)
	}
	addrs("installed", "10")
	net0 := n

	v2 := artifactFor("ipam-2", "20")
	require.NoError(t, install(v2, false), w.d.Log.String())
	addrs("updated", "20")
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	addrs("rolled back", "10")

	require.NoError(t, install(v2, true), w.d.Log.String())
	addrs("updated and committed", "20")
	n, err = e.InspectNetwork(ctx, net)
	require.NoError(t, err)
	assert.Equal(t, net0, n, "the network stays as created across updates")

	require.NoError(t, w.d.Install("ipam-removed", fmt.Sprintf(`{"app":%q,"remove":true}`, w.app), true), w.d.Log.String())
	assert.Empty(t, w.snapshot())
	_, err = e.InspectNetwork(ctx, net)
	assert.ErrorIs(t, err, engine.ErrNotFound, "removing the app removes its network")
	w.checkUnrelated()
}
