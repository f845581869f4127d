package compose

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mender-docker/mender-docker/module/spec"
)

// compiler holds what compiling one project shares between services.
type compiler struct {
	dir     string
	project *types.Project
	params  map[string]string
	files   *payload
	// templates are x-mender-templates (archive names), true once mounted.
	templates map[string]bool
	// onWarn hears what is ignored that a user may have meant.
	onWarn func(string)
}

func (c *compiler) warn(format string, args ...any) {
	if c.onWarn != nil {
		c.onWarn(shown(fmt.Sprintf(format, args...)))
	}
}

// Inside the compiler a device parameter NAME is paramOpen+NAME+paramClose,
// not ${NAME}: after interpolation ${NAME} is also the text that Compose's
// $${NAME} writes (for the container's own shell), and the two must reach
// the device differently (see deviceWord).
const (
	paramOpen  = "\uE000"
	paramClose = "\uE001"
)

var (
	markerRE = regexp.MustCompile(paramOpen + `([A-Za-z_][A-Za-z0-9_]*)` + paramClose)
	// dollarsRE is a run of $ that the device would read as (part of) an
	// escape or a placeholder: before { or a parameter.
	dollarsRE = regexp.MustCompile(`\$+(?:\{|` + paramOpen + `)`)
)

func marker(name string) string { return paramOpen + name + paramClose }

// shown is s with parameters written ${NAME}, as the user wrote them.
func shown(s string) string { return markerRE.ReplaceAllString(s, "$${$1}") }

// deviceWord is s as the device must read it: in a value the device
// substitutes (a run_args word, command, entrypoint, health check test)
// every literal $ before { is doubled (the device reads $$ there as one
// $), then each parameter becomes ${NAME}.
func deviceWord(s string) string {
	s = dollarsRE.ReplaceAllStringFunc(s, func(m string) string {
		run := strings.TrimRight(m, "{"+paramOpen)
		return run + m
	})
	return shown(s)
}

func deviceWords(ws []string) []string {
	for i, w := range ws {
		ws[i] = deviceWord(w)
	}
	return ws
}

// paramError: p (${NAME}) is where the device substitutes nothing.
func paramError(where, key, p string) error {
	return fmt.Errorf("%s: %s: %s is a device parameter; %w", where, key, p, ErrParamInStructure)
}

// scan finds a placeholder anywhere in v (strings, map keys, nested
// structs and lists): the first one found, or "".
func scan(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		if m := markerRE.FindStringSubmatch(v.String()); m != nil {
			return "${" + m[1] + "}"
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return scan(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				if p := scan(v.Field(i)); p != "" {
					return p
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p := scan(v.Index(i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if p := scan(iter.Key()); p != "" {
				return p
			}
			if p := scan(iter.Value()); p != "" {
				return p
			}
		}
	}
	return ""
}

// fields are the yaml keys of v's non-zero fields (embedded structs
// flattened), with their values; extensions (x-*) are left out.
func fields(v any) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.Anonymous && tag == "" {
				walk(rv.Field(i))
				continue
			}
			if tag == "" || tag == "-" || strings.HasPrefix(tag, "#") || rv.Field(i).IsZero() {
				continue
			}
			out[tag] = rv.Field(i)
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	walk(rv)
	return out
}

// extra refuses the non-zero fields of v other than those named.
func extra(where string, v any, handled ...string) error {
	for _, k := range slices.Sorted(maps.Keys(fields(v))) {
		if !slices.Contains(handled, k) {
			return fmt.Errorf("%s: %s: %w", where, k, ErrUnsupported)
		}
	}
	return nil
}

// explicitName tells whether a top-level resource was given a name of its
// own (the loader names the others <project>_<key>).
func (c *compiler) explicitName(key, name string) bool {
	return name != "" && name != c.project.Name+"_"+key
}

// networks are the top-level networks, "default" included when Compose
// made it (a service with no networks key joins it).
func (c *compiler) networks() (map[string]spec.NetworkDoc, error) {
	if len(c.project.Networks) == 0 {
		return nil, nil
	}
	out := map[string]spec.NetworkDoc{}
	for _, key := range slices.Sorted(maps.Keys(c.project.Networks)) {
		n := c.project.Networks[key]
		where := "networks." + key
		if p := scan(reflect.ValueOf(n)); p != "" {
			return nil, fmt.Errorf("%s: %s is a device parameter; %w", where, p, ErrParamInStructure)
		}
		if bool(n.External) {
			if err := extra(where, n, "name", "external"); err != nil {
				return nil, fmt.Errorf("%w (an external network is used as the device has it: leave out what would create it)", err)
			}
			out[key] = spec.NetworkDoc{External: true, Name: n.Name}
			continue
		}
		switch {
		case c.explicitName(key, n.Name):
			return nil, fmt.Errorf("%s: name: %w: the device names it <app>_%s (for an existing network of that name, add external: true)", where, ErrUnsupported, key)
		case n.Driver != "" && n.Driver != "bridge":
			return nil, fmt.Errorf("%s: driver: %q %w (only the default bridge driver: leave driver out; %s would configure the device's own interfaces)", where, n.Driver, ErrUnsupported, n.Driver)
		case len(n.DriverOpts) > 0:
			return nil, fmt.Errorf("%s: driver_opts: %w: they configure the host's network; leave them out", where, ErrUnsupported)
		}
		if err := extra(where, n, "name", "driver", "internal", "labels", "attachable", "ipam", "enable_ipv4", "enable_ipv6"); err != nil {
			return nil, fmt.Errorf("%w: leave it out (a network takes internal, labels, ipam, enable_ipv6 and attachable)", err)
		}
		doc := spec.NetworkDoc{Internal: n.Internal, Labels: map[string]string(n.Labels)}
		if err := networkIPAM(where, n, &doc); err != nil {
			return nil, err
		}
		out[key] = doc
	}
	return out, nil
}

// volumes are the top-level named volumes: local ones without options.
func (c *compiler) volumes() (map[string]spec.VolumeDoc, error) {
	if len(c.project.Volumes) == 0 {
		return nil, nil
	}
	out := map[string]spec.VolumeDoc{}
	for _, key := range slices.Sorted(maps.Keys(c.project.Volumes)) {
		v := c.project.Volumes[key]
		where := "volumes." + key
		if p := scan(reflect.ValueOf(v)); p != "" {
			return nil, fmt.Errorf("%s: %s is a device parameter; %w", where, p, ErrParamInStructure)
		}
		if bool(v.External) {
			if err := extra(where, v, "name", "external"); err != nil {
				return nil, fmt.Errorf("%w (an external volume is used as the device has it: leave out what would create it)", err)
			}
			out[key] = spec.VolumeDoc{External: true, Name: v.Name}
			continue
		}
		switch {
		case c.explicitName(key, v.Name):
			return nil, fmt.Errorf("%s: name: %w: the device names it <app>_%s, as Compose does (for an existing volume of that name, add external: true)", where, ErrUnsupported, key)
		case len(v.DriverOpts) > 0:
			return nil, fmt.Errorf("%s: driver_opts: %w: options such as o: bind with device: / mount any host path past the device policy", where, ErrUnsupported)
		case v.Driver != "" && v.Driver != "local":
			return nil, fmt.Errorf("%s: driver: %q %w (only the local driver, which the device has)", where, v.Driver, ErrUnsupported)
		}
		if err := extra(where, v, "name", "driver", "labels"); err != nil {
			return nil, err
		}
		out[key] = spec.VolumeDoc{Labels: map[string]string(v.Labels)}
	}
	return out, nil
}
