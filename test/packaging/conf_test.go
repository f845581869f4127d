package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
)

const exampleConfig = "packaging/files/mender-docker.conf.example"

// The example config the device package installs works as shipped: it is
// the defaults, comments and all; with the lines around its hardened
// policy removed it is a valid hardened config. It names every key.
func TestExampleConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, exampleConfig))
	require.NoError(t, err)
	load := func(text string) config.Config {
		path := filepath.Join(t.TempDir(), "mender-docker.conf")
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		c, err := config.Load(path)
		require.NoError(t, err, "%s", text)
		return c
	}
	shipped := load(string(raw))
	shipped.File = "" // where it was read from, not a key
	assert.Equal(t, config.Default(), shipped, "as shipped: every key at its default")

	var hardened []string
	for _, l := range strings.Split(string(raw), "\n") {
		if s := strings.TrimSpace(l); s != "/*" && s != "*/" {
			hardened = append(hardened, l)
		}
	}
	hard := load(strings.Join(hardened, "\n"))
	assert.True(t, hard.Policy.DenyPrivileged)
	assert.Equal(t, []string{"registry.example.com"}, hard.Policy.AllowedRegistries)

	for _, k := range configKeys() {
		name := k.name[strings.LastIndex(k.name, ".")+1:]
		assert.True(t, strings.Contains(string(raw), `"`+name+`":`), "%s does not show %s", exampleConfig, k.name)
	}
}

// configKey is one key of the device config: its name (policy.x for the
// policy's), its type and its default.
type configKey struct {
	name string
	typ  reflect.Type
	def  reflect.Value
}

// configKeys are the JSON tags of config.Config and config.Policy, found
// by reflection: a key added to the code and not to the docs fails here.
func configKeys() []configKey {
	var out []configKey
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			if f := v.Field(i); f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[config.Duration]() {
				out = append(out, configKey{prefix + tag, f.Type(), f})
				walk(f, prefix+tag+".")
				continue
			}
			out = append(out, configKey{prefix + tag, v.Field(i).Type(), v.Field(i)})
		}
	}
	walk(reflect.ValueOf(config.Default()), "")
	return out
}

// isDefault tells whether doc, a default as the docs write it, is k's.
func (k configKey) isDefault(doc string) error {
	doc = strings.TrimSpace(doc)
	var got any
	var err error
	switch {
	case k.name == "state_dir":
		// It depends on the device: both are named.
		if !strings.Contains(doc, config.DataDir+"/mender-docker") || !strings.Contains(doc, config.LegacyStateDir) {
			return fmt.Errorf("%q does not name both %s/mender-docker and %s", doc, config.DataDir, config.LegacyStateDir)
		}
		return nil
	case k.name == "device_type_file":
		// It depends on the device too.
		if !strings.Contains(doc, config.DataDir+"/mender/device_type") || !strings.Contains(doc, config.MenderDataDir+"/device_type") {
			return fmt.Errorf("%q does not name both %s/mender/device_type and %s/device_type", doc, config.DataDir, config.MenderDataDir)
		}
		return nil
	case k.typ == reflect.TypeFor[config.Duration]():
		var d time.Duration
		d, err = time.ParseDuration(doc)
		got = config.Duration(d)
	case k.typ.Kind() == reflect.Struct:
		if doc != "{}" {
			return fmt.Errorf("%q, want {}", doc)
		}
		return nil
	case k.name == "policy.allowed_log_drivers" || k.name == "policy.allowed_log_opts":
		// Absent means a default list, which the docs spell out.
		want := config.DefaultLogDrivers
		if k.name == "policy.allowed_log_opts" {
			want = config.DefaultLogOpts
		}
		if doc = strings.Trim(doc, `"`); doc != strings.Join(want, ", ") {
			return fmt.Errorf("%q, want %q", doc, strings.Join(want, ", "))
		}
		return nil
	case k.typ.Kind() == reflect.Slice:
		if doc != "[]" || k.def.Len() != 0 {
			return fmt.Errorf("%q, want [] for %v", doc, k.def)
		}
		return nil
	case k.typ.Kind() == reflect.String:
		if u, err := strconv.Unquote(doc); err == nil {
			doc = u
		}
		got = doc
	case k.typ.Kind() == reflect.Bool:
		got, err = strconv.ParseBool(doc)
	case k.typ.Kind() == reflect.Int:
		var n int64
		n, err = strconv.ParseInt(doc, 10, 64)
		got = int(n)
	case k.typ.Kind() == reflect.Int64:
		got, err = strconv.ParseInt(doc, 10, 64)
	default:
		return fmt.Errorf("no rule for %s", k.typ)
	}
	if err != nil {
		return fmt.Errorf("%q: %v", doc, err)
	}
	if !reflect.DeepEqual(got, k.def.Interface()) {
		return fmt.Errorf("documented %q, the default is %v", doc, k.def.Interface())
	}
	return nil
}

// Every key of the device config is in the README's table with its real
// default (the policy's keys in the policy table, all off by default),
// and in the man page with its default.
func TestDocsConfigKeys(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	man, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "files", "mender-docker.8"))
	require.NoError(t, err)
	manText := strings.NewReplacer(`\-`, "-", `\(dq`, `"`, `\e`, `\`).Replace(string(man))
	for _, k := range configKeys() {
		top, sub, isPolicy := strings.Cut(k.name, ".")
		if isPolicy {
			assert.Regexp(t, "(?m)^\\|[^|\n]*`"+regexp.QuoteMeta(sub)+"`[^|\n]*\\|", string(readme), "README's policy table lacks %s", k.name)
		} else {
			m := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(top) + "` \\| ([^|]*) \\|").FindStringSubmatch(string(readme))
			if assert.NotNil(t, m, "README's device configuration table lacks %s", k.name) {
				assert.NoError(t, k.isDefault(strings.ReplaceAll(m[1], "`", "")), "README, %s", k.name)
			}
		}
		m := regexp.MustCompile(`(?m)^\.BR ` + regexp.QuoteMeta(k.name) + ` " \(default " (.*) \)$`).FindStringSubmatch(manText)
		if assert.NotNil(t, m, "the man page lacks %s (as .BR %s \" (default \" VALUE ))", k.name, k.name) {
			assert.NoError(t, k.isDefault(strings.ReplaceAll(m[1], `" or "`, " or ")), "man page, %s", k.name)
		}
	}
}
