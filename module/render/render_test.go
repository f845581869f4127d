package render_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/render"
)

func data() map[string]any {
	return map[string]any{
		"site":       "oslo",
		"quote":      `it's "x"`,
		"port":       json.Number("8080"),
		"ratio":      1.5,
		"on":         true,
		"empty":      "",
		"null":       nil,
		"hosts":      []any{"a", "b", json.Number("3")},
		"db":         map[string]any{"host": "db.local", "port": json.Number("5432")},
		"csv":        "x,y",
		"b64":        "aGVsbG8=",
		"empty_list": []any{},
	}
}

func TestFunctions(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{`{{ .site }}`, "oslo"},
		{`{{ .db.host }}:{{ .db.port }}`, "db.local:5432"},
		{`{{ .missing | default "x" }}`, "x"},
		{`{{ default "x" .missing }}`, "x"},
		{`{{ .db.missing | default 7 }}`, "7"},
		{`{{ .nothing.deeper | default "d" }}`, "d"},
		{`{{ .empty | default "e" }}`, "e"},
		{`{{ .null | default "n" }}`, "n"},
		{`{{ .site | default "x" }}`, "oslo"},
		{`{{ .on | default false }}`, "true"},
		{`{{ required "need it" .site }}`, "oslo"},
		{`{{ json .quote }}`, `"it's \"x\""`},
		{`{{ json .hosts }}`, `["a","b",3]`},
		{`{{ json .db }}`, `{"host":"db.local","port":5432}`},
		{`{{ yaml .quote }}`, `"it's \"x\""`},
		{`{{ shell .quote }}`, `'it'\''s "x"'`},
		{`{{ ini .quote }}`, `"it's \"x\""`},
		{`{{ join "," .hosts }}`, "a,b,3"},
		{`{{ range split "," .csv }}[{{ . }}]{{ end }}`, "[x][y]"},
		{`{{ upper .site }} {{ lower "AB" }} [{{ trim "  t " }}]`, "OSLO ab [t]"},
		{`{{ replace "o" "0" .site }}`, "0sl0"},
		{`{{ b64enc .site }} {{ b64dec .b64 }}`, "b3Nsbw== hello"},
		{`{{ toString .port }} {{ toString .ratio }} {{ toString .on }}`, "8080 1.5 true"},
		{`{{ if hasKey .db "port" }}yes{{ end }}{{ if hasKey .db "nope" }}no{{ end }}`, "yes"},
		{`{{ range .hosts }}{{ . }};{{ end }}`, "a;b;3;"},
		{`{{ with .db }}{{ .host }}{{ end }}`, "db.local"},
		{`{{ with .db }}{{ .user | default "app" }}{{ end }}`, "app"},
		{`{{ if eq .site "oslo" }}a{{ else if eq .site "x" }}b{{ else }}c{{ end }}`, "a"},
		{`{{ if and .on (not .empty) }}y{{ end }}{{ if or .empty .null }}n{{ end }}`, "y"},
		{`{{ if gt .port 80 }}hi{{ end }}{{ if lt .db.port 10 }}lo{{ end }}`, "hi"},
		{`{{ len .hosts }} {{ index .hosts 1 }} {{ index .db "host" }}`, "3 b db.local"},
		{`{{ printf "%s:%d" .site 7 }} {{ print .site 1 }}`, "oslo:7 oslo1"},
		{`{{ range $i, $h := .hosts }}{{ $i }}={{ $h }};{{ end }}`, "0=a;1=b;2=3;"},
		{`{{ range $k, $v := .db }}{{ $k }}={{ $v }};{{ end }}`, "host=db.local;port=5432;"},
		{`{{ range .hosts }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}`, "a"},
		{`{{ range .hosts }}{{ if eq . "a" }}{{ continue }}{{ end }}{{ . }}{{ end }}`, "b3"},
		{`{{ range .empty_list }}x{{ else }}none{{ end }}`, "none"},
		{`{{ $x := .site }}{{ with .db }}{{ $x }}/{{ .host }}/{{ $.site }}{{ end }}`, "oslo/db.local/oslo"},
		{`{{ $x := 1 }}{{ $x = 2 }}{{ $x }}`, "2"},
		{`{{/* a comment */}}{{- " trimmed " -}}`, " trimmed "},
	} {
		out, _, err := render.Render("t.tmpl", []byte(c.tmpl), data(), nil)
		if assert.NoError(t, err, c.tmpl) {
			assert.Equal(t, c.want, string(out), c.tmpl)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{"ok\n{{ .site ", "t.tmpl:2:"},
		{"a\nb\n{{ env \"HOME\" }}", `t.tmpl:3: function "env" not defined`},
		{`{{ template "other" }}`, `t.tmpl:1: {{template "other"}} is not allowed`},
		{`{{ define "x" }}y{{ end }}`, "{{define}} and {{block}} are not allowed"},
		{"\xff\xfe", "not UTF-8"},
		{strings.Repeat("a", render.MaxTemplateBytes+1), "larger than"},
	} {
		err := render.Check("t.tmpl", []byte(c.tmpl))
		require.Error(t, err, c.tmpl)
		assert.True(t, errors.Is(err, render.ErrTemplate))
		assert.Contains(t, err.Error(), c.want)
		assert.NotContains(t, err.Error(), "\n")
	}
}

func TestMissingAttribute(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{"a\nb={{ .not_set }}\n", "t.tmpl:2: attribute .not_set is not set"},
		{"{{ .db.user }}", "t.tmpl:1: attribute .db.user is not set"},
		{"x\n{{ with .db }}\n{{ .user }}{{ end }}", "t.tmpl:3: attribute .user is not set"},
		{`{{ required "db.user is needed" .db.user }}`, "attribute .db.user is not set"},
	} {
		_, _, err := render.Render("t.tmpl", []byte(c.tmpl), data(), nil)
		require.Error(t, err, c.tmpl)
		assert.True(t, errors.Is(err, render.ErrTemplate))
		assert.Contains(t, err.Error(), c.want)
	}
	_, _, err := render.Render("t.tmpl", []byte(`{{ required "set db.user" .empty }}`), data(), nil)
	assert.ErrorContains(t, err, "set db.user")
}

func TestSecrets(t *testing.T) {
	d := data()
	d["token"] = "s3cr3t-value"
	out, secret, err := render.Render("t.tmpl", []byte("t={{ .token }}"), d, []string{"s3cr3t-value"})
	require.NoError(t, err)
	assert.True(t, secret)
	assert.Equal(t, "t=s3cr3t-value", string(out))
	_, secret, err = render.Render("t.tmpl", []byte("s={{ .site }}"), d, []string{"s3cr3t-value"})
	require.NoError(t, err)
	assert.False(t, secret)
	// An error that would quote the secret does not.
	_, _, err = render.Render("t.tmpl", []byte(`{{ b64dec .token }}{{ index .token 99 }}`), d, []string{"s3cr3t-value"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
	_, _, err = render.Render("t.tmpl", []byte(`{{ required .token .missing }}`), d, []string{"s3cr3t-value"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-value")
}

func TestOutputLimit(t *testing.T) {
	d := map[string]any{"big": strings.Repeat("x", 1<<20)}
	_, _, err := render.Render("t.tmpl", []byte("{{ .big }}{{ .big }}{{ .big }}{{ .big }}{{ .big }}"), d, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "renders more than")
}

func TestPrintfWidth(t *testing.T) {
	_, _, err := render.Render("t.tmpl", []byte(`{{ printf "%999999999d" 1 }}`), data(), nil)
	assert.ErrorContains(t, err, "width or precision over 9999")
	_, _, err = render.Render("t.tmpl", []byte(`{{ printf "%.99999f" 1.0 }}`), data(), nil)
	assert.ErrorContains(t, err, "width or precision over 9999")
	out, _, err := render.Render("t.tmpl", []byte(`{{ printf "%5d|%.2f" 7 1.5 }}`), data(), nil)
	require.NoError(t, err)
	assert.Equal(t, "    7|1.50", string(out))
}

func TestStepLimit(t *testing.T) {
	l := make([]any, 300)
	d := map[string]any{"l": l}
	_, _, err := render.Render("t.tmpl", []byte("{{ range .l }}{{ range $.l }}{{ range $.l }}{{ end }}{{ end }}{{ end }}"), d, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.tmpl:1: takes more than")
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"{{ .site }}", "{{ .x | default 1 }}", "{{ range .hosts }}{{.}}{{end}}", "{{", "{{ template \"a\" }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _, err := render.Render("f.tmpl", []byte(s), data(), []string{"oslo"})
		if err != nil && strings.Contains(err.Error(), "oslo") {
			t.Fatalf("secret in error: %v", err)
		}
	})
}
