package dockerapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
)

// The create request that carries a MAC address, by the engine's API
// version, as a stand-in daemon on a unix socket receives it: before 1.44
// in the config (the real 20.10 engine shows it applied: the contract's
// "mac address"), from 1.44 on the primary endpoint, never both; the
// daemon's errors keep their class.
func TestCreateSendsMACByAPIVersion(t *testing.T) {
	for _, tc := range []struct {
		api, path  string
		config, ep string // the MAC in the body's config and primary endpoint
	}{
		{"1.41", "/v1.41/containers/create", "02:42:0a:00:00:07", ""},
		{"1.44", "/v1.44/containers/create", "", "02:42:0a:00:00:07"},
	} {
		t.Run(tc.api, func(t *testing.T) {
			var mu sync.Mutex
			var body []byte
			var path string
			sock := filepath.Join(t.TempDir(), "d.sock")
			l, err := net.Listen("unix", sock)
			require.NoError(t, err)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Api-Version", tc.api)
				if strings.HasSuffix(r.URL.Path, "/_ping") {
					w.Write([]byte("OK"))
					return
				}
				if strings.HasSuffix(r.URL.Path, "/networks/front") {
					json.NewEncoder(w).Encode(map[string]any{"Name": "front", "Id": "abc"})
					return
				}
				if r.URL.Query().Get("name") == "missing" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					w.Write([]byte(`{"message":"No such image: img"}`))
					return
				}
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				body, path = b, r.URL.Path
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				w.Write([]byte(`{"Id":"c0ffee","Warnings":[]}`))
			})}
			go srv.Serve(l)
			t.Cleanup(func() { srv.Close() })
			e, err := dockerapi.New("unix://" + sock)
			require.NoError(t, err)
			defer e.Close()
			id, err := e.CreateContainer(context.Background(), engine.ContainerConfig{Name: "m", Image: "img", MacAddress: "02:42:0a:00:00:07",
				NetworkMode: "front", Networks: []engine.Endpoint{{Network: "front", Aliases: []string{"m"}}}})
			require.NoError(t, err)
			assert.Equal(t, "c0ffee", id)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, tc.path, path)
			var got struct {
				Image, MacAddress string
				NetworkingConfig  struct {
					EndpointsConfig map[string]struct {
						Aliases    []string
						MacAddress string
					}
				}
			}
			require.NoError(t, json.Unmarshal(body, &got), string(body))
			assert.Equal(t, "img", got.Image)
			assert.Equal(t, tc.config, got.MacAddress)
			assert.Equal(t, tc.ep, got.NetworkingConfig.EndpointsConfig["front"].MacAddress)
			assert.Equal(t, []string{"m"}, got.NetworkingConfig.EndpointsConfig["front"].Aliases)

			_, err = e.CreateContainer(context.Background(), engine.ContainerConfig{Name: "missing", Image: "img", MacAddress: "02:42:0a:00:00:07", NetworkMode: "front"})
			assert.ErrorIs(t, err, engine.ErrNotFound)
			assert.ErrorContains(t, err, "creating missing: Error response from daemon: No such image: img")
		})
	}
}
