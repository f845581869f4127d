package attributes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/mender-docker/mender-docker/module/spec"
)

// MaxFileBytes bounds every file read as attributes: they are decoded
// whole on a small device.
const MaxFileBytes = 1 << 20

// groupKey is the Mender Configure key that names the device's group
// when the device config names none.
const groupKey = "mender_docker_group"

// layer is one file's (or the artifact's) values, checked.
type layer struct {
	name, source string
	values       map[string]any
	secret       map[string]bool // leaf paths the file marked secret
}

// Load reads the device's layers from src and merges them over a.
func Load(src Sources, a Artifact) (*Set, error) {
	if err := spec.CheckAttributes("attributes", a.Values); err != nil {
		return nil, fmt.Errorf("%w: artifact: %v", ErrInvalid, err)
	}
	layers := []layer{{name: LayerArtifact, source: "artifact", values: a.Values}}
	device, err := deviceLayers(src)
	if err != nil {
		return nil, err
	}
	layers = append(layers, device...)
	for _, f := range src.Local {
		k := kindAttributes
		if f == src.Params {
			k = kindParams
		}
		l, err := readLayer(LayerLocal, f, k)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l...)
	}
	m := &merger{data: map[string]any{}, origins: map[string]Origin{}, secret: a.Secret}
	for _, l := range layers {
		m.merge(m.data, l.values, "", l)
	}
	return m.set(), nil
}

// deviceLayers reads the type, group and device layers, in that order.
func deviceLayers(src Sources) ([]layer, error) {
	mc, err := readLayer(LayerDevice, src.MenderConfigure, kindMenderConfigure)
	if err != nil {
		return nil, err
	}
	group := src.Group
	if group == "" && len(mc) > 0 {
		group, _ = text(mc[0].values[groupKey])
	}
	files, err := dirFiles(src.Dir)
	if err != nil {
		return nil, err
	}
	var typ, grp, dev []layer
	deviceType, err := readDeviceType(src.DeviceTypeFile)
	if err != nil {
		return nil, err
	}
	for _, name := range files {
		path := filepath.Join(src.Dir, name)
		switch {
		case strings.HasPrefix(name, "type-"):
			if deviceType != "" && name == "type-"+deviceType+".json" {
				if typ, err = readLayer(LayerType, path, kindAttributes); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(name, "group-"):
			if group != "" && name == "group-"+group+".json" {
				if grp, err = readLayer(LayerGroup, path, kindAttributes); err != nil {
					return nil, err
				}
			}
		default:
			l, err := readLayer(LayerDevice, path, kindAttributes)
			if err != nil {
				return nil, err
			}
			dev = append(dev, l...)
		}
	}
	out := append(append(append(typ, grp...), dev...), mc...)
	return out, nil
}

// dirFiles are the *.json names in dir, sorted; none for a missing dir.
// Hidden files (editors' temporaries) are skipped.
func dirFiles(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attributes %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// readDeviceType is the NAME of device_type=NAME in Mender's file; ""
// for a missing file.
func readDeviceType(file string) (string, error) {
	data, err := readFile(file)
	if data == nil || err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.TrimSpace(k) != "device_type" {
			continue
		}
		v = strings.TrimSpace(v)
		// It names a file in attributes.d: never one outside it.
		if v == "" || strings.ContainsAny(v, `/\`) || v == "." || v == ".." {
			return "", fmt.Errorf("%w: %s: device_type %q cannot name a file", ErrInvalid, file, v)
		}
		return v, nil
	}
	return "", nil
}

// readFile reads a device file that only root should write: nil for a
// missing one; a symlink, anything but a regular file, or more than
// MaxFileBytes is refused, so that the file read is the file checked.
func readFile(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	fi, err := os.Lstat(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attributes %s: %w", file, err)
	}
	if err := regular(file, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	defer f.Close()
	// Checked again on what was opened: the file may have been replaced.
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("attributes %s: %w", file, err)
	}
	if err := regular(file, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("attributes %s: %w", file, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, file, MaxFileBytes)
	}
	return data, nil
}

func regular(file string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s: is a symlink", ErrInvalid, file)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s: not a regular file", ErrInvalid, file)
	case fi.Size() > MaxFileBytes:
		return fmt.Errorf("%w: %s: larger than %d bytes", ErrInvalid, file, MaxFileBytes)
	}
	return nil
}

// merger folds layers into data, keeping one origin per leaf.
type merger struct {
	data    map[string]any
	origins map[string]Origin
	secret  []string // the artifact's secret paths
}

// merge puts src over dst (at path prefix): objects key by key, anything
// else replaces what was there, with its origins.
func (m *merger) merge(dst, src map[string]any, prefix string, l layer) {
	for k, v := range src {
		p := join(prefix, k)
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			m.merge(dm, sm, p, l)
			continue
		}
		m.drop(p)
		dst[k] = deepCopy(v)
		m.addLeaves(p, v, l)
	}
}

// drop forgets the origins at and below p.
func (m *merger) drop(p string) {
	for q := range m.origins {
		if q == p || strings.HasPrefix(q, p+".") {
			delete(m.origins, q)
		}
	}
}

func (m *merger) addLeaves(p string, v any, l layer) {
	if o, ok := v.(map[string]any); ok {
		for k, x := range o {
			m.addLeaves(join(p, k), x, l)
		}
		return
	}
	m.origins[p] = Origin{Path: p, Layer: l.name, Source: l.source, Secret: l.secret[p] || m.artifactSecret(p)}
}

// artifactSecret tells whether p, or an object above it, is one of the
// artifact's secret paths.
func (m *merger) artifactSecret(p string) bool {
	for _, s := range m.secret {
		if p == s || strings.HasPrefix(p, s+".") {
			return true
		}
	}
	return false
}

func (m *merger) set() *Set {
	s := &Set{data: m.data, byPath: m.origins}
	for _, o := range m.origins {
		s.origins = append(s.origins, o)
	}
	sort.Slice(s.origins, func(i, j int) bool { return s.origins[i].Path < s.origins[j].Path })
	return s
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}
