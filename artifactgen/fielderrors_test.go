package artifactgen_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
)

// A library user sets fields, not flags: every refusal of the options
// names the Go field and no command-line flag (the command says its flags,
// artifactgen/cli TestArgv).
func TestErrorsNameFieldsNotFlags(t *testing.T) {
	const web = "127.0.0.1:5000/acme/web@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	base := artifactgen.Options{ArtifactName: "a", DeviceTypes: []string{"rpi4"}}
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "compose.yaml"), []byte("services: {}\n"), 0o644))
	for _, tc := range []struct {
		name string
		run  func() error
		is   error
		want string // in the message
	}{
		{"service syntax", func() error { _, err := artifactgen.ParseService("web"); return err }, artifactgen.ErrServiceSyntax, `Services "web": want NAME=IMAGE`},
		{"service twice", func() error {
			o := base
			o.Services = []artifactgen.Service{{Name: "a", Image: web}, {Name: "a", Image: web}}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrServiceTwice, "Services a: the name is used twice"},
		{"remove app with images", func() error {
			o := base
			o.App, o.RemoveApp, o.Images = "shop", true, []string{web}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrRemoveAppAlone, "RemoveApp: give App"},
		{"remove volumes alone", func() error {
			o := base
			o.RemoveVolumes, o.Images = true, []string{web}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrNeedsRemoveApp, "RemoveVolumes goes with RemoveApp"},
		{"images and services", func() error {
			o := base
			o.Images, o.Services = []string{web}, []artifactgen.Service{{Name: "a", Image: web}}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrImagesAndServices, "Images and Services"},
		{"run args with services", func() error {
			o := base
			o.RunArgs, o.Services = "--init", []artifactgen.Service{{Name: "a", Image: web}}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrRunArgsWithServices, "RunArgs: with Services"},
		{"no artifact name", func() error {
			o := base
			o.ArtifactName, o.Images = "", []string{web}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrMissing, "ArtifactName: must be given"},
		{"no device type", func() error {
			o := base
			o.DeviceTypes, o.Images = nil, []string{web}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrNoDeviceType, "DeviceTypes: at least one"},
		{"reserved provide", func() error {
			o := base
			o.Images, o.Provides = []string{web}, map[string]string{"artifact_name": "x"}
			_, err := o.Artifact()
			return err
		}, artifactgen.ErrReservedProvide, "Provides artifact_name: set it with ArtifactName or ProvidesGroup"},
		{"file source without embed", func() error {
			_, err := artifactgen.Generate(context.Background(), artifactgen.Request{Options: artifactgen.Options{ArtifactName: "a", DeviceTypes: []string{"rpi4"}, Images: []string{"docker-archive:web.tar"}}, Output: filepath.Join(t.TempDir(), "a.mender")})
			return err
		}, artifactgen.ErrNeedsEmbed, "Images docker-archive:web.tar: a file source goes with Embed"},
		{"delta without embed", func() error {
			_, err := artifactgen.Generate(context.Background(), artifactgen.Request{Options: artifactgen.Options{ArtifactName: "a", DeviceTypes: []string{"rpi4"}, Images: []string{web}}, DeltaFrom: []string{"old.mender"}, Output: filepath.Join(t.TempDir(), "a.mender")})
			return err
		}, artifactgen.ErrNeedsEmbed, "DeltaFrom: goes with Embed"},
		{"compose with images", func() error {
			_, err := artifactgen.Generate(context.Background(), artifactgen.Request{Options: artifactgen.Options{ArtifactName: "a", DeviceTypes: []string{"rpi4"}, Images: []string{web}}, ComposeDir: project, Output: filepath.Join(t.TempDir(), "a.mender")})
			return err
		}, artifactgen.ErrComposeWithImages, "ComposeDir: give no Images or Services"},
		{"compose project refused", func() error {
			_, err := artifactgen.Generate(context.Background(), artifactgen.Request{Options: artifactgen.Options{ArtifactName: "a", DeviceTypes: []string{"rpi4"}}, ComposeDir: project, Output: filepath.Join(t.TempDir(), "a.mender")})
			return err
		}, nil, "ComposeDir " + project + ": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			require.Error(t, err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "--", "a library error names no flag")
		})
	}
}
