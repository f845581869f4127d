package artifactgen

import (
	"github.com/mender-docker/mender-docker/artifactgen/artifact"

	"strconv"
	"strings"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Options describe one docker artifact, with images already pinned.
type Options struct {
	ArtifactName string
	DeviceTypes  []string
	PayloadType  string // default "docker"

	// As mender-artifact write module-image: the payload provides
	// <filesystem>.<name>.version = <version> and clears <filesystem>.<name>.*,
	// by default rootfs-image.<payload type>.version = <artifact name>.
	SoftwareFilesystem string
	SoftwareName       string
	SoftwareVersion    string

	// NoDefaultSoftwareVersion leaves out the software version provide and
	// its clears_provides; NoDefaultClearsProvides only the latter (as
	// mender-artifact's flags of the same names).
	NoDefaultSoftwareVersion bool
	NoDefaultClearsProvides  bool
	// ArtifactNameDepends: the device must have one of these installed.
	ArtifactNameDepends []string
	// Scripts are state scripts.
	Scripts []artifact.Script

	Provides       map[string]string // payload provides
	Depends        map[string]string // payload depends
	ClearsProvides []string
	ProvidesGroup  string
	DependsGroups  []string

	// Meta-data.
	App      string
	Images   []string // the shell generator's "containers"
	RunArgs  string   // with Images
	Services []Service
	Health   spec.Health
	// Embedded images, by the reference services name them with, and the
	// payload files that hold them.
	Embedded map[string]spec.Embedded
	Files    []artifact.PayloadFile
	// Params are default values for ${NAME} placeholders; devices may set
	// their own.
	Params map[string]string
	// RemoveApp makes an artifact that removes App from the device;
	// RemoveVolumes, with it, also deletes the app's named volumes.
	RemoveApp     bool
	RemoveVolumes bool
	// Networks, Volumes and FilesArchive complete Services into a service
	// graph (a compiled Compose project); the archive is one of Files.
	Networks     map[string]spec.NetworkDoc
	Volumes      map[string]spec.VolumeDoc
	FilesArchive *spec.FilesDoc
	// Attributes are the artifact's layer of attributes that templates
	// and ${NAME} read on the device; SecretAttributes the dotted paths
	// of those that are secret in every layer.
	Attributes       map[string]any
	SecretAttributes []string
}

// Service is one container with its own arguments, as the meta-data
// names it.
type Service = spec.ServiceDoc

// ParseService parses NAME=IMAGE[,RUN-ARGS], one of Services as a
// command takes it.
func ParseService(s string) (Service, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return Service{}, &FieldError{"Services", strconv.Quote(s), ErrServiceSyntax}
	}
	img, args, _ := strings.Cut(rest, ",")
	return Service{Name: name, Image: img, RunArgs: args}, nil
}

// check refuses options that do not go together, before any image is
// asked for.
func (o Options) check() error {
	switch {
	case o.RemoveApp && (o.App == "" || len(o.Services) > 0 || len(o.Images) > 0 || o.RunArgs != ""):
		return ErrRemoveAppAlone
	case o.RemoveVolumes && !o.RemoveApp:
		return ErrNeedsRemoveApp
	case len(o.Services) > 0 && len(o.Images) > 0:
		return ErrImagesAndServices
	case len(o.Services) > 0 && o.RunArgs != "":
		return ErrRunArgsWithServices
	}
	seen := map[string]bool{}
	for _, s := range o.Services {
		if seen[s.Name] {
			return &FieldError{"Services", s.Name, ErrServiceTwice}
		}
		seen[s.Name] = true
	}
	return nil
}

// Document is the module's meta-data for o.
func (o Options) Document() (spec.Document, error) {
	if err := o.check(); err != nil {
		return spec.Document{}, err
	}
	switch {
	case o.RemoveApp:
		return spec.Document{App: o.App, Remove: true, RemoveVolumes: o.RemoveVolumes}, nil
	case len(o.Services) > 0:
		return spec.Document{App: o.App, Health: o.Health.Doc(), Services: o.Services, Networks: o.Networks, Volumes: o.Volumes, Files: o.FilesArchive, Embedded: o.Embedded, Params: o.Params,
			Attributes: o.Attributes, SecretAttributes: o.SecretAttributes}, nil
	default:
		// The shell generator's shape (run_args always written), plus
		// optional fields.
		runArgs := o.RunArgs
		return spec.Document{App: o.App, Health: o.Health.Doc(), Containers: o.Images, RunArgs: &runArgs, Embedded: o.Embedded, Params: o.Params,
			Attributes: o.Attributes, SecretAttributes: o.SecretAttributes}, nil
	}
}

// MetaData builds the module's meta-data and validates it with the
// module's own parser, so that what the device would refuse fails here.
func (o Options) MetaData() ([]byte, error) {
	d, err := o.Document()
	if err != nil {
		return nil, err
	}
	out, err := d.JSON()
	if err != nil {
		return nil, err
	}
	// What is checked is what ships: the written JSON, read back.
	back, err := spec.Decode(out)
	if err != nil {
		return nil, err
	}
	if err := back.Check(); err != nil {
		return nil, err
	}
	return out, nil
}

// Artifact builds the artifact's headers and meta-data.
func (o Options) Artifact() (artifact.Artifact, error) {
	meta, err := o.MetaData()
	if err != nil {
		return artifact.Artifact{}, err
	}
	if o.ArtifactName == "" {
		return artifact.Artifact{}, &FieldError{"ArtifactName", "", ErrMissing}
	}
	if len(o.DeviceTypes) == 0 {
		return artifact.Artifact{}, &FieldError{"DeviceTypes", "", ErrNoDeviceType}
	}
	ptype := o.PayloadType
	if ptype == "" {
		ptype = "docker"
	}
	fs, name, version := o.SoftwareFilesystem, o.SoftwareName, o.SoftwareVersion
	if fs == "" {
		fs = "rootfs-image"
	}
	if name == "" {
		// Each app its own software key, so that installing one app
		// neither replaces nor clears another's provides.
		name = ptype
		if o.App != "" && o.App != spec.DefaultApp {
			name = ptype + "-" + o.App
		}
	}
	if version == "" {
		version = o.ArtifactName
	}
	key := fs + "." + name
	provides := map[string]string{}
	clears := append([]string(nil), o.ClearsProvides...)
	switch {
	case o.RemoveApp:
		// A removed app leaves no version behind: the client clears
		// before it adds, so providing the key would bring it back.
		clears = append(clears, key+".*")
	case !o.NoDefaultSoftwareVersion:
		provides[key+".version"] = version
		if !o.NoDefaultClearsProvides {
			clears = append(clears, key+".*")
		}
	}
	for k, v := range o.Provides {
		if k == "artifact_name" || k == "artifact_group" {
			return artifact.Artifact{}, &FieldError{"Provides", k, ErrReservedProvide}
		}
		provides[k] = v
	}
	var depends map[string]string
	if len(o.Depends) > 0 {
		depends = o.Depends
	}
	if len(provides) == 0 {
		provides = nil
	}
	return artifact.Artifact{
		Header: artifact.HeaderInfo{
			Payloads:         []artifact.PayloadType{{Type: ptype}},
			ArtifactProvides: artifact.ArtifactProvides{ArtifactName: o.ArtifactName, ArtifactGroup: o.ProvidesGroup},
			ArtifactDepends:  artifact.ArtifactDepends{ArtifactName: o.ArtifactNameDepends, DeviceType: o.DeviceTypes, ArtifactGroup: o.DependsGroups},
		},
		TypeInfo: artifact.TypeInfo{
			Type:                   ptype,
			ArtifactDepends:        depends,
			ArtifactProvides:       provides,
			ClearsArtifactProvides: clears,
		},
		MetaData: meta,
		Files:    o.Files,
		Scripts:  o.Scripts,
	}, nil
}
