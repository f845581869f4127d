package compose_test

import (
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
)

// corpusDir holds public Compose projects as their authors wrote them
// (each with a SOURCE note), build: replaced by an image.
const corpusDir = "../../test/compose-corpus"

// corpusRefused is what each corpus project that does not compile fails
// with (a part of the error); every other one compiles. A change that
// makes one compile, or fail otherwise, updates this table. The writable
// binds are development setups (source code mounted into the container)
// and configuration the service only reads: with :ro added, as the error
// says, they compile (TestCorpus checks), but for flask-redis, which
// mounts the whole project directory.
var corpusRefused = map[string]string{
	"angular":                       "service web: volumes: /project: ./angular: a writable bind of project files",
	"apache-php":                    "service web: volumes: /var/www/html: ./app: a writable bind of project files",
	"elasticsearch-logstash-kibana": "service logstash: volumes: /usr/share/logstash/pipeline/logstash-nginx.config: ./logstash/pipeline/logstash-nginx.config: a writable bind of project files",
	"flask-redis":                   "service web: volumes: /code: .: a writable bind of project files",
	"minecraft":                     "service minecraft: volumes: /data: ~/minecraft_data: a home directory means nothing on the device; give an absolute path, or a named volume for data",
	"nginx-flask-mongo":             "service backend: volumes: /src: ./flask: a writable bind of project files",
	"nginx-wsgi-flask":              "service nginx-proxy: volumes: /tmp/default.conf: ./nginx/default.conf: a writable bind of project files",
	"prometheus-grafana":            "service grafana: volumes: /etc/grafana/provisioning/datasources: ./grafana: a writable bind of project files",
	"react-express-mongodb":         "service backend: volumes: /usr/src/app: ./backend: a writable bind of project files",
	"react-express-mysql":           "service backend: volumes: /code/package.json: ./backend/package.json: a writable bind of project files",
	"react-java-mysql":              "service frontend: volumes: /code/src: ./frontend/src: a writable bind of project files",
	"react-rust-postgres":           "service backend: volumes: /code/src: ./backend/src: a writable bind of project files",
	"vuejs":                         "service web: volumes: /project: ./vuejs: a writable bind of project files",
	"wasmedge-kafka-mysql":          "service etl: platform: not supported: pin the platform's image with Resolver.Platform",
	"wasmedge-mysql-nginx":          "service backend: platform: not supported: pin the platform's image with Resolver.Platform",
}

// corpusAfterRO is what a project refused for a writable bind fails with
// once :ro is added to its project binds.
var corpusAfterRO = map[string]string{
	"flask-redis": "service web: volumes: /code: the whole project directory cannot be mounted; mount a directory inside it",
}

// projectBindRE is a short-syntax bind of a project path, without options.
var projectBindRE = regexp.MustCompile(`(?m)^(\s*-\s*["']?)(\.[^:\s"']*:/[^:\s"']*)(["']?\s*)$`)

// readOnly adds :ro to the short-syntax project binds of the project in
// dir, as the writable-bind error says to.
func readOnly(t *testing.T, dir string) {
	file := filepath.Join(dir, "compose.yaml")
	if _, err := os.Stat(file); err != nil {
		file = filepath.Join(dir, "compose.yml")
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, projectBindRE.ReplaceAll(b, []byte("${1}${2}:ro${3}")), 0o644))
}

var imageLineRE = regexp.MustCompile(`(?m)^(\s*-?\s*image:\s*)(\S.*?)\s*$`)

// CorpusProject copies the corpus project name into a new directory with
// every image pointed at a registry on addr (an empty image pushed there
// under corpus/<the original reference, made a repository name>).
func CorpusProject(t *testing.T, addr, name string) string {
	src := filepath.Join(corpusDir, name)
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	var file string
	for _, f := range []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			file = filepath.Join(dir, f)
			break
		}
	}
	require.NotEmpty(t, file, name)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	out := imageLineRE.ReplaceAllStringFunc(string(b), func(m string) string {
		sm := imageLineRE.FindStringSubmatch(m)
		ref := addr + "/corpus/" + repoName(sm[2]) + ":1"
		pushEmpty(t, ref)
		return sm[1] + ref
	})
	require.NoError(t, os.WriteFile(file, []byte(out), 0o644))
	return dir
}

var nonRepo = regexp.MustCompile(`[^a-z0-9]+`)

func repoName(ref string) string {
	ref = strings.Trim(ref, `"'`)
	return strings.Trim(nonRepo.ReplaceAllString(strings.ToLower(ref), "-"), "-")
}

func pushEmpty(t *testing.T, ref string) {
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, empty.Image))
}

func corpusNames(t *testing.T) []string {
	entries, err := os.ReadDir(corpusDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestCorpus compiles every corpus project: each one compiles, or fails
// as corpusRefused says, with an error naming what to write instead.
// CORPUS_RECORD=1 logs the outcomes instead of checking them.
func TestCorpus(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	names := corpusNames(t)
	require.GreaterOrEqual(t, len(names), 30)
	record := os.Getenv("CORPUS_RECORD") != ""
	compiled := 0
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			_, err := fs.Stat(os.DirFS(corpusDir), n+"/SOURCE")
			require.NoError(t, err, "every corpus project says where it came from")
			dir := CorpusProject(t, addr, n)
			_, _, err = document(t, dir, compose.Options{App: "corpus"})
			if err == nil {
				compiled++
			}
			if record {
				msg := ""
				if err != nil {
					msg = strings.ReplaceAll(err.Error(), dir, "DIR")
				}
				t.Logf("RESULT %s\t%s", n, msg)
				return
			}
			want, refused := corpusRefused[n]
			if !refused {
				assert.NoError(t, err)
				return
			}
			if !assert.Error(t, err) {
				return
			}
			assert.Contains(t, err.Error(), want)
			if strings.Contains(want, "a writable bind of project files") {
				readOnly(t, dir)
				_, _, err := document(t, dir, compose.Options{App: "corpus"})
				if after, ok := corpusAfterRO[n]; ok {
					if assert.Error(t, err, "with :ro") {
						assert.Contains(t, err.Error(), after)
					}
				} else {
					assert.NoError(t, err, "with :ro, as the error says")
				}
			}
		})
	}
	t.Logf("%d of %d corpus projects compile", compiled, len(names))
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range corpusRefused {
			if !yield(k) {
				return
			}
		}
	}) {
		assert.Contains(t, names, n, "corpusRefused names a project the corpus has")
	}
}
