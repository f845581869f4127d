// Command mkdeb builds the Debian packages of mender-docker with nfpm, from
// the binaries of `make dist`: mender-docker (the device's update module)
// and mender-docker-artifact-gen (the generator), for each architecture.
// It first writes what the packages carry but the repository does not: the
// generator's man page and shell completions, taken from its own command
// line, the gzipped module man page, and a changelog. `make deb` runs it.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
)

// debArch maps a Debian architecture to the suffix of its binaries in
// dist/.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64", "armhf": "armv7"}

func main() {
	version := flag.String("version", "", "package version (Debian syntax)")
	dist := flag.String("dist", "../dist", "directory of the `make dist` binaries")
	out := flag.String("out", "../dist/deb", "directory for the packages")
	arches := flag.String("arch", "amd64,arm64,armhf", "Debian architectures")
	epoch := flag.Int64("mtime", 0, "file times in the packages, Unix seconds (default SOURCE_DATE_EPOCH or now)")
	flag.Parse()
	if *version == "" {
		fmt.Fprintln(os.Stderr, "mkdeb: -version is required")
		os.Exit(2)
	}
	mtime := time.Now().UTC().Truncate(time.Second)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		fmt.Sscan(s, epoch)
	}
	if *epoch != 0 {
		mtime = time.Unix(*epoch, 0).UTC()
	}
	if err := run(*version, *dist, *out, strings.Split(*arches, ","), mtime); err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
}

func run(version, dist, out string, arches []string, mtime time.Time) error {
	dist, err := filepath.Abs(dist)
	if err != nil {
		return err
	}
	gen := filepath.Join(out, "gen")
	if err := os.MkdirAll(gen, 0o755); err != nil {
		return err
	}
	// Packages of earlier versions would be mistaken for these.
	old, _ := filepath.Glob(filepath.Join(out, "*.deb"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := generate(gen, version, mtime); err != nil {
		return err
	}
	for _, arch := range arches {
		suffix, ok := debArch[arch]
		if !ok {
			return fmt.Errorf("architecture %q: want one of amd64, arm64, armhf", arch)
		}
		env := map[string]string{"ARCH": arch, "GOARCH_FILE": suffix, "VERSION": version, "DIST": dist, "GEN": gen}
		for _, conf := range []string{"mender-docker.yaml", "mender-docker-artifact-gen.yaml"} {
			path, err := pack(conf, env, out, mtime)
			if err != nil {
				return fmt.Errorf("%s for %s: %w", conf, arch, err)
			}
			fmt.Println(path)
		}
	}
	return nil
}

// pack builds one package from an nfpm configuration.
func pack(conf string, env map[string]string, out string, mtime time.Time) (string, error) {
	c, err := nfpm.ParseFileWithEnvMapping(conf, func(k string) string { return env[k] })
	if err != nil {
		return "", err
	}
	info, err := c.Get("deb")
	if err != nil {
		return "", err
	}
	info.MTime = mtime
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	target := filepath.Join(out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	info.Target = target
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", err
	}
	return target, f.Close()
}

// generate writes the generated files the configurations name as ${GEN}.
func generate(dir, version string, mtime time.Time) error {
	root := cli.New()
	var bash, zsh, fish, man bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return err
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return err
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		return err
	}
	writeMan(&man, root, mtime)
	module, err := os.ReadFile("files/mender-docker.8")
	if err != nil {
		return err
	}
	changelog := fmt.Sprintf("mender-docker (%s) unstable; urgency=medium\n\n  * Built from the mender-docker repository; see its git history.\n\n -- mender-docker maintainers <mender-docker@users.noreply.github.com>  %s\n",
		version, mtime.Format(time.RFC1123Z))
	for name, data := range map[string][]byte{
		"docker-artifact-gen.bash": bash.Bytes(),
		"_docker-artifact-gen":     zsh.Bytes(),
		"docker-artifact-gen.fish": fish.Bytes(),
		"docker-artifact-gen.1.gz": gzipped(man.Bytes()),
		"mender-docker.8.gz":       gzipped(module),
		"changelog.gz":             gzipped([]byte(changelog)),
		"docker-artifact-gen.1":    man.Bytes(), // for reading, not packed
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// gzipped compresses as Debian wants man pages and changelogs: best
// compression, no file name or time in the header (reproducible).
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}
