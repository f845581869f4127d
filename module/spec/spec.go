// Package spec owns the update module's meta-data: the JSON that a
// `docker` artifact carries in header/meta-data. Document defines the
// format with its JSON tags; the generator fills one in and writes it with
// Document.JSON, and the module reads it with Decode and validates it into
// a Meta (Parse does both). It accepts the shell docker-artifact-gen's
// format ({"containers": [...], "run_args": "..."}) and the extensions in
// docs/design.md (app, services, health, …), and turns each service into an
// engine.ContainerConfig by parsing its run arguments with `docker run`
// meaning and no shell. The generator checks what it writes with the same
// code (Document.Check), so a bad artifact fails on the workstation rather
// than on the device.
package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Limits that keep a hostile or broken artifact from exhausting a small
// device.
const (
	MaxMetaDataBytes = 1 << 20
	MaxServices      = 100
	DefaultApp       = "default"
)

var (
	// repo[:tag]@sha256:<64 hex>, repo in the lowercase reference grammar,
	// optionally behind a registry host[:port].
	imageRE         = regexp.MustCompile(`^((?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?@(sha256:[a-f0-9]{64})$`)
	digestRE        = lazy(`^sha256:[a-f0-9]{64}$`)
	appRE           = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	serviceRE       = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	volumeNameRE    = containerNameRE
)

// lazy compiles expr on first use.
func lazy(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Meta is validated meta-data.
type Meta struct {
	App      string
	Services []Service
	Health   Health
	// Embedded are the images the artifact carries in its payload, by the
	// reference the services name them with.
	Embedded map[string]Embedded
	// Params are the artifact's default values for ${NAME} placeholders;
	// Substitutions what was put in their place, and from where.
	Params        map[string]string
	Substitutions []Substitution
	// hiddenWords are the words that values not public went into.
	hiddenWords []wordSub
	// Remove: the artifact removes the app (its containers, then at
	// commit its images and networks) instead of updating it; Services is
	// then empty. RemoveVolumes: its named volumes go too.
	Remove        bool
	RemoveVolumes bool
	// Networks and Volumes the app owns; Files the archive of files its
	// services mount.
	Networks []Network
	Volumes  []Volume
	Files    *Files
	// Attributes are the artifact's layer of attributes; SecretAttributes
	// the dotted paths that are secret in every layer.
	Attributes       map[string]any
	SecretAttributes []string
	// Rendered are the digests of the services' rendered templates, by
	// service: set by the device once it has rendered them.
	Rendered map[string]string
}

// Compose is the meta-data of releases that ran Docker Compose on the
// device. It is refused now (the generator compiles Compose projects into
// services); kept so that the refusal can say so.
type Compose struct {
	// Project is the payload file holding the project directory (a tar).
	Project string `json:"project"`
	// File is the compose file inside it (default docker-compose.yml).
	File string `json:"file,omitempty"`
	// Images are the pinned images of its services, pulled in Download.
	Images []string `json:"images"`
}

// Embedded is an image shipped inside the artifact as a docker-archive.
type Embedded struct {
	// ID is the image's ID (its config digest): what the engine knows it by
	// once loaded, and what proves the content is the one expected.
	ID string `json:"id"`
	// File is the payload file holding the docker-archive.
	File string `json:"file"`
	// Base, for a delta, is an image whose layers the archive leaves out:
	// the device must have it. OmittedLayers are those layers' diff IDs.
	Base          string   `json:"base,omitempty"`
	OmittedLayers []string `json:"omitted_layers,omitempty"`
	// Layers are the diff IDs of all the image's layers, bottom first: what
	// a later delta artifact may leave out.
	Layers []string `json:"layers,omitempty"`
}

// Service is one container of the app.
type Service struct {
	Name   string
	Image  string // repo@sha256:…, as written in the artifact
	Config engine.ContainerConfig
	// DependsOn: what must hold of other services before this one starts.
	DependsOn []Dependency
	// Files are mounted read-only from the app's files archive, on top of
	// Config (the device decides where the archive's content lives).
	Files []FileMount
	// Templates are rendered on the device from the files archive
	// (Source) and mounted read-only at Target, like Files.
	Templates []FileMount
	// Update is how an update replaces the container.
	Update Strategy
	// fixedName: run_args gave --name.
	fixedName bool
}

// Health is how long new containers must prove themselves; zero fields
// take the device's defaults.
type Health struct {
	// Window: how long every container must stay running with no restart.
	Window time.Duration
	// Timeout: how long a container with a health check may take to
	// become healthy.
	Timeout time.Duration
}

// Images returns the distinct images of m in service order, as the engine
// knows them: repo@sha256:… for pulled images, the image ID for embedded
// ones.
func (m *Meta) Images() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range m.Services {
		if !seen[s.Config.Image] {
			seen[s.Config.Image] = true
			out = append(out, s.Config.Image)
		}
	}
	return out
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// ValidDigest tells whether s is a sha256 digest, sha256:<64 hex>.
func ValidDigest(s string) bool { return digestRE().MatchString(s) }

// ValidApp tells whether name can be an app's name.
func ValidApp(name string) bool { return appRE.MatchString(name) }

// Parse validates meta-data and returns it in usable form. Every error
// wraps ErrInvalid and names the field at fault.
func Parse(data []byte) (*Meta, error) {
	return ParseApp(data, DefaultApp)
}

// ParseApp is Parse with the app that meta-data without "app" belongs to.
func ParseApp(data []byte, defaultApp string) (*Meta, error) {
	return ParseWith(data, ParseOptions{DefaultApp: defaultApp})
}

// ParseWith is Parse for a device: its default app, and the values of
// ${NAME} placeholders.
func ParseWith(data []byte, o ParseOptions) (*Meta, error) {
	d, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return d.Meta(o)
}

// Meta validates d and returns it in usable form, as ParseWith does. The
// compose file's default is filled in d. No error shows the value of a
// parameter that is not public.
func (d *Document) Meta(o ParseOptions) (*Meta, error) {
	if err := checkParams(d.Params, d.PublicParams); err != nil {
		return nil, err
	}
	sub := &substituter{lookup: o.Lookup, public: o.Public, defaults: d.Params, artifactPublic: d.PublicParams, used: map[string]Substitution{}}
	m, err := d.meta(o, sub)
	if err != nil {
		return nil, hider{sub.words, sub.list()}.hideErr(err)
	}
	m.hiddenWords = sub.words
	return m, nil
}

func (d *Document) meta(o ParseOptions, sub *substituter) (*Meta, error) {
	m, err := d.metaHeader(o)
	if err != nil {
		return nil, err
	}
	if err := m.addResources(d); err != nil {
		return nil, err
	}
	if d.Remove {
		if err := d.checkRemove(); err != nil {
			return nil, err
		}
		m.Remove, m.RemoveVolumes = true, d.RemoveVolumes
		return m, nil
	}
	if err := m.addWorkload(d, sub); err != nil {
		return nil, err
	}
	m.Substitutions = sub.list()
	if err := m.checkNames(); err != nil {
		return nil, err
	}
	if err := m.checkGraph(); err != nil {
		return nil, err
	}
	if err := m.addEmbedded(d.Embedded); err != nil {
		return nil, err
	}
	return m, nil
}

// metaHeader reads the app's name and health settings, and refuses the
// keys that do not belong in this artifact.
func (d *Document) metaHeader(o ParseOptions) (*Meta, error) {
	defaultApp := o.DefaultApp
	if defaultApp == "" {
		defaultApp = DefaultApp
	}
	m := &Meta{App: defaultApp, Params: d.Params}
	if d.App != "" {
		if !appRE.MatchString(d.App) {
			return nil, invalid("app: %q must be 1-63 of a-z 0-9 _ . - and start with a letter or digit", d.App)
		}
		m.App = d.App
	}
	if d.Health != nil {
		var err error
		if m.Health.Window, err = parseDur("health.window", d.Health.Window); err != nil {
			return nil, err
		}
		if m.Health.Timeout, err = parseDur("health.timeout", d.Health.Timeout); err != nil {
			return nil, err
		}
	}
	if d.Compose != nil {
		return nil, invalid("compose: this artifact was made for an earlier release that ran Docker Compose on the device; regenerate it with docker-artifact-gen --compose")
	}
	if d.RemoveVolumes && !d.Remove {
		return nil, invalid("remove_volumes: only an artifact that removes the app (remove: true) can remove its volumes")
	}
	return m, nil
}

// checkRemove: an artifact that removes an app names it and nothing else.
func (d *Document) checkRemove() error {
	if d.Containers != nil || d.Services != nil || d.RunArgs != nil || d.Embedded != nil || d.Networks != nil || d.Volumes != nil || d.Files != nil {
		return invalid("remove: an artifact that removes an app has no containers, services, run_args, networks, volumes, files or embedded images")
	}
	if d.App == "" {
		return invalid("remove: name the app to remove in app")
	}
	return nil
}

// addWorkload reads the containers or the services, whichever the artifact
// gives.
func (m *Meta) addWorkload(d *Document, sub *substituter) error {
	switch {
	case d.Containers != nil && (d.Networks != nil || d.Volumes != nil || d.Files != nil):
		return invalid("containers: networks, volumes and files need services")
	case d.Containers != nil && d.Services != nil:
		return invalid("containers and services: give one or the other")
	case d.Services != nil:
		if d.RunArgs != nil {
			return invalid("run_args: goes inside each service when services is used")
		}
		return m.addServices(d.Services, sub)
	case d.Containers != nil:
		return m.addContainers(d.Containers, d.RunArgs, sub)
	}
	return invalid("containers: missing (want a list of images pinned as repo@sha256:<digest>)")
}

var (
	fileRE = lazy(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	idRE   = digestRE
)

func (m *Meta) addEmbedded(emb map[string]Embedded) error {
	if len(emb) == 0 {
		return nil
	}
	used := map[string]bool{}
	for _, s := range m.Services {
		used[s.Image] = true
	}
	files := map[string]string{}
	for ref, e := range emb {
		field := fmt.Sprintf("embedded[%q]", ref)
		if !used[ref] {
			return invalid("%s: no service uses this image", field)
		}
		if !idRE().MatchString(e.ID) {
			return invalid("%s.id: %q is not an image ID (sha256:<64 hex>)", field, e.ID)
		}
		if !fileRE().MatchString(e.File) {
			return invalid("%s.file: %q is not a plain file name", field, e.File)
		}
		if other, dup := files[e.File]; dup {
			return invalid("%s.file: %q is also the file of %s", field, e.File, other)
		}
		files[e.File] = ref
		if e.Base != "" && !idRE().MatchString(e.Base) {
			return invalid("%s.base: %q is not an image ID", field, e.Base)
		}
		if (e.Base == "") != (len(e.OmittedLayers) == 0) {
			return invalid("%s: base and omitted_layers go together", field)
		}
		for _, l := range append(slices.Clone(e.OmittedLayers), e.Layers...) {
			if !idRE().MatchString(l) {
				return invalid("%s: %q is not a layer digest", field, l)
			}
		}
	}
	m.Embedded = emb
	for i := range m.Services {
		if e, ok := emb[m.Services[i].Image]; ok {
			m.Services[i].Config.Image = e.ID
		}
	}
	return nil
}

func parseDur(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 24*time.Hour {
		return 0, invalid("%s: %q is not a duration such as 10s or 2m", field, s)
	}
	return d, nil
}

// addContainers handles the shell module's format: one service per image,
// all with the same run_args, run with -d -t as the shell module did.
func (m *Meta) addContainers(images []string, runArgs *string, sub *substituter) error {
	if len(images) == 0 {
		return invalid("containers: empty list")
	}
	if len(images) > MaxServices {
		return invalid("containers: more than %d images", MaxServices)
	}
	args := ""
	if runArgs != nil {
		args = *runArgs
	}
	used := map[string]int{}
	for i, img := range images {
		field := fmt.Sprintf("containers[%d]", i)
		if err := checkImage(field, img); err != nil {
			return err
		}
		name := serviceFromImage(img)
		used[name]++
		if used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		s := Service{Name: name, Image: img, Config: engine.ContainerConfig{Tty: true}, Update: Recreate}
		if err := parseRunArgs(args, &s.Config, sub); err != nil {
			return invalid("run_args: %v", err)
		}
		m.Services = append(m.Services, s)
	}
	return nil
}

func (m *Meta) addServices(raws Services, sub *substituter) error {
	if len(raws) == 0 {
		return invalid("services: empty list")
	}
	if len(raws) > MaxServices {
		return invalid("services: more than %d services", MaxServices)
	}
	seen := map[string]bool{}
	for _, r := range raws {
		field := r.errField()
		if !serviceRE.MatchString(r.Name) {
			return invalid("%s.name: %q must be 1-63 of a-z A-Z 0-9 _ . - and start with a letter or digit", field, r.Name)
		}
		if seen[r.Name] {
			return invalid("%s.name: %q used twice", field, r.Name)
		}
		seen[r.Name] = true
		if err := checkImage(field+".image", r.Image); err != nil {
			return err
		}
		s := Service{Name: r.Name, Image: r.Image}
		if err := parseRunArgs(r.RunArgs, &s.Config, sub); err != nil {
			return invalid("%s.run_args: %v", field, err)
		}
		s.fixedName = s.Config.Name != ""
		for j, w := range r.Command {
			v, err := sub.word(w)
			if err != nil {
				return invalid("%s.command[%d]: %v", field, j, err)
			}
			s.Config.Cmd = append(s.Config.Cmd, v)
		}
		if err := m.addGraph(r, &s, sub); err != nil {
			return err
		}
		m.Services = append(m.Services, s)
	}
	return nil
}

func (m *Meta) checkNames() error {
	names := map[string]string{}
	for i := range m.Services {
		s := &m.Services[i]
		if s.Config.Name == "" {
			s.Config.Name = m.App + "-" + s.Name
		}
		if !containerNameRE.MatchString(s.Config.Name) {
			return invalid("container name %q is not valid", s.Config.Name)
		}
		// The module's own names for the containers it replaces: one
		// taken would block every update of the app that owns it.
		if strings.HasSuffix(s.Config.Name, "_prev") || strings.HasSuffix(s.Config.Name, "_next") {
			return invalid("container name %q: names ending in _prev or _next are the module's own, for the containers an update replaces", s.Config.Name)
		}
		if other, dup := names[s.Config.Name]; dup {
			return invalid("run_args: --name %q given to services %s and %s", s.Config.Name, other, s.Name)
		}
		names[s.Config.Name] = s.Name
		s.Config.Image = s.Image
	}
	return nil
}

func checkImage(field, img string) error {
	if img == "" {
		return invalid("%s: empty image", field)
	}
	if !strings.Contains(img, "@") {
		return invalid("%s: %q is not pinned by digest (want repo@sha256:<64 hex>)", field, img)
	}
	if !imageRE.MatchString(img) {
		_, dig, _ := strings.Cut(img, "@")
		if !digestRE().MatchString(dig) {
			return invalid("%s: %q has a malformed digest (want sha256:<64 lowercase hex>)", field, img)
		}
		return invalid("%s: %q is not a valid image reference", field, img)
	}
	return nil
}

// serviceFromImage names a service after the last path component of its
// repository: 127.0.0.1:5000/acme/web@sha256:… gives "web".
func serviceFromImage(img string) string {
	repo := imageRE.FindStringSubmatch(img)[1]
	if i := strings.LastIndex(repo, "/"); i >= 0 {
		repo = repo[i+1:]
	}
	return repo
}
