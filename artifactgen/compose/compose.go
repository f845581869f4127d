// Package compose compiles a Compose project into the update module's own
// service graph: the project is loaded with compose-go on the workstation
// (interpolation from .env and the environment, extends, include,
// profiles, override files, YAML anchors), every image is pinned by digest
// (or fetched for embedding), and each service becomes a spec.ServiceDoc
// (docker run arguments, command, entrypoint, health check, networks,
// dependencies, files) next to the app's networks, named volumes and a
// payload tar of the files that configs, secrets and bind mounts of
// project files need. The device never sees the compose file. A key the
// device cannot honour is an error naming the service and the key.
package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/consts"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module/spec"
)

// FilesArchive is the payload file holding the files services mount.
const FilesArchive = "files.tar"

// UpdateExtension is the service key that picks the update strategy:
// recreate (the default) or hand-over.
const UpdateExtension = "x-mender-update"

// Options of one compile.
type Options struct {
	// App names the app (and the Compose project).
	App string
	// Files are the compose files, relative to the project directory;
	// empty: those of COMPOSE_FILE, else compose.yaml (or
	// docker-compose.yml…) and its override file, as docker compose finds
	// them.
	Files []string
	// Profiles to enable; empty: COMPOSE_PROFILES, else none.
	Profiles []string
	// Params are the device parameters: ${NAME} of these stays a
	// placeholder, filled in on each device.
	Params map[string]string
	// Embed fetches the images for embedding instead of only pinning them.
	Embed bool
	// TmpDir is where the files archive is written.
	TmpDir string
	// Warn, when set, hears what is ignored that the user may have meant
	// (swarm's deploy keys), one line each.
	Warn func(string)
}

// App is a compiled project.
type App struct {
	Services []spec.ServiceDoc
	Networks map[string]spec.NetworkDoc
	Volumes  map[string]spec.VolumeDoc
	// Files and Payload: the files archive, when a service mounts files.
	Files   *spec.FilesDoc
	Payload []artifact.PayloadFile
	// Attributes are the artifact's layer of attributes (attributes.yml),
	// SecretAttributes the paths of x-mender-secret-attributes.
	Attributes       map[string]any
	SecretAttributes []string
	// Fetched are the images to embed (with Embed), one per reference.
	Fetched []*image.EmbeddedImage
}

// Compile loads the project in dir and compiles it. Errors name the
// service and key, not dir: the caller names where the project came from.
func Compile(ctx context.Context, r *image.Resolver, dir string, o Options) (*App, error) {
	app, err := compile(ctx, r, dir, o)
	if err != nil {
		return nil, shownError{err}
	}
	return app, nil
}

// shownError says the parameters in err as the user wrote them.
type shownError struct{ err error }

func (e shownError) Error() string { return shown(e.err.Error()) }
func (e shownError) Unwrap() error { return e.err }

func compile(ctx context.Context, r *image.Resolver, dir string, o Options) (*App, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p, err := load(ctx, abs, o)
	if err != nil {
		return nil, err
	}
	out := &App{}
	if out.Attributes, out.SecretAttributes, err = attributes(abs, p); err != nil {
		return nil, err
	}
	tmpl, err := templateList(abs, p)
	if err != nil {
		return nil, err
	}
	c := &compiler{dir: abs, project: p, params: o.Params, files: newPayload(abs), templates: tmpl, onWarn: o.Warn}
	if out.Networks, err = c.networks(); err != nil {
		return nil, err
	}
	if out.Volumes, err = c.volumes(); err != nil {
		return nil, err
	}
	for _, name := range p.ServiceNames() {
		doc, err := c.service(p.Services[name])
		if err != nil {
			return nil, err
		}
		out.Services = append(out.Services, doc)
	}
	if err := c.unusedTemplates(); err != nil {
		return nil, err
	}
	if err := links(p, out.Services); err != nil {
		return nil, err
	}
	// Compose adds "default" before profiles drop the services using it.
	if _, ok := out.Networks["default"]; ok && !slices.ContainsFunc(out.Services, func(s spec.ServiceDoc) bool { return s.Networks["default"] != nil }) {
		delete(out.Networks, "default")
	}
	if len(out.Services) == 0 {
		return nil, fmt.Errorf("no services (with the profiles enabled)")
	}
	if err := pin(ctx, r, out, o.Embed); err != nil {
		return nil, err
	}
	if !c.files.empty() {
		pf, digest, err := c.files.write(filepath.Join(o.TmpDir, FilesArchive))
		if err != nil {
			return nil, err
		}
		out.Files = &spec.FilesDoc{Archive: FilesArchive, Digest: digest}
		out.Payload = []artifact.PayloadFile{pf}
	}
	// What the device would refuse fails here, placeholders included.
	doc := spec.Document{App: o.App, Services: out.Services, Networks: out.Networks, Volumes: out.Volumes, Files: out.Files, Params: o.Params,
		Attributes: out.Attributes, SecretAttributes: out.SecretAttributes}
	if err := doc.CheckDeclared(); err != nil {
		return nil, err
	}
	// A parameter that nothing turned into ${NAME}: a key this compiler
	// passes on without refusing parameters in it.
	js, err := doc.JSON()
	if err != nil {
		return nil, err
	}
	if i := strings.Index(string(js), paramOpen); i >= 0 {
		return nil, fmt.Errorf("meta-data: a device parameter where the device substitutes none, at %s", shown(string(js[max(0, i-60):min(len(js), i+40)])))
	}
	return out, nil
}

// load reads the project as docker compose would on this machine, except
// that ${NAME} of a device parameter is kept as it is.
func load(ctx context.Context, dir string, o Options) (*types.Project, error) {
	files := slices.Clone(o.Files)
	for i, f := range files {
		if !filepath.IsAbs(f) {
			files[i] = filepath.Join(dir, f)
		}
	}
	keep := func(lookup template.Mapping) template.Mapping {
		return func(name string) (string, bool) {
			if _, ok := o.Params[name]; ok {
				return marker(name), true
			}
			return lookup(name)
		}
	}
	po, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		cli.WithOsEnv,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		composeFileEnv(dir),
		cli.WithDefaultConfigPath,
		cli.WithDefaultProfiles(o.Profiles...),
		// Paths stay as written, so that a relative one leaving the
		// project can be told from an absolute host path.
		cli.WithResolvedPaths(false),
		// env_file and label_file are read once they are known to be
		// inside the project.
		cli.WithoutEnvironmentResolution,
		cli.WithoutLabelsResolution,
		cli.WithLoadOptions(func(lo *loader.Options) {
			lo.SetProjectName(loader.NormalizeProjectName(o.App), true)
			// Substitute, unlike the lookup, is kept by include.
			if lo.Interpolate == nil || lo.Interpolate.Substitute == nil {
				return
			}
			sub := lo.Interpolate.Substitute
			lo.Interpolate.Substitute = func(s string, m template.Mapping) (string, error) {
				return sub(s, keep(m))
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	p, err := po.LoadProject(ctx)
	if err != nil && strings.Contains(err.Error(), "invalid hostPort: "+paramOpen) {
		return nil, fmt.Errorf("ports: %w; in the short syntax a device parameter cannot be parsed: use the long syntax (published: \"${NAME}\")", err)
	}
	if m := castRE.FindStringSubmatch(fmt.Sprint(err)); m != nil {
		return nil, paramError("service "+m[1], m[2], shown(m[3]))
	}
	if err != nil {
		return nil, friendly(po.ConfigPaths, err)
	}
	if len(p.Jobs) > 0 {
		return nil, fmt.Errorf("jobs: %w (run a service that depends_on: condition: service_completed_successfully instead)", ErrUnsupported)
	}
	if len(p.Models) > 0 {
		return nil, fmt.Errorf("models: %w (the device runs no model runner: serve the model from a service with an image)", ErrUnsupported)
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for i, f := range s.EnvFiles {
			path, err := inside(dir, f.Path)
			if err != nil {
				return nil, fmt.Errorf("service %s: env_file: %s: %w", name, f.Path, err)
			}
			s.EnvFiles[i].Path = path
		}
		for i, f := range s.LabelFiles {
			path, err := inside(dir, f)
			if err != nil {
				return nil, fmt.Errorf("service %s: label_file: %s: %w", name, f, err)
			}
			s.LabelFiles[i] = path
		}
		p.Services[name] = s
	}
	if p, err = p.WithServicesEnvironmentResolved(true); err != nil {
		return nil, err
	}
	if p, err = p.WithServicesLabelsResolved(true); err != nil {
		return nil, err
	}
	return p, nil
}

// composeFileEnv takes the files from COMPOSE_FILE (the environment, then
// .env) when none were given, as docker compose does, but relative to dir
// rather than to the working directory: the generator reads the project as
// docker compose run in dir would. Without it either, the default file must
// be in dir itself (docker compose would look in the parent directories).
func composeFileEnv(dir string) cli.ProjectOptionsFn {
	return func(po *cli.ProjectOptions) error {
		if len(po.ConfigPaths) > 0 {
			return nil
		}
		list, ok := po.Environment[consts.ComposeFilePath]
		if !ok {
			for _, n := range cli.DefaultFileNames {
				if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
					return nil
				}
			}
			return fmt.Errorf("no %s", strings.Join(cli.DefaultFileNames, ", "))
		}
		sep := po.Environment[consts.ComposePathSeparator]
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		for _, f := range strings.Split(list, sep) {
			if f == "" {
				return fmt.Errorf("%s %q: an empty file name", consts.ComposeFilePath, list)
			}
			path := f
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("%s %q: %s is not a file in %s", consts.ComposeFilePath, list, f, dir)
			}
			po.ConfigPaths = append(po.ConfigPaths, path)
		}
		return nil
	}
}

// castRE matches compose-go's error for a placeholder where a number or
// true/false is wanted.
var castRE = regexp.MustCompile(`interpolating services\.([^.]+)\.(\S+): failed to cast to expected type: .*?(` + paramOpen + `[A-Za-z_][A-Za-z0-9_]*` + paramClose + `)`)

// friendly says a load error with the first compose file's line.
func friendly(paths []string, err error) error {
	if len(paths) == 0 {
		return err
	}
	content, rerr := os.ReadFile(paths[0])
	if rerr != nil {
		return err
	}
	return errors.New(composeError(filepath.Base(paths[0]), content, err))
}

// inside makes path (relative to dir, or absolute) absolute and refuses it
// outside dir.
func inside(dir, path string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	path = filepath.Clean(path)
	if !within(dir, path) {
		return "", ErrOutsideProject
	}
	return path, nil
}

func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// pin pins every service's image by digest, or fetches it with embed.
func pin(ctx context.Context, r *image.Resolver, app *App, embed bool) error {
	pinned := map[string]string{}
	for i := range app.Services {
		s := &app.Services[i]
		if ref, ok := pinned[s.Image]; ok {
			s.Image = ref
			continue
		}
		var ref string
		if embed {
			ei, err := r.Fetch(ctx, s.Image)
			if err != nil {
				return fmt.Errorf("service %s: %w", s.Name, err)
			}
			ref = ei.Ref
			if !slices.ContainsFunc(app.Fetched, func(e *image.EmbeddedImage) bool { return e.Ref == ref }) {
				app.Fetched = append(app.Fetched, ei)
			}
		} else {
			var err error
			if ref, err = r.Resolve(ctx, s.Image); err != nil {
				return fmt.Errorf("service %s: %w", s.Name, err)
			}
		}
		pinned[s.Image] = ref
		s.Image = ref
	}
	return nil
}
