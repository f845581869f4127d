package image

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultTimeout is how long a registry may take to answer a request, and
// to send the next bytes of an answer, when Resolver.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// guardTransport is the innermost transport of every registry request. It
// refuses plain HTTP to any host but loopback and the insecure list (the
// registry library would otherwise fall back to it for private-range
// addresses whose TLS failed), and gives up on a registry that does not
// answer, or stops sending, within timeout.
type guardTransport struct {
	base     http.RoundTripper
	insecure []string
	timeout  time.Duration
	trace    func(msg string)
}

func (r *Resolver) transport() http.RoundTripper {
	base := r.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	t := r.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return &guardTransport{base: base, insecure: r.Insecure, timeout: t, trace: r.Trace}
}

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "http" && !g.plainAllowed(host) {
		return nil, fmt.Errorf("%w: %s over plain HTTP (its HTTPS failed); list %s in Resolver.Insecure if it really serves plain HTTP", ErrInsecure, host, host)
	}
	if g.trace != nil {
		start := time.Now()
		resp, err := g.roundTrip(req)
		// The path only: a query may carry a signed URL's signature.
		u := req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()
		if err != nil {
			g.trace(fmt.Sprintf("registry: %s %s: %s", req.Method, u, oneLine(err)))
		} else {
			g.trace(fmt.Sprintf("registry: %s %s: %s in %s", req.Method, u, resp.Status, time.Since(start).Round(time.Millisecond)))
		}
		return resp, err
	}
	return g.roundTrip(req)
}

func (g *guardTransport) roundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if g.timeout < 0 {
		return g.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	var fired atomic.Bool
	timer := time.AfterFunc(g.timeout, func() { fired.Store(true); cancel() })
	resp, err := g.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		cancel()
		if fired.Load() {
			return nil, fmt.Errorf("%w: registry %s did not answer within %s (Resolver.Timeout)", ErrTimeout, host, g.timeout)
		}
		return nil, err
	}
	timer.Reset(g.timeout)
	resp.Body = &idleBody{ReadCloser: resp.Body, timer: timer, fired: &fired, cancel: cancel, host: host, timeout: g.timeout}
	return resp, nil
}

// plainAllowed: loopback (as Docker allows) and the hosts given as
// insecure, by host:port or by host alone.
func (g *guardTransport) plainAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	return slices.Contains(g.insecure, hostport) || slices.Contains(g.insecure, host)
}

// idleBody fails a read once the registry has sent nothing for the
// timeout: a stalled blob download ends instead of hanging.
type idleBody struct {
	io.ReadCloser
	timer   *time.Timer
	fired   *atomic.Bool
	cancel  context.CancelFunc
	host    string
	timeout time.Duration
	once    sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.fired.Load() {
		return n, fmt.Errorf("%w: registry %s sent nothing for %s (Resolver.Timeout)", ErrTimeout, b.host, b.timeout)
	}
	b.timer.Reset(b.timeout)
	return n, err
}

func (b *idleBody) Close() error {
	b.once.Do(func() { b.timer.Stop() })
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
