package compose

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/module/spec"
)

// payload collects the files services mount, by their path in the
// archive: project files under project/ (their path in the project),
// inline and environment configs and secrets under configs/ and secrets/.
type payload struct {
	dir     string
	entries map[string]entry
}

type entry struct {
	disk    string // a file or directory of the project
	content []byte // or inline content
	isDir   bool
}

func newPayload(dir string) *payload { return &payload{dir: dir, entries: map[string]entry{}} }

func (p *payload) empty() bool { return len(p.entries) == 0 }

// addProject adds a file or directory of the project (an absolute path
// inside it) and returns its path in the archive.
func (p *payload) addProject(abs string) (string, error) {
	rel, err := filepath.Rel(p.dir, abs)
	if err != nil || !within(p.dir, abs) {
		return "", ErrOutsideProject
	}
	if rel == "." {
		return "", fmt.Errorf("the whole project directory cannot be mounted; mount a directory inside it")
	}
	name := path.Join("project", filepath.ToSlash(rel))
	if strings.ContainsAny(name, ":,") {
		return "", fmt.Errorf("%s: a file mounted from the project may not have : or , in its path", rel)
	}
	// A file is walked as itself; links and the like are refused, as the
	// root too (WalkDir does not follow it).
	err = filepath.WalkDir(abs, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(p.dir, file)
		n := path.Join("project", filepath.ToSlash(r))
		switch {
		case d.IsDir():
			p.entries[n] = entry{disk: file, isDir: true}
		case d.Type().IsRegular():
			p.entries[n] = entry{disk: file}
		default:
			return fmt.Errorf("%s: only files and directories can be shipped", r)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return name, nil
}

func (p *payload) isDir(name string) bool { return p.entries[name].isDir }

// addMountPoint adds an empty directory (or file) at name unless the
// project has something there already.
func (p *payload) addMountPoint(name string, dir bool) {
	if _, ok := p.entries[name]; !ok {
		p.entries[name] = entry{isDir: dir}
	}
}

// addContent adds inline content as dir/name.
func (p *payload) addContent(dir, name string, content []byte) string {
	n := path.Join(dir, name)
	p.entries[n] = entry{content: content}
	return n
}

// write writes the archive: entries sorted, parents first, fixed times,
// owners and modes (0644, 0755 for directories and executables), so that
// the same project gives the same digest.
func (p *payload) write(out string) (artifact.PayloadFile, string, error) {
	names := map[string]entry{}
	for n, e := range p.entries {
		names[n] = e
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if _, ok := names[d]; !ok {
				names[d] = entry{isDir: true}
			}
		}
	}
	list := slices.Sorted(maps.Keys(names))
	f, err := os.Create(out)
	if err != nil {
		return artifact.PayloadFile{}, "", err
	}
	defer f.Close()
	hw := artifact.NewHashingWriter(context.Background(), f)
	tw := tar.NewWriter(hw)
	epoch := time.Unix(0, 0)
	for _, n := range list {
		e := names[n]
		hdr := &tar.Header{Name: n, ModTime: epoch, Mode: 0o644}
		var data []byte
		switch {
		case e.isDir:
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, n+"/", 0o755
		case e.disk != "":
			info, err := os.Stat(e.disk)
			if err != nil {
				return artifact.PayloadFile{}, "", err
			}
			if info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
			if data, err = os.ReadFile(e.disk); err != nil {
				return artifact.PayloadFile{}, "", err
			}
		default:
			data = e.content
		}
		if !e.isDir {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return artifact.PayloadFile{}, "", err
		}
		if _, err := tw.Write(data); err != nil {
			return artifact.PayloadFile{}, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return artifact.PayloadFile{}, "", err
	}
	if err := f.Close(); err != nil {
		return artifact.PayloadFile{}, "", err
	}
	pf := hw.PayloadFile(out)
	return pf, "sha256:" + pf.SHA256, nil
}

// WriteFiles writes a files archive at out of local files (name in the
// archive -> file on disk), as Compile writes a project's.
func WriteFiles(out string, files map[string]string) (artifact.PayloadFile, *spec.FilesDoc, error) {
	p := newPayload("")
	for n, disk := range files {
		p.entries[n] = entry{disk: disk}
	}
	pf, digest, err := p.write(out)
	if err != nil {
		return artifact.PayloadFile{}, nil, err
	}
	return pf, &spec.FilesDoc{Archive: filepath.Base(out), Digest: digest}, nil
}
