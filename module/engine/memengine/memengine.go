// Package memengine is an in-memory engine.Engine for fast tests of the
// update module's state machine. It passes the same contract suite as the
// real Docker adapter (package enginetest), and adds what a real engine
// cannot do on demand: images that crash on start, and a "kill switch"
// that makes every call after the Nth fail, to stand for the module being
// killed at that point.
package memengine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
)

// ErrKilled is returned by every call after the kill point.
var ErrKilled = errors.New("memengine: process killed")

// Behavior says how containers of an image behave once started.
type Behavior struct {
	// Crash: the container exits with code 1 right after starting.
	Crash bool
	// Complete: the container does its job and exits with code 0 right
	// after starting (a one-shot).
	Complete bool
	// Health: "" for no health check, else the status it reports.
	Health string
	// Output is what a container writes each time it starts, one line
	// each (a TTY container's lines end in "\r\n", as on a real engine).
	Output []string
	// Probe is what its health check prints.
	Probe string
}

// Engine is the in-memory engine. The zero value is not usable; call New.
type Engine struct {
	mu         sync.Mutex
	remote     map[string]Behavior // pullable refs
	local      map[string]bool     // present refs
	layers     map[string]bool     // diff IDs of loaded layers
	tags       map[string]string   // image ID by the tags loads gave
	containers map[string]*engine.Container
	configs    map[string]engine.ContainerConfig
	networks   map[string]engine.Network
	volumes    map[string]engine.Volume
	calls      int
	killAt     int // 0: never
	// Down makes every call fail, as an engine that does not answer.
	Down bool
	// Root is what RootDir reports ("" by default: nothing to check).
	Root string
	// NoBridge acts out a Docker engine without a default bridge: a
	// container in the default network mode that was started again after
	// a stop cannot be renamed while it runs ("sandbox … not found").
	NoBridge bool
	// CrashEnv, when set, is an environment entry (NAME=VALUE) that makes
	// a container crash as Behavior.Crash does: a configuration (not an
	// image) that does not work, as a bad reconfiguration gives.
	CrashEnv string
	// StopLag acts out a stop that the engine carries on with after the
	// caller was killed: a StopContainer call refused by the kill switch
	// still stops its container, StopLag engine calls later (unless a
	// later stop of the same container finishes it first).
	StopLag int

	starts  map[string]int    // starts per container
	logs    map[string][]byte // output per container
	pending []pendingStop
}

type pendingStop struct {
	id    string
	after int
}

// New returns an empty engine.
func New() *Engine {
	return &Engine{
		remote:     map[string]Behavior{},
		local:      map[string]bool{},
		layers:     map[string]bool{},
		tags:       map[string]string{},
		containers: map[string]*engine.Container{},
		configs:    map[string]engine.ContainerConfig{},
		networks:   map[string]engine.Network{},
		volumes:    map[string]engine.Volume{},
		starts:     map[string]int{},
		logs:       map[string][]byte{},
	}
}

// AddRemote makes ref pullable, with the given behaviour.
func (e *Engine) AddRemote(ref string, b Behavior) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.remote[ref] = b
}

// RemoveRemote removes ref from the "registry", as if it went away.
func (e *Engine) RemoveRemote(ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.remote, ref)
}

// KillAfter makes every call after the nth fail with ErrKilled (0 = never).
// It also resets the call counter.
func (e *Engine) KillAfter(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls, e.killAt = 0, n
}

// Calls is the number of calls since the last KillAfter.
func (e *Engine) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// Images lists the present image refs, sorted.
func (e *Engine) Images() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for r := range e.local {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Config returns the configuration a container was created with.
func (e *Engine) Config(id string) engine.ContainerConfig {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configs[id]
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *Engine) enter() error {
	e.landStops()
	e.calls++
	if e.killAt > 0 && e.calls > e.killAt {
		return ErrKilled
	}
	if e.Down {
		return errors.New("memengine: engine not answering")
	}
	return nil
}

// landStops carries out the stops in flight whose time has come.
func (e *Engine) landStops() {
	keep := e.pending[:0]
	for _, p := range e.pending {
		if p.after--; p.after > 0 {
			keep = append(keep, p)
			continue
		}
		if c, ok := e.containers[p.id]; ok {
			stop(c)
		}
	}
	e.pending = keep
}

// stop ends a running container as a clean stop does.
func stop(c *engine.Container) {
	if c.State.Running {
		c.State.Running, c.State.Health, c.State.ExitCode = false, "", 0
	}
}

func (e *Engine) find(id string) (*engine.Container, error) {
	if c, ok := e.containers[id]; ok {
		return c, nil
	}
	for _, c := range e.containers {
		if c.Name == id || (len(id) >= 12 && strings.HasPrefix(c.ID, id)) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("container %s: %w", id, engine.ErrNotFound)
}

func (e *Engine) Ping(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enter()
}

func (e *Engine) RootDir(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Root, e.enter()
}

func (e *Engine) HasImage(ctx context.Context, ref string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return false, err
	}
	return e.local[ref], nil
}

// ImageID: a loaded image is its ID (and a tag its load gave names it); a
// pulled reference names an ID made from the reference.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return "", err
	}
	switch id, tagged := e.tags[ref]; {
	case tagged && e.local[id]:
		return id, nil
	case e.local[ref] && strings.HasPrefix(ref, "sha256:"):
		return ref, nil
	case e.local[ref]:
		return PulledID(ref), nil
	}
	for r := range e.local {
		if PulledID(r) == ref {
			return ref, nil
		}
	}
	return "", fmt.Errorf("image %s: %w", ref, engine.ErrNotFound)
}

// PulledID is the ID the engine gives the image it pulls as ref.
func PulledID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (e *Engine) PullImage(ctx context.Context, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if _, ok := e.remote[ref]; !ok {
		return fmt.Errorf("pulling %s: manifest unknown: %w", ref, engine.ErrNotFound)
	}
	e.local[ref] = true
	return nil
}

// LoadImage understands enough of a docker-archive for tests: each image's
// ID is the SHA-256 of its config, and a layer file may be left out only if
// an earlier load brought that layer.
func (e *Engine) LoadImage(ctx context.Context, r io.Reader) error {
	files, err := readArchive(r)
	if err != nil {
		return err
	}
	var manifest []archiveImage
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return fmt.Errorf("loading images: manifest.json: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	for _, m := range manifest {
		if err := e.loadImage(files, m); err != nil {
			return err
		}
	}
	return nil
}

// archiveImage is one entry of a docker-archive's manifest.json.
type archiveImage struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// readArchive reads a whole tar into memory, file name → content.
func readArchive(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("loading images: %w", err)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("loading images: %w", err)
		}
	}
}

// loadImage checks one image's layers against its config's diff IDs, then
// stores the image, its layers and its tags. e.mu is held.
func (e *Engine) loadImage(files map[string][]byte, m archiveImage) error {
	cfg, ok := files[m.Config]
	if !ok {
		return fmt.Errorf("loading images: %s missing", m.Config)
	}
	var c struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	json.Unmarshal(cfg, &c)
	for i, l := range m.Layers {
		if i >= len(c.RootFS.DiffIDs) {
			return fmt.Errorf("loading images: more layers than diff IDs")
		}
		data, have := files[l]
		if !have && !e.layers[c.RootFS.DiffIDs[i]] {
			return fmt.Errorf("loading images: open %s: no such file or directory", l)
		}
		if have && diffID(data) != c.RootFS.DiffIDs[i] {
			return fmt.Errorf("loading images: layer %s: invalid diffID", l)
		}
	}
	for _, d := range c.RootFS.DiffIDs {
		e.layers[d] = true
	}
	sum := sha256.Sum256(cfg)
	id := "sha256:" + hex.EncodeToString(sum[:])
	e.local[id] = true
	for _, tag := range m.RepoTags {
		e.tags[tag] = id
	}
	return nil
}

// diffID is the digest of a layer's uncompressed content.
func diffID(layer []byte) string {
	var r io.Reader = bytes.NewReader(layer)
	if zr, err := gzip.NewReader(r); err == nil {
		r = zr
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "unreadable"
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if !e.local[ref] {
		return fmt.Errorf("image %s: %w", ref, engine.ErrNotFound)
	}
	for _, c := range e.containers {
		if c.Image == ref {
			return fmt.Errorf("image %s is used by container %s: %w", ref, c.Name, engine.ErrConflict)
		}
	}
	delete(e.local, ref)
	maps.DeleteFunc(e.tags, func(_, id string) bool { return id == ref })
	return nil
}

func (e *Engine) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return nil, err
	}
	var out []engine.Container
	for _, c := range e.containers {
		if matches(c.Labels, labels) {
			l := clone(c)
			l.Networks, l.Addresses = nil, nil // InspectContainer only fills them
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		hv, ok := have[k]
		if !ok || (v != "" && hv != v) {
			return false
		}
	}
	return true
}

func clone(c *engine.Container) engine.Container {
	out := *c
	out.Labels = map[string]string{}
	for k, v := range c.Labels {
		out.Labels[k] = v
	}
	if c.Networks != nil {
		out.Networks = map[string][]string{}
		for k, v := range c.Networks {
			out.Networks[k] = append([]string(nil), v...)
		}
	}
	if c.Addresses != nil {
		out.Addresses = map[string][]string{}
		for k, v := range c.Addresses {
			out.Addresses[k] = slices.Clone(v)
		}
	}
	out.Binds = slices.Clone(c.Binds)
	if p := c.State.LastProbe; p != nil {
		cp := *p
		out.State.LastProbe = &cp
	}
	return out
}

func (e *Engine) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return engine.Container{}, err
	}
	c, err := e.find(id)
	if err != nil {
		return engine.Container{}, err
	}
	out := clone(c)
	cfg := e.configs[c.ID]
	out.PidMode, out.IpcMode, out.UTSMode, out.UsernsMode = cfg.PidMode, cfg.IpcMode, cfg.UTSMode, cfg.UsernsMode
	out.NetworkMode = cfg.NetworkMode
	if out.NetworkMode == "" && len(cfg.Networks) > 0 {
		out.NetworkMode = cfg.Networks[0].Network
	}
	if out.State.Running && out.NetworkMode != "none" && out.NetworkMode != "host" {
		out.MacAddress = cfg.MacAddress // the engine's own: none here
	}
	return out, nil
}

func (e *Engine) CreateContainer(ctx context.Context, cfg engine.ContainerConfig) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return "", err
	}
	if !e.local[cfg.Image] {
		return "", fmt.Errorf("creating %s: no such image %s: %w", cfg.Name, cfg.Image, engine.ErrNotFound)
	}
	if cfg.Name != "" {
		if _, err := e.find(cfg.Name); err == nil {
			return "", fmt.Errorf("creating %s: name in use: %w", cfg.Name, engine.ErrConflict)
		}
	}
	nets, addrs, err := e.createEndpoint(cfg)
	if err != nil {
		return "", err
	}
	for _, v := range namedVolumes(cfg) {
		if _, ok := e.volumes[v]; !ok {
			// As Docker does: a volume named in a bind comes into being.
			e.volumes[v] = engine.Volume{Name: v, Driver: "local"}
		}
	}
	id := newID()
	e.containers[id] = newContainer(id, cfg, nets, addrs)
	e.configs[id] = cfg
	return id, nil
}

// createEndpoint is the container's place on the user network of its
// network mode, as Docker creates it: that network's aliases and static
// addresses; nil for the engine's own networks. e.mu is held.
func (e *Engine) createEndpoint(cfg engine.ContainerConfig) (nets, addrs map[string][]string, err error) {
	mode := cfg.NetworkMode
	if mode == "" && len(cfg.Networks) > 0 {
		mode = cfg.Networks[0].Network
	}
	if !engine.UserNetwork(mode) {
		return nil, nil, nil
	}
	if _, ok := e.networks[mode]; !ok {
		return nil, nil, fmt.Errorf("creating %s: network %s: %w", cfg.Name, mode, engine.ErrNotFound)
	}
	var aliases []string
	if len(cfg.Networks) > 0 && cfg.Networks[0].Network == mode {
		aliases = append(aliases, cfg.Networks[0].Aliases...)
		a, err := e.staticAddresses(cfg.Name, cfg.Networks[0])
		if err != nil {
			return nil, nil, err
		}
		if a != nil {
			addrs = map[string][]string{mode: a}
		}
	}
	return map[string][]string{mode: aliases}, addrs, nil
}

// newContainer is what the engine reports of a container created from cfg.
func newContainer(id string, cfg engine.ContainerConfig, nets, addrs map[string][]string) *engine.Container {
	name := cfg.Name
	if name == "" {
		name = "mem_" + id[:8]
	}
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	policy := cfg.RestartPolicy
	if policy == "" {
		policy = "no"
	}
	var binds []engine.Bind
	for _, v := range cfg.Binds {
		if b, ok := engine.HostBind(v); ok {
			binds = append(binds, b)
		}
	}
	return &engine.Container{ID: id, Name: name, Image: cfg.Image, Labels: labels, RestartPolicy: policy, Networks: nets, Addresses: addrs, Binds: binds}
}

func (e *Engine) StartContainer(ctx context.Context, id string) error {
	return e.withContainer(id, func(c *engine.Container) error {
		if c.State.Running {
			return nil
		}
		b := e.remote[c.Image]
		c.State = engine.State{StartedAt: time.Now(), RestartCount: c.State.RestartCount}
		end := "\n"
		if e.configs[c.ID].Tty {
			end = "\r\n"
		}
		for _, l := range b.Output {
			e.logs[c.ID] = append(e.logs[c.ID], l+end...)
		}
		if b.Crash || b.Complete || e.CrashEnv != "" && slices.Contains(e.configs[c.ID].Env, e.CrashEnv) {
			c.State.ExitCode = 1
			if b.Complete {
				c.State.ExitCode = 0
			}
			return nil
		}
		c.State.Running = true
		c.State.Health = b.Health
		if b.Health != "" {
			code := 0
			if b.Health != engine.HealthHealthy {
				code = 1
			}
			c.State.LastProbe = &engine.Probe{End: time.Now(), ExitCode: code, Output: b.Probe}
		}
		e.starts[c.ID]++
		return nil
	})
}

func (e *Engine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	e.mu.Lock()
	if e.StopLag > 0 && e.killAt > 0 && e.calls+1 > e.killAt {
		if c, err := e.find(id); err == nil {
			e.pending = append(e.pending, pendingStop{id: c.ID, after: e.StopLag + 1})
		}
	}
	e.mu.Unlock()
	return e.withContainer(id, func(c *engine.Container) error {
		// A stop waits for one already in flight.
		keep := e.pending[:0]
		for _, p := range e.pending {
			if p.id != c.ID {
				keep = append(keep, p)
			}
		}
		e.pending = keep
		stop(c)
		return nil
	})
}

func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	return e.withContainer(id, func(c *engine.Container) error {
		delete(e.containers, c.ID)
		delete(e.configs, c.ID)
		delete(e.logs, c.ID)
		return nil
	})
}

func (e *Engine) RenameContainer(ctx context.Context, id, name string) error {
	return e.withContainer(id, func(c *engine.Container) error {
		if c.Name == name {
			return nil
		}
		if other, err := e.find(name); err == nil && other != c {
			return fmt.Errorf("renaming %s to %s: name in use: %w", c.Name, name, engine.ErrConflict)
		}
		if nm := e.configs[c.ID].NetworkMode; e.NoBridge && c.State.Running && e.starts[c.ID] > 1 && (nm == "" || nm == "default" || nm == "bridge") {
			// What Docker answers, and how its client classes it.
			return fmt.Errorf("renaming %s to %s: sandbox %s not found: %w", c.Name, name, c.ID, engine.ErrRenameSandbox)
		}
		c.Name = name
		return nil
	})
}

func (e *Engine) ContainerLogs(ctx context.Context, id string, tail int) ([]string, error) {
	var lines []string
	err := e.withContainer(id, func(c *engine.Container) error {
		lines = engine.SplitLines(e.logs[c.ID], tail)
		return nil
	})
	return lines, err
}

// EngineVersion is what Version reports.
const EngineVersion = "0.0.0-memengine"

func (e *Engine) Version(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return "", err
	}
	return EngineVersion, nil
}

// withContainer runs fn on container id under the lock, as one engine call.
func (e *Engine) withContainer(id string, fn func(*engine.Container) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	c, err := e.find(id)
	if err != nil {
		return err
	}
	return fn(c)
}

// Interface check.
var _ engine.Engine = (*Engine)(nil)
