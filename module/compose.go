package module

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/mender-docker/mender-docker/module/spec"
)

// ComposeProjectLabel is how Docker Compose labels a project's containers.
const ComposeProjectLabel = "com.docker.compose.project"

// ErrNoCompose: a Compose app, and no Docker Compose on the device.
var ErrNoCompose = errors.New("neither 'docker compose' nor 'docker-compose' is installed")

// Composer runs the device's Docker Compose for one project.
type Composer interface {
	// Up brings the project in dir up: containers whose configuration
	// changed are recreated, services no longer in the file removed.
	Up(ctx context.Context, project, dir, file string, env []string) error
	// Down removes the project's containers; named volumes are kept.
	Down(ctx context.Context, project, dir, file string, env []string) error
}

// execComposer runs a Compose command line.
type execComposer struct {
	argv []string
	log  func(string, ...any)
}

// FindComposer finds the docker compose plugin or the standalone
// docker-compose.
func FindComposer(logf func(string, ...any)) (Composer, error) {
	if path, err := exec.LookPath("docker"); err == nil {
		if exec.Command(path, "compose", "version").Run() == nil {
			return &execComposer{argv: []string{path, "compose"}, log: logf}, nil
		}
	}
	if path, err := exec.LookPath("docker-compose"); err == nil {
		return &execComposer{argv: []string{path}, log: logf}, nil
	}
	return nil, ErrNoCompose
}

func (c *execComposer) run(ctx context.Context, project, dir, file string, env []string, args ...string) error {
	argv := append(append(append([]string{}, c.argv[1:]...), "-p", project, "-f", filepath.Join(dir, file)), args...)
	cmd := exec.CommandContext(ctx, c.argv[0], argv...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" && c.log != nil {
			c.log("compose: %s", line)
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(c.argv[len(c.argv)-1]), strings.Join(args, " "), err)
	}
	return nil
}

func (c *execComposer) Up(ctx context.Context, project, dir, file string, env []string) error {
	return c.run(ctx, project, dir, file, env, "up", "-d", "--remove-orphans", "--no-build")
}

func (c *execComposer) Down(ctx context.Context, project, dir, file string, env []string) error {
	return c.run(ctx, project, dir, file, env, "down", "--remove-orphans")
}

// composer finds Compose once per process (a preload runs several states).
func (u *Updater) composer() (Composer, error) {
	if u.Compose == nil {
		c, err := FindComposer(u.logf)
		if err != nil {
			return nil, err
		}
		u.Compose = c
	}
	return u.Compose, nil
}

// composeEnv is the environment Compose interpolates the project's
// ${NAME} placeholders from: the values resolved at Download.
func composeEnv(params map[string]string) []string {
	env := os.Environ()
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		env = append(env, n+"="+params[n])
	}
	return env
}

var composePlaceholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// resolveComposeParams finds the ${NAME} placeholders of the compose file
// (the ${NAME:-default} forms are Compose's own business) and resolves
// each as run arguments' are; a placeholder with no value fails.
func (u *Updater) resolveComposeParams(m *spec.Meta, dir string, lookup func(string) (string, string, bool)) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, m.Compose.File))
	if err != nil {
		return nil, fmt.Errorf("compose app: the project has no %s: %w", m.Compose.File, err)
	}
	values := map[string]string{}
	for _, match := range composePlaceholder.FindAllStringSubmatch(string(data), -1) {
		name := match[1]
		if _, done := values[name]; done {
			continue
		}
		v, src, ok := lookup(name)
		if !ok {
			v, ok = m.Params[name]
			src = "artifact default"
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s: ${%s} has no value: set it in the device's parameters for this app, or give a default in params", spec.ErrInvalid, m.Compose.File, name)
		}
		values[name] = v
		u.logf("app %s: parameter %s", m.App, spec.Substitution{Name: name, Value: v, Source: src})
	}
	return values, nil
}

// maxProjectEntries bounds the files and directories of a project: each
// costs an inode whatever its size.
const maxProjectEntries = 10000

// extractProject unpacks a project tar into dir: regular files and
// directories only, nothing outside dir, no sparse files (archive/tar
// would expand them), and at most limit bytes of content in all. It checks
// each entry before writing it, so a refused project has written at most
// limit bytes, which cleanup removes with the project directory.
func extractProject(r io.Reader, dir string, limit int64) error {
	tr := tar.NewReader(r)
	var total int64
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compose project: %w", err)
		}
		if entries > maxProjectEntries {
			return fmt.Errorf("compose project: %w: more than %d files", ErrArchive, maxProjectEntries)
		}
		name, err := entryName(h)
		if err != nil {
			return fmt.Errorf("compose project: %w", err)
		}
		if total += h.Size; h.Size < 0 || total > limit {
			return fmt.Errorf("compose project: %w: %q: the project unpacks to more than %d MB (max_unpack_mb)", ErrArchive, h.Name, limit>>20)
		}
		if name == "." {
			continue
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("compose project: %q is neither a file nor a directory", h.Name)
		}
	}
}
