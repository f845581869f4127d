package module_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// stubComposer records calls; the real Compose is tested against the real
// engine in test/integration.
type stubComposer struct{ ups, downs []string }

func (s *stubComposer) Up(ctx context.Context, project, dir, file string, env []string) error {
	s.ups = append(s.ups, dir)
	return nil
}

func (s *stubComposer) Down(ctx context.Context, project, dir, file string, env []string) error {
	s.downs = append(s.downs, dir)
	return nil
}

func TestComposePolicy(t *testing.T) {
	for name, tc := range map[string]struct{ compose, want string }{
		"privileged":    {"services:\n  web:\n    image: x\n    privileged: true\n", "--privileged is refused"},
		"host network":  {"services:\n  web:\n    image: x\n    network_mode: host\n", "--network host is refused"},
		"bind outside":  {"services:\n  web:\n    image: x\n    volumes: [\"/etc:/host-etc\"]\n", "-v /etc:/host-etc is refused"},
		"climbs out":    {"services:\n  web:\n    image: x\n    volumes: [\"../../..:/x\"]\n", "is refused"},
		"project files": {"services:\n  web:\n    image: x\n    volumes: [\"./conf:/conf\", \"data:/data\"]\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDevice(t)
			d.u.Compose = &stubComposer{}
			d.u.Config.Policy.DenyPrivileged, d.u.Config.Policy.DenyHostNamespaces = true, true
			d.u.Config.Policy.BindMountPaths = []string{"/data"}
			img := d.image("web", "1", memengine.Behavior{})
			d.Artifact("c-1", `{"app":"shop","compose":{"project":"p.tar","images":["`+img+`"]}}`)
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "docker-compose.yml", Mode: 0o644, Size: int64(len(tc.compose)), Typeflag: tar.TypeReg})
			tw.Write([]byte(tc.compose))
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
			projects, _ := os.ReadDir(filepath.Join(d.u.Config.StateDir, "shop", "projects"))
			assert.Empty(t, projects, "the unpacked project is removed")
		})
	}
}
