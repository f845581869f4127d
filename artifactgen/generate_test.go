package artifactgen_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Generate is the whole "request in, artifact out" flow, without a
// command line: errors about a field say which, for a command to name its
// flag.
func TestGenerate(t *testing.T) {
	reg := fixture.NewRegistry(t)
	pinned := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	out := filepath.Join(t.TempDir(), "a.mender")
	req := artifactgen.Request{
		Options:  artifactgen.Options{ArtifactName: "web-1", DeviceTypes: []string{"rpi4"}, Images: []string{reg.Addr + "/acme/web:1.0"}},
		Resolver: &image.Resolver{Keychain: authn.NewMultiKeychain()},
		Output:   out,
	}
	res, err := artifactgen.Generate(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, []string{pinned}, res.Images)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	info, err := artifact.Read(f, nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{"containers":["`+pinned+`"],"run_args":""}`, string(info.MetaData))

	for _, tc := range []struct {
		name  string
		edit  func(r *artifactgen.Request)
		field string
		is    error
	}{
		{"missing output directory", func(r *artifactgen.Request) { r.Output = filepath.Join(t.TempDir(), "no", "a.mender") }, "Output", artifact.ErrNoOutputDir},
		{"delta without embed", func(r *artifactgen.Request) { r.DeltaFrom = []string{"old.mender"} }, "DeltaFrom", artifactgen.ErrNeedsEmbed},
		{"nothing to ship", func(r *artifactgen.Request) { r.Images = nil }, "", artifactgen.ErrNoImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			r.Output = filepath.Join(t.TempDir(), "a.mender")
			tc.edit(&r)
			_, err := artifactgen.Generate(context.Background(), r)
			require.ErrorIs(t, err, tc.is)
			var fe *artifactgen.FieldError
			if tc.field != "" {
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := req
	r.Output = filepath.Join(t.TempDir(), "a.mender")
	_, err = artifactgen.Generate(ctx, r)
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(r.Output)
	assert.True(t, os.IsNotExist(err))
}
