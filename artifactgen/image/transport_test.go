package image_test

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// privateRangeTo returns a transport that reaches the loopback address
// addr when asked for 10.66.0.1 on the same port, so that a test can play
// a private-range registry without leaving loopback; it dials nothing else.
func privateRangeTo(t *testing.T, addr string) (string, http.RoundTripper) {
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	fake := net.JoinHostPort("10.66.0.1", port)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if a != fake {
			t.Errorf("dialled %s", a)
			return nil, net.ErrClosed
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return fake, tr
}

// A private-range registry whose HTTPS fails is not retried over plain
// HTTP unless it is named insecure; loopback is plain HTTP as always.
func TestNoPlainHTTPFallback(t *testing.T) {
	reg := fixture.NewRegistry(t) // plain HTTP on loopback
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	fake, tr := privateRangeTo(t, reg.Addr)

	r := anonymous()
	r.Transport = tr
	_, err := r.Resolve(context.Background(), fake+"/acme/web:1.0")
	require.Error(t, err)
	assert.ErrorContains(t, err, "refusing plain HTTP: "+fake)
	assert.ErrorContains(t, err, "list "+fake+" in Resolver.Insecure", "names the field; the command says its flag")
	assert.NotContains(t, err.Error(), "--insecure-registry")
	assert.ErrorContains(t, err, "https://", "says why HTTPS failed")
	assert.NotContains(t, err.Error(), "\n")

	r.Insecure = []string{fake}
	got, err := r.Resolve(context.Background(), fake+"/acme/web:1.0")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(got, fake+"/acme/web@sha256:"), got)

	_, err = anonymous().Resolve(context.Background(), reg.Addr+"/acme/web:1.0")
	assert.NoError(t, err, "loopback")
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}

func TestRegistryTimeout(t *testing.T) {
	addr := silentListener(t)
	r := anonymous()
	r.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := r.Resolve(context.Background(), addr+"/acme/web:1.0")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.ErrorContains(t, err, "registry "+addr+" did not answer within 300ms")
	assert.NotContains(t, err.Error(), "\n")
}

// A registry that answers the manifest and then stalls in a layer fails
// the fetch for --embed instead of hanging it.
func TestRegistryStallsInBlob(t *testing.T) {
	reg := fixture.NewRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && !strings.HasSuffix(r.URL.Path, "/uploads/") {
				w.WriteHeader(http.StatusOK)
				w.Write(make([]byte, 10))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(20 * time.Second):
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	r := anonymous()
	r.Timeout = 300 * time.Millisecond
	start := time.Now()
	ei, err := r.Fetch(context.Background(), reg.Addr+"/acme/web:1.0")
	if err == nil {
		_, _, err = image.Embed(context.Background(), []*image.EmbeddedImage{ei}, nil, t.TempDir(), false, nil)
	}
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.ErrorContains(t, err, "registry "+reg.Addr)
}

// progressRecorder is an image.Progress that keeps what it hears.
type progressRecorder struct {
	mu      sync.Mutex
	details []string
	last    [2]int64 // done, total
}

func (r *progressRecorder) Bytes(_ string, done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = [2]int64{done, total}
}

func (r *progressRecorder) Delta(string, int, int, int64) {}

func (r *progressRecorder) Detail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.details = append(r.details, msg)
}

// Trace hears each registry request with its status, never a URL's query
// (a redirect to storage may be signed in it); Progress hears each layer
// and the bytes read, to the total.
func TestTraceAndProgress(t *testing.T) {
	reg := fixture.NewRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && r.URL.RawQuery == "" {
				http.Redirect(w, r, r.URL.Path+"?X-Amz-Signature=SECRET", http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0", PadBytes: 1000, PadSeed: 1})
	rec := &progressRecorder{}
	r := anonymous()
	r.Trace = rec.Detail
	ei, err := r.Fetch(context.Background(), reg.Addr+"/acme/web:1.0")
	require.NoError(t, err)
	_, _, err = image.Embed(context.Background(), []*image.EmbeddedImage{ei}, nil, t.TempDir(), false, rec)
	require.NoError(t, err)
	all := strings.Join(rec.details, "\n")
	t.Log(all)
	assert.NotContains(t, all, "SECRET")
	assert.Regexp(t, `(?m)^registry: HEAD http://`+reg.Addr+`/v2/acme/web/manifests/1\.0: 200 OK in `, all)
	assert.Regexp(t, `(?m)^registry: GET http://`+reg.Addr+`/v2/acme/web/blobs/sha256:[0-9a-f]{64}: 307 Temporary Redirect in `, all)
	assert.Regexp(t, `(?m)^registry: GET http://`+reg.Addr+`/v2/acme/web/blobs/sha256:[0-9a-f]{64}: 200 OK in `, all)
	assert.Len(t, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(ei.Ref)+`: layer sha256:[0-9a-f]{64}: \d+\.\d MB$`).FindAllString(all, -1), 2, "each layer: the program and the padding")
	assert.Equal(t, rec.last[1], rec.last[0], "done is the total at the end")
	assert.Greater(t, rec.last[1], int64(1000))
}
