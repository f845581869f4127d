// Package image pins image references to digests with registry requests
// only, and fetches images for embedding: from a registry, a docker save
// archive or an OCI layout, written as docker-archives that leave out the
// layers a delta base has. Registry requests are HTTPS but for loopback and
// the hosts named insecure, and time out.
package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Resolver pins image references to digests with registry API requests
// only: a HEAD of the manifest, or a GET of it when the registry leaves out
// the digest header or a platform must be picked from an index. No layer
// is ever fetched; the config blob only with a Platform and an image that
// is not multi-platform, to check that it is for that platform.
type Resolver struct {
	// Platform, when set, pins the per-platform manifest of a multi-arch
	// image instead of its index.
	Platform *v1.Platform
	// Insecure lists registries (host[:port]) reached over plain HTTP.
	// Loopback and localhost registries are plain HTTP anyway, as Docker
	// treats them.
	Insecure []string
	// Keychain gives credentials; the Docker config and its credential
	// helpers by default.
	Keychain authn.Keychain
	// Transport carries the requests; remote.DefaultTransport by default.
	Transport http.RoundTripper
	// Timeout bounds how long a registry may take to answer a request or
	// to send the next bytes of a blob: DefaultTimeout when zero, none
	// when negative.
	Timeout time.Duration
	// Trace, if set, hears each registry request and its answer's status
	// (never headers, nor a URL's query).
	Trace func(msg string)
}

// Resolve returns ref pinned as repo@sha256:…, keeping the repository as
// the user spelled it.
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	parsed, err := name.ParseReference(ref, r.nameOptions(ref)...)
	if err != nil {
		return "", fmt.Errorf("image %q: malformed reference: %v", ref, err)
	}
	ropts := r.remoteOptions(ctx)

	var digest v1.Hash
	if r.Platform == nil {
		desc, err := remote.Head(parsed, ropts...)
		if err == nil {
			digest = desc.Digest
		} else if retryWithGet(err) {
			// Some registries answer HEAD without Docker-Content-Digest:
			// GET the manifest (and only the manifest) instead.
			d, err := remote.Get(parsed, ropts...)
			if err != nil {
				return "", classify(ref, err)
			}
			digest = d.Digest
		} else {
			return "", classify(ref, err)
		}
	} else {
		d, err := remote.Get(parsed, ropts...)
		if err != nil {
			return "", classify(ref, err)
		}
		digest = d.Digest
		if d.MediaType.IsIndex() {
			if digest, err = r.pick(ref, d); err != nil {
				return "", err
			}
		} else {
			// A single-platform image: its config says which platform it
			// is for (one small blob), and pinning it for another
			// platform would ship a device an image it cannot run.
			img, err := d.Image()
			if err != nil {
				return "", classify(ref, err)
			}
			if err := r.checkPlatform(ref, img); err != nil {
				return "", err
			}
		}
	}
	return repoPart(ref) + "@" + digest.String(), nil
}

func (r *Resolver) pick(ref string, d *remote.Descriptor) (v1.Hash, error) {
	idx, err := d.ImageIndex()
	if err != nil {
		return v1.Hash{}, err
	}
	im, err := idx.IndexManifest() // already fetched by Get: no request
	if err != nil {
		return v1.Hash{}, err
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		if m.Platform.Satisfies(*r.Platform) {
			return m.Digest, nil
		}
		have = append(have, m.Platform.String())
	}
	return v1.Hash{}, fmt.Errorf("image %s: %w %s (it has %s)", ref, ErrNoPlatform, r.Platform, strings.Join(have, ", "))
}

// checkPlatform refuses a single-platform image built for another platform
// than r.Platform. An image whose config names no platform passes: there
// is nothing to check it against.
func (r *Resolver) checkPlatform(ref string, img v1.Image) error {
	if r.Platform == nil {
		return nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return classify(ref, err)
	}
	have := cf.Platform()
	if have == nil {
		return nil
	}
	if !have.Satisfies(*r.Platform) {
		return fmt.Errorf("image %s: %w %s (it has %s only)", ref, ErrNoPlatform, r.Platform, have.String())
	}
	return nil
}

// ResolveAll resolves refs concurrently, keeping their order.
func (r *Resolver) ResolveAll(ctx context.Context, refs []string) ([]string, error) {
	out := make([]string, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = r.Resolve(ctx, ref)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// retryWithGet tells whether a failed HEAD is worth a GET: yes when the
// registry answered without the headers we need, or refused HEAD itself.
func retryWithGet(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			return false
		}
		return true
	}
	return strings.Contains(err.Error(), "response did not include")
}

func classify(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("image %s: %w (HTTP 404)", ref, ErrUnknownImage)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("image %s: %w (HTTP %d): log in with docker login, or check the credentials in the Docker config", ref, ErrUnauthorized, te.StatusCode)
		}
		return fmt.Errorf("image %s: registry answered HTTP %d", ref, te.StatusCode)
	}
	return fmt.Errorf("image %s: %v", ref, oneLine(err))
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// repoPart strips the tag and digest from ref as the user wrote it.
func repoPart(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
