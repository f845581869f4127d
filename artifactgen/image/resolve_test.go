package image_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// recorder counts the requests a registry receives.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD path"
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

// manifestRequests returns the requests for manifests, and fails the test
// on any request for a blob.
func (r *recorder) manifestRequests(t *testing.T) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		assert.NotContains(t, q, "/blobs/", "a blob was fetched")
		if strings.Contains(q, "/manifests/") {
			out = append(out, q)
		}
	}
	return out
}

// noDigestHeader removes Docker-Content-Digest from HEAD answers, as some
// registries do.
func noDigestHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			h.ServeHTTP(dropHeader{w}, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type dropHeader struct{ http.ResponseWriter }

func (d dropHeader) WriteHeader(code int) {
	d.Header().Del("Docker-Content-Digest")
	d.ResponseWriter.WriteHeader(code)
}

func anonymous() *image.Resolver {
	return &image.Resolver{Keychain: authn.NewMultiKeychain()}
}

func TestResolveWithHeadOnly(t *testing.T) {
	rec := &recorder{}
	reg := fixture.NewRegistry(t, rec.wrap)
	pinned := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0", PadBytes: 1 << 20})
	rec.reset()

	got, err := anonymous().Resolve(context.Background(), reg.Addr+"/acme/web:1.0")
	require.NoError(t, err)
	assert.Equal(t, pinned, got)
	assert.Equal(t, []string{"HEAD /v2/acme/web/manifests/1.0"}, rec.manifestRequests(t))
}

func TestResolveWithoutDigestHeader(t *testing.T) {
	rec := &recorder{}
	reg := fixture.NewRegistry(t, noDigestHeader, rec.wrap)
	pinned := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	rec.reset()

	got, err := anonymous().Resolve(context.Background(), reg.Addr+"/acme/web:1.0")
	require.NoError(t, err)
	assert.Equal(t, pinned, got)
	assert.Equal(t, []string{"HEAD /v2/acme/web/manifests/1.0", "GET /v2/acme/web/manifests/1.0"}, rec.manifestRequests(t))
}

func TestResolvePlatform(t *testing.T) {
	rec := &recorder{}
	reg := fixture.NewRegistry(t, rec.wrap)
	amd, err := fixture.Build(fixture.Image{Version: "amd64"})
	require.NoError(t, err)
	arm, err := fixture.Build(fixture.Image{Version: "arm64"})
	require.NoError(t, err)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref, err := name.ParseReference(reg.Addr + "/acme/multi:1")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx))
	idxDigest, _ := idx.Digest()
	armDigest, _ := arm.Digest()
	rec.reset()

	r := anonymous()
	got, err := r.Resolve(context.Background(), reg.Addr+"/acme/multi:1")
	require.NoError(t, err)
	assert.Equal(t, reg.Addr+"/acme/multi@"+idxDigest.String(), got, "without --platform the index digest is kept")

	r.Platform = &v1.Platform{OS: "linux", Architecture: "arm64"}
	got, err = r.Resolve(context.Background(), reg.Addr+"/acme/multi:1")
	require.NoError(t, err)
	assert.Equal(t, reg.Addr+"/acme/multi@"+armDigest.String(), got)

	r.Platform = &v1.Platform{OS: "linux", Architecture: "s390x"}
	_, err = r.Resolve(context.Background(), reg.Addr+"/acme/multi:1")
	assert.ErrorIs(t, err, image.ErrNoPlatform)
	assert.ErrorContains(t, err, "linux/amd64")
	assert.Len(t, rec.manifestRequests(t), 3)
}

func TestResolveErrors(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	deny := fixture.NewRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
		})
	})
	down := fixture.NewRegistry(t)
	down.Close()

	for _, tc := range []struct {
		ref  string
		want error
		msg  string
	}{
		{reg.Addr + "/acme/web:2.0", image.ErrUnknownImage, "404"},
		{reg.Addr + "/acme/nothing:1", image.ErrUnknownImage, "404"},
		{deny.Addr + "/acme/web:1.0", image.ErrUnauthorized, "401"},
		{down.Addr + "/acme/web:1.0", nil, "connection refused"},
		{reg.Addr + "/Acme/Web:1.0", nil, "malformed reference"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := anonymous().Resolve(context.Background(), tc.ref)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

// --platform on an image that is not multi-platform: refused when the
// image is for another platform, naming the one it has; the image itself
// when it matches. Fetching it for --embed is refused the same way.
func TestResolvePlatformSingleImage(t *testing.T) {
	reg := fixture.NewRegistry(t)
	pinned := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"}) // linux/GOARCH
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	r := anonymous()
	r.Platform = &v1.Platform{OS: "linux", Architecture: other}
	_, err := r.Resolve(context.Background(), reg.Addr+"/acme/web:1.0")
	assert.ErrorIs(t, err, image.ErrNoPlatform)
	assert.ErrorContains(t, err, "linux/"+runtime.GOARCH)
	_, err = r.Fetch(context.Background(), reg.Addr+"/acme/web:1.0")
	assert.ErrorIs(t, err, image.ErrNoPlatform)

	r.Platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	got, err := r.Resolve(context.Background(), reg.Addr+"/acme/web:1.0")
	require.NoError(t, err)
	assert.Equal(t, pinned, got)
}
