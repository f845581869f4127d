package artifactgen

import (
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/artifactgen/image"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Request is one run of the generator: the artifact as Options (with
// Images and the services' images as given, tags or file sources), where
// the images come from, and where to write.
type Request struct {
	Options
	// ComposeDir, when set, makes an app of the Compose project there,
	// compiled into services; ComposeFiles (relative to it) and
	// ComposeProfiles choose as docker compose's -f and --profile do.
	ComposeDir      string
	ComposeFiles    []string
	ComposeProfiles []string
	// Templates are rendered on the device and mounted in Services'
	// containers (not with a Compose project, which has its own).
	Templates []Template
	// Embed ships the images inside the artifact; DeltaFrom then leaves
	// out the layers these earlier artifacts (FILE.mender) or images have.
	Embed     bool
	DeltaFrom []string
	// Resolver pins and fetches images.
	Resolver *image.Resolver
	// Write says how to write the artifact; Output is its path, or "-"
	// for Stdout.
	Write  artifact.WriteOptions
	Output string
	Stdout io.Writer
	// Progress hears about embedded images as they are written.
	Progress image.Progress
	// Warn, when set, hears what a Compose project asks for that is
	// ignored (swarm's deploy keys), one line each.
	Warn func(string)
}

// Result is what Generate pinned and wrote.
type Result struct {
	Output   string
	Images   []string  // pinned, in the order given
	Services []Service // with their images pinned
	Files    int       // payload files
}

// FieldError is an error about one field of a Request (or its Options),
// named as the Go field, so that a command can name the flag it came from.
type FieldError struct {
	Field string // the Request field, e.g. "DeltaFrom"
	Value string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return e.Field + " " + e.Value + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Generate pins (and with Embed fetches) every image, builds the meta-data
// and headers, and writes the artifact to req.Output atomically. Its
// temporary files are gone when it returns, also when ctx ends first; the
// output path is then left as it was.
func Generate(ctx context.Context, req Request) (*Result, error) {
	if err := req.checkOutput(); err != nil {
		return nil, err
	}
	opts, cleanup, err := req.prepare(ctx, false)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	a, err := opts.Artifact()
	if err != nil {
		return nil, err
	}
	if req.Output == "-" {
		if err := artifact.Write(ctx, req.Stdout, a, req.Write); err != nil {
			return nil, fmt.Errorf("writing the artifact to stdout: %w", err)
		}
	} else if err := artifact.WriteFile(ctx, req.Output, a, req.Write); err != nil {
		return nil, fmt.Errorf("writing %s: %w", req.Output, err)
	}
	return &Result{Output: req.Output, Images: opts.Images, Services: opts.Services, Files: len(opts.Files)}, nil
}

// checkOutput refuses, before any work, an output the artifact cannot be
// written to: a missing directory, a directory in its place, or a
// directory that takes no new file.
func (req Request) checkOutput() error {
	if req.Output == "-" {
		if req.Stdout == nil {
			return &FieldError{"Output", req.Output, ErrNoStdout}
		}
		return nil
	}
	dir := filepath.Dir(req.Output)
	if !isDir(dir) {
		return &FieldError{"Output", req.Output, fmt.Errorf("directory %s %w", dir, artifact.ErrNoOutputDir)}
	}
	if isDir(req.Output) {
		return &FieldError{"Output", req.Output, ErrOutputIsDir}
	}
	// The artifact is written beside its path, then renamed over it.
	probe, err := os.CreateTemp(dir, "."+filepath.Base(req.Output)+".tmp*")
	if err != nil {
		return &FieldError{"Output", req.Output, fmt.Errorf("cannot write in %s: %w", dir, errors.Unwrap(err))}
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// Preload writes what an OS image carries for the module to start at first
// boot: dir/header/meta-data, dir/header/artifact_name (req.ArtifactName)
// and the images as docker-archives (layers gzipped) in dir/files.
func Preload(ctx context.Context, req Request, dir string) (*Result, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, &FieldError{"Output", dir, ErrOutputNotDir}
	}
	req.Embed = true
	opts, cleanup, err := req.prepare(ctx, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	meta, err := opts.MetaData()
	if err != nil {
		return nil, err
	}
	if err := writePreload(dir, req.ArtifactName, meta, opts.Files, req.Write.Progress); err != nil {
		return nil, fmt.Errorf("writing %s: %w", dir, err)
	}
	return &Result{Output: dir, Images: opts.Images, Services: opts.Services, Files: len(opts.Files)}, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// prepare pins or fetches every image and fills in the options; cleanup
// removes the temporary files.
func (req Request) prepare(ctx context.Context, preload bool) (Options, func(), error) {
	opts := req.Options
	r := req.Resolver
	if r == nil {
		r = &image.Resolver{}
	}
	nothing := func() {}
	if len(opts.Images) == 0 && len(opts.Services) == 0 && !opts.RemoveApp && req.ComposeDir == "" {
		return opts, nothing, ErrNoImage
	}
	if err := opts.check(); err != nil {
		return opts, nothing, err
	}
	if len(req.DeltaFrom) > 0 && !req.Embed {
		return opts, nothing, &FieldError{"DeltaFrom", "", ErrNeedsEmbed}
	}
	if req.ComposeDir != "" && len(req.Templates) > 0 {
		return opts, nothing, &FieldError{"Templates", "", ErrTemplatesWithCompose}
	}
	if req.ComposeDir != "" && (len(opts.Images) > 0 || len(opts.Services) > 0) {
		return opts, nothing, &FieldError{"ComposeDir", "", ErrComposeWithImages}
	}
	sources := append([]string(nil), opts.Images...)
	for _, s := range opts.Services {
		sources = append(sources, s.Image)
	}
	if !req.Embed {
		for _, s := range sources {
			if strings.HasPrefix(s, image.DockerArchivePrefix) || strings.HasPrefix(s, image.OCILayoutPrefix) {
				return opts, nothing, &FieldError{"Images", s, fmt.Errorf("a file source %w", ErrNeedsEmbed)}
			}
		}
	}
	var tmp string
	cleanup := func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}
	err := func() error {
		if req.ComposeDir != "" || req.Embed || len(req.Templates) > 0 {
			var err error
			if tmp, err = os.MkdirTemp("", "docker-artifact-gen"); err != nil {
				return err
			}
		}
		if req.ComposeDir != "" {
			app := opts.App
			if app == "" {
				app = spec.DefaultApp
			}
			c, err := compose.Compile(ctx, r, req.ComposeDir, compose.Options{
				App: app, Files: req.ComposeFiles, Profiles: req.ComposeProfiles,
				Params: opts.Params, Embed: req.Embed, TmpDir: tmp, Warn: req.Warn,
			})
			if err != nil {
				return &FieldError{"ComposeDir", req.ComposeDir, err}
			}
			opts.Services, opts.Networks, opts.Volumes = c.Services, c.Networks, c.Volumes
			opts.FilesArchive, opts.Files = c.Files, c.Payload
			if c.Attributes != nil && opts.Attributes != nil {
				return &FieldError{"Attributes", "", ErrAttributesTwice}
			}
			if c.Attributes != nil {
				opts.Attributes = c.Attributes
			}
			opts.SecretAttributes = append(opts.SecretAttributes, c.SecretAttributes...)
			if req.Embed {
				bases, err := deltaBases(ctx, r, req.DeltaFrom)
				if err != nil {
					return err
				}
				entries, files, err := image.Embed(ctx, c.Fetched, bases, tmp, preload, req.Progress)
				if err != nil {
					return err
				}
				opts.Embedded, opts.Files = entries, append(opts.Files, files...)
			}
			return nil
		}
		var pinned []string
		if req.Embed {
			bases, err := deltaBases(ctx, r, req.DeltaFrom)
			if err != nil {
				return err
			}
			var images []*image.EmbeddedImage
			for _, s := range sources {
				ei, err := r.Fetch(ctx, s)
				if err != nil {
					return err
				}
				images = append(images, ei)
				pinned = append(pinned, ei.Ref)
			}
			if opts.Embedded, opts.Files, err = image.Embed(ctx, images, bases, tmp, preload, req.Progress); err != nil {
				return err
			}
		} else {
			var err error
			if pinned, err = r.ResolveAll(ctx, sources); err != nil {
				return err
			}
		}
		if len(opts.Services) > 0 {
			opts.Services = append([]Service(nil), opts.Services...)
			for i := range opts.Services {
				opts.Services[i].Image = pinned[i]
			}
		} else {
			opts.Images = pinned
		}
		if len(req.Templates) > 0 {
			return addTemplates(&opts, req.Templates, tmp)
		}
		return nil
	}()
	if err != nil {
		cleanup()
		if ctx.Err() != nil {
			return opts, nothing, fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		return opts, nothing, err
	}
	return opts, cleanup, nil
}

// deltaBases reads what DeltaFrom names: earlier artifacts (FILE.mender)
// or images.
func deltaBases(ctx context.Context, r *image.Resolver, deltaFrom []string) ([]image.Base, error) {
	var bases []image.Base
	for _, d := range deltaFrom {
		if strings.HasSuffix(d, ".mender") {
			b, err := image.BasesFromArtifact(d)
			if err != nil {
				return nil, &FieldError{"DeltaFrom", d, err}
			}
			bases = append(bases, b...)
			continue
		}
		ei, err := r.Fetch(ctx, d)
		if err != nil {
			return nil, &FieldError{"DeltaFrom", "", err}
		}
		b, err := image.BaseOf(ei.Image)
		if err != nil {
			return nil, &FieldError{"DeltaFrom", d, err}
		}
		bases = append(bases, b)
	}
	return bases, nil
}

// writePreload writes the preload directory; progress, if set, hears the
// images' bytes copied (as the Writing step of an artifact).
func writePreload(dir, name string, meta []byte, files []artifact.PayloadFile, progress func(artifact.Step, int64, int64)) error {
	for _, d := range []string{"header", "files"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "header", "meta-data"), meta, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "header", "artifact_name"), []byte(name+"\n"), 0o644); err != nil {
		return err
	}
	report := func(int64) {}
	if progress != nil && len(files) > 0 {
		var total, copied int64
		for _, f := range files {
			total += f.Size
		}
		report = func(n int64) { copied += n; progress(artifact.Writing, copied, total) }
		report(0)
	}
	for _, f := range files {
		if err := copyFile(f.Path, filepath.Join(dir, "files", f.Name), report); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies from to to, telling report each chunk's size.
func copyFile(from, to string, report func(n int64)) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, &reportingReader{in, report}); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type reportingReader struct {
	r      io.Reader
	report func(n int64)
}

func (r *reportingReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.report(int64(n))
	return n, err
}
