// Package compose turns a Compose project into what an artifact ships:
// the file validated with compose-go, every service's image pinned (or
// fetched for embedding), and the project directory as a tar, less what
// .composeappignore leaves out (.dockerignore rules).
package compose

import (
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"

	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"go.yaml.in/yaml/v4"

	"github.com/mender-docker/mender-docker/module/spec"
)

// ProjectFile is the payload file that carries a Compose project.
const ProjectFile = "compose-project.tar"

// composeFileNames are the names Docker Compose looks for, in its order.
var composeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// Pack turns the Compose project in dir into what an artifact
// ships: the compose file validated (compose-go) and every service's image
// pinned to its digest (through the registry, as Resolve does), and the
// project directory, less what .composeappignore lists, as a tar in tmpDir.
//
// With embed, each image is fetched for embedding instead, and the shipped
// file names it by image ID (what the engine knows a loaded image by).
func Pack(ctx context.Context, r *image.Resolver, dir, app, tmpDir string, embed bool) (*spec.Compose, artifact.PayloadFile, []*image.EmbeddedImage, error) {
	var file string
	for _, n := range composeFileNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			file = n
			break
		}
	}
	if file == "" {
		return nil, artifact.PayloadFile{}, nil, fmt.Errorf("--compose %s: no %s", dir, strings.Join(composeFileNames, ", "))
	}
	content, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, artifact.PayloadFile{}, nil, err
	}
	project, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, file), Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName(app, true)
		// ${NAME} placeholders get their values on each device.
		o.SkipInterpolation = true
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return nil, artifact.PayloadFile{}, nil, fmt.Errorf("--compose %s: %s", dir, composeError(file, content, err))
	}
	var names []string
	for name, s := range project.Services {
		if s.Image == "" {
			return nil, artifact.PayloadFile{}, nil, fmt.Errorf("--compose %s: service %s has no image (devices do not build images)", dir, name)
		}
		names = append(names, name)
	}
	sort.Strings(names)

	pinnedFile, images, fetched, err := pinCompose(ctx, r, content, embed)
	if err != nil {
		return nil, artifact.PayloadFile{}, nil, fmt.Errorf("--compose %s: %w", dir, err)
	}
	ignore, err := readIgnore(filepath.Join(dir, ".composeappignore"))
	if err != nil {
		return nil, artifact.PayloadFile{}, nil, err
	}
	pf, err := tarProject(dir, file, pinnedFile, ignore, filepath.Join(tmpDir, ProjectFile))
	if err != nil {
		return nil, artifact.PayloadFile{}, nil, fmt.Errorf("--compose %s: %w", dir, err)
	}
	return &spec.Compose{Project: ProjectFile, File: file, Images: images}, pf, fetched, nil
}

// pinCompose rewrites every services.*.image to repo@sha256:…, keeping
// the rest of the file as it is (comments included).
func pinCompose(ctx context.Context, r *image.Resolver, content []byte, embed bool) ([]byte, []string, []*image.EmbeddedImage, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, nil, nil, err
	}
	services := mapValue(doc.Content[0], "services")
	if services == nil {
		return nil, nil, nil, fmt.Errorf("no services")
	}
	var images []string
	var fetched []*image.EmbeddedImage
	for i := 0; i+1 < len(services.Content); i += 2 {
		name, svc := services.Content[i].Value, services.Content[i+1]
		img := mapValue(svc, "image")
		if img == nil {
			continue
		}
		if strings.Contains(img.Value, "$") {
			return nil, nil, nil, fmt.Errorf("service %s: image %q has a variable: it must be literal to be pinned", name, img.Value)
		}
		var pinned string
		if embed {
			ei, err := r.Fetch(ctx, img.Value)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("service %s: %w", name, err)
			}
			id, err := ei.Image.ConfigName()
			if err != nil {
				return nil, nil, nil, err
			}
			pinned, img.Value = ei.Ref, id.String()
			if !slices.Contains(images, pinned) {
				fetched = append(fetched, ei)
			}
		} else {
			var err error
			if pinned, err = r.Resolve(ctx, img.Value); err != nil {
				return nil, nil, nil, fmt.Errorf("service %s: %w", name, err)
			}
			img.Value = pinned
		}
		if !slices.Contains(images, pinned) {
			images = append(images, pinned)
		}
	}
	out, err := yaml.Marshal(&doc)
	return out, images, fetched, err
}

var (
	decodingPath = regexp.MustCompile(`'([^']*)' `)
	indexInPath  = regexp.MustCompile(`\[([^\]]*)\]`)
	expectedType = regexp.MustCompile(`expected type '([^']*)', got unconvertible type '([^']*)'`)
)

func typeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "map"):
		return "a mapping"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a " + goType
}

// composeError says a compose-go error as a user would read it: the file
// and line, the key, and what is wrong with it, instead of JSON schema
// wording ("services.web.bogus_key false schema").
func composeError(file string, content []byte, err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if _, rest, ok := strings.Cut(msg, "validating "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			msg = after
		}
	}
	var path string
	switch {
	case strings.HasSuffix(msg, " false schema"):
		path = strings.TrimSuffix(msg, " false schema")
		parent, key := "top level", path
		if i := strings.LastIndex(path, "."); i >= 0 {
			parent, key = path[:i], path[i+1:]
		}
		msg = fmt.Sprintf("%s: unknown key %q", parent, key)
	case strings.HasPrefix(msg, "additional properties '"):
		key := strings.TrimSuffix(strings.TrimPrefix(msg, "additional properties '"), "' not allowed")
		path = key
		msg = fmt.Sprintf("unknown top-level key %q (want services, networks, volumes...)", key)
	case strings.Contains(msg, " must be "):
		path, _, _ = strings.Cut(msg, " must be ")
		msg = strings.Replace(msg, " must be ", ": must be ", 1)
		msg = strings.Replace(msg, "a array", "a list", 1)
	case strings.HasPrefix(msg, "decoding failed due to the following error(s): "):
		msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s): ")
		if m := decodingPath.FindStringSubmatch(msg); m != nil {
			path = indexInPath.ReplaceAllString(m[1], ".$1")
			msg = path + ": " + strings.TrimSpace(strings.Replace(msg, m[0], "", 1))
			msg = expectedType.ReplaceAllStringFunc(msg, func(m string) string {
				sub := expectedType.FindStringSubmatch(m)
				return "want " + typeName(sub[1]) + ", not " + typeName(sub[2])
			})
		}
	}
	if line := lineOf(content, path); line > 0 {
		return fmt.Sprintf("%s:%d: %s", file, line, msg)
	}
	return fmt.Sprintf("%s: %s", file, msg)
}

// lineOf finds the line of the key at path (keys joined by dots) in a
// YAML document, or 0.
func lineOf(content []byte, path string) int {
	if path == "" {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, key := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		n = next
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// readIgnore reads .composeappignore, with .dockerignore's rules (moby's
// patternmatcher): patterns relative to the project directory, ** for any
// number of directories, ! to ship again what an earlier pattern left
// out, # for comments. nil when there is no such file.
func readIgnore(path string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pm, nil
}

// ignored tells whether rel (slash-separated) is left out.
func ignored(pm *patternmatcher.PatternMatcher, rel string) (bool, error) {
	if pm == nil {
		return false, nil
	}
	return pm.MatchesOrParentMatches(rel)
}

// writeParents writes the directory entries of rel and its parents that
// are not written yet.
func writeParents(tw *tar.Writer, dir, rel string, written map[string]bool) error {
	if rel == "." || written[rel] {
		return nil
	}
	if err := writeParents(tw, dir, filepath.Dir(rel), written); err != nil {
		return err
	}
	info, err := os.Stat(filepath.Join(dir, rel))
	if err != nil {
		return err
	}
	written[rel] = true
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.ToSlash(rel) + "/", Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()})
}

func tarProject(dir, composeFile string, pinned []byte, ignore *patternmatcher.PatternMatcher, out string) (artifact.PayloadFile, error) {
	f, err := os.Create(out)
	if err != nil {
		return artifact.PayloadFile{}, err
	}
	defer f.Close()
	cw := artifact.NewHashingWriter(context.Background(), f)
	tw := tar.NewWriter(cw)
	written := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		skip, err := ignored(ignore, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if rel == ".composeappignore" || skip {
			if d.IsDir() && (ignore == nil || !ignore.Exclusions()) {
				return filepath.SkipDir
			}
			// A "!" pattern may ship something below: walk on, and write
			// the directory only if something below is shipped.
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := writeParents(tw, dir, filepath.Dir(rel), written); err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
		switch {
		case d.IsDir():
			return writeParents(tw, dir, rel, written)
		case info.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
			var src io.Reader
			if rel == composeFile {
				hdr.Size, src = int64(len(pinned)), strings.NewReader(string(pinned))
			} else {
				in, err := os.Open(path)
				if err != nil {
					return err
				}
				defer in.Close()
				src = in
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			return err
		}
		return fmt.Errorf("%s: only files and directories can be shipped (list it in .composeappignore)", rel)
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return artifact.PayloadFile{}, err
	}
	return cw.PayloadFile(out), nil
}
