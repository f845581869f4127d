package artifactgen

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
)

// Template is a local file rendered on the device with the attributes
// and mounted read-only at Target in Service's container (every service
// when Service is empty).
type Template struct {
	Service, Source, Target string
}

// addTemplates checks the templates, puts them in a files archive in tmp
// (templates/BASE-NAME) and adds them to the services.
func addTemplates(opts *Options, list []Template, tmp string) error {
	if len(opts.Services) == 0 {
		return &FieldError{"Templates", "", ErrTemplatesNeedServices}
	}
	files := map[string]string{}
	for _, t := range list {
		where := t.Source + ":" + t.Target
		if !path.IsAbs(t.Target) || path.Clean(t.Target) != t.Target || strings.ContainsAny(t.Target, ":,") {
			return &FieldError{"Templates", where, fmt.Errorf("%s must be a clean absolute path in the container", t.Target)}
		}
		data, err := os.ReadFile(t.Source)
		if err != nil {
			return &FieldError{"Templates", where, err}
		}
		if err := compose.CheckTemplate(filepath.Base(t.Source), data); err != nil {
			return &FieldError{"Templates", where, err}
		}
		name := path.Join("templates", filepath.Base(t.Source))
		if strings.ContainsAny(name, ":,") {
			return &FieldError{"Templates", where, fmt.Errorf("a template's file name may not have : or ,")}
		}
		if prev, ok := files[name]; ok && prev != t.Source {
			return &FieldError{"Templates", where, fmt.Errorf("two templates named %s: rename one", filepath.Base(t.Source))}
		}
		files[name] = t.Source
		found := false
		for i := range opts.Services {
			s := &opts.Services[i]
			if t.Service != "" && s.Name != t.Service {
				continue
			}
			found = true
			if _, dup := s.Templates[t.Target]; dup {
				return &FieldError{"Templates", where, fmt.Errorf("service %s: %s is mounted twice", s.Name, t.Target)}
			}
			if s.Templates == nil {
				s.Templates = map[string]string{}
			}
			s.Templates[t.Target] = name
		}
		if !found {
			return &FieldError{"Templates", where, fmt.Errorf("no service %s", t.Service)}
		}
	}
	pf, doc, err := compose.WriteFiles(filepath.Join(tmp, compose.FilesArchive), files)
	if err != nil {
		return err
	}
	opts.FilesArchive, opts.Files = doc, append(opts.Files, pf)
	return nil
}
