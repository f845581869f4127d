package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/mender-docker/mender-docker/module/engine"
)

// A container's own MAC address. From API 1.44 the engine takes it per
// endpoint (EndpointSettings.MacAddress), which the client library sends;
// before (Docker 20.10 is 1.41) only as the container config's
// MacAddress, a field the client library no longer has. So for those
// engines, and only when a MAC is set, the create request is sent here,
// over the client's own connection to the daemon.

// macPerEndpoint is the first API version that takes the MAC per endpoint.
const macPerEndpoint = "1.44"

// legacyCreateRequest is container.CreateRequest with the config's
// MacAddress of API < 1.44.
type legacyCreateRequest struct {
	*container.Config
	MacAddress       string                    `json:",omitempty"`
	HostConfig       *container.HostConfig     `json:",omitempty"`
	NetworkingConfig *network.NetworkingConfig `json:",omitempty"`
}

// createWithMAC creates a container whose config sets MacAddress: on the
// primary endpoint for engines that take it there, in the config for the
// others.
func (e *Engine) createWithMAC(ctx context.Context, cfg engine.ContainerConfig, opts client.ContainerCreateOptions) (string, error) {
	mac, err := net.ParseMAC(cfg.MacAddress)
	if err != nil {
		return "", fmt.Errorf("mac address %q: %w", cfg.MacAddress, err)
	}
	// Negotiate first: ClientVersion is the engine's only after that.
	if _, err := e.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return "", err
	}
	v := e.c.ClientVersion()
	if !versions.LessThan(v, macPerEndpoint) {
		mode := networkMode(cfg)
		if mode == "" {
			mode = "bridge"
		}
		nc := opts.NetworkingConfig
		if nc == nil {
			nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
		}
		ep := nc.EndpointsConfig[mode]
		if ep == nil {
			ep = &network.EndpointSettings{}
			nc.EndpointsConfig[mode] = ep
		}
		ep.MacAddress = network.HardwareAddr(mac)
		opts.NetworkingConfig = nc
		res, err := e.c.ContainerCreate(ctx, opts)
		return res.ID, err
	}
	return e.createLegacy(ctx, v, legacyCreateRequest{Config: opts.Config, MacAddress: mac.String(), HostConfig: opts.HostConfig, NetworkingConfig: opts.NetworkingConfig}, opts.Name)
}

// createLegacy sends req, at API version v, over the client's connection.
func (e *Engine) createLegacy(ctx context.Context, v string, req legacyCreateRequest, name string) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	dial := e.c.Dialer()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	defer tr.CloseIdleConnections()
	u := "http://docker/v" + strings.TrimPrefix(v, "v") + "/containers/create?" + url.Values{"name": {name}}.Encode()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(hr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", engineError(resp.StatusCode, b)
	}
	var out container.CreateResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("the engine's answer: %w", err)
	}
	return out.ID, nil
}

// engineError is the daemon's error answer as the client library gives
// it: its message, classed by status as wrap expects.
func engineError(status int, body []byte) error {
	var m struct{ Message string }
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	msg = fmt.Sprintf("Error response from daemon: %s", msg)
	switch status {
	case http.StatusNotFound:
		return cerrdefs.ErrNotFound.WithMessage(msg)
	case http.StatusConflict:
		return cerrdefs.ErrConflict.WithMessage(msg)
	case http.StatusBadRequest:
		return cerrdefs.ErrInvalidArgument.WithMessage(msg)
	}
	return errors.New(msg)
}

// primaryMAC is the MAC address of a container's endpoint on its primary
// network, as the engine reports it (while the container runs).
func primaryMAC(r container.InspectResponse) string {
	if r.HostConfig == nil || r.NetworkSettings == nil {
		return ""
	}
	mode := string(r.HostConfig.NetworkMode)
	if mode == "default" || mode == "" {
		mode = "bridge"
	}
	if ep := r.NetworkSettings.Networks[mode]; ep != nil && len(ep.MacAddress) > 0 {
		return ep.MacAddress.String()
	}
	return ""
}
