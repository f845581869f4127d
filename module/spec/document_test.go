package spec_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/spec"
)

func strp(s string) *string { return &s }

// What the generator writes, module/spec reads back as the same document,
// and validates.
func TestDocumentRoundTrip(t *testing.T) {
	emb := map[string]spec.Embedded{img: {ID: dig, File: "web.tar", Layers: []string{dig}}}
	params := map[string]string{"PORT": "8080", "HTML": "<&>"}
	for name, d := range map[string]spec.Document{
		"shell format":   {Containers: []string{img}, RunArgs: strp("")},
		"shell + extras": {App: "shop", Health: spec.Health{Window: 90 * time.Second}.Doc(), Containers: []string{img}, RunArgs: strp("-p ${PORT}:80"), Embedded: emb, Params: params},
		"services": {App: "shop", Health: spec.Health{Timeout: time.Minute}.Doc(), Services: spec.Services{
			{Name: "web", Image: img, RunArgs: "--network host", Command: []string{"-x", "${PORT}"}},
			{Name: "worker", Image: img},
		}, Embedded: emb, Params: params},
		"graph": {App: "shop", Services: spec.Services{
			{Name: "db", Image: img, RunArgs: "-v data:/var/lib/db", Healthcheck: &spec.HealthcheckDoc{Test: []string{"CMD", "/probe"}, Interval: "1s", Retries: 3},
				Networks: map[string][]string{"back": {"db", "database"}}},
			{Name: "web", Image: img, Entrypoint: []string{"/web"}, Networks: map[string][]string{"back": nil, "front": {"www"}},
				DependsOn: map[string]string{"db": spec.ServiceHealthy}, Files: map[string]string{"/etc/web.conf": "conf/web.conf"}, Update: "hand-over"},
		}, Networks: map[string]spec.NetworkDoc{"back": {Internal: true}, "front": {Internal: true, Labels: map[string]string{"tier": "front"}}},
			Volumes: map[string]spec.VolumeDoc{"data": {}}, Files: &spec.FilesDoc{Archive: "files.tar", Digest: dig}, Params: params},
		"remove":         {App: "shop", Remove: true},
		"remove volumes": {App: "shop", Remove: true, RemoveVolumes: true},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := d.JSON()
			require.NoError(t, err)
			back, err := spec.Decode(out)
			require.NoError(t, err)
			assert.Equal(t, d, *back)
			_, err = spec.Parse(out)
			require.NoError(t, err)
			require.NoError(t, d.Check())
			again, err := back.JSON()
			require.NoError(t, err)
			assert.Equal(t, string(out), string(again))
		})
	}
}

// The written form is fixed: key order, services as an object by name
// (whatever order they were given in), run_args always with containers.
func TestDocumentJSON(t *testing.T) {
	out, err := spec.Document{Containers: []string{img}, RunArgs: strp("")}.JSON()
	require.NoError(t, err)
	assert.Equal(t, `{"containers":["`+img+`"],"run_args":""}`, string(out))
	out, err = spec.Document{App: "a", Health: &spec.HealthDoc{Window: "5s"}, Services: spec.Services{{Name: "w", Image: img}, {Name: "a", Image: img, RunArgs: "-d"}}}.JSON()
	require.NoError(t, err)
	assert.Equal(t, `{"app":"a","health":{"window":"5s"},"services":{"a":{"image":"`+img+`","run_args":"-d"},"w":{"image":"`+img+`"}}}`, string(out))
	emb := map[string]spec.Embedded{img: {ID: dig, File: "web.tar"}}
	out, err = spec.Document{Containers: []string{img}, RunArgs: strp(""), Embedded: emb, Params: map[string]string{"P": "1"}}.JSON()
	require.NoError(t, err)
	assert.Equal(t, `{"containers":["`+img+`"],"run_args":"","embedded":{"`+img+`":{"id":"`+dig+`","file":"web.tar"}},"params":{"P":"1"}}`, string(out))
	_, err = spec.Document{Services: spec.Services{{Name: "a", Image: img}, {Name: "a", Image: img}}}.JSON()
	assert.ErrorIs(t, err, spec.ErrInvalid)
	assert.ErrorContains(t, err, `services: "a" used twice`)
}

// A document's own mistakes are caught by Check, as the device would.
func TestDocumentCheck(t *testing.T) {
	d := spec.Document{Containers: []string{img}, RunArgs: strp("-p ${PORT}:80")}
	assert.NoError(t, d.Check(), "a placeholder without a default gets its value on the device")
	d.Params = map[string]string{"PORT": "x"}
	assert.ErrorContains(t, d.Check(), "run_args: -p:")
	d = spec.Document{Compose: &spec.Compose{Project: "project.tar", Images: []string{img}}}
	assert.ErrorContains(t, d.Check(), "compose: this artifact was made for an earlier release", "the format that ran Docker Compose on the device is refused")
	d = spec.Document{Services: spec.Services{{Name: "web", Image: img, RunArgs: "--rm"}}}
	assert.ErrorContains(t, d.Check(), "services.web.run_args: --rm")
	_, err := spec.Parse([]byte(`{"app":"","containers":["` + img + `"]}`))
	assert.ErrorContains(t, err, `app: ""`, "an empty app is not an absent one")
}

// FuzzDocumentRoundTrip: meta-data the module accepts, written back by
// Document.JSON, is accepted again with the same services (by name),
// images and parameters, and writing is then stable.
func FuzzDocumentRoundTrip(f *testing.F) {
	emb := `"embedded":{"` + img + `":{"id":"` + dig + `","file":"web.tar","layers":["` + dig + `"]}}`
	for _, seed := range []string{
		`{"containers":["` + img + `"],"run_args":"-p 80:80 -e A='b c'"}`,
		`{"app":"x","services":[{"name":"b","image":"` + img + `","run_args":"--restart=always"},{"name":"a","image":"` + img + `","command":["${X}"]}],"health":{"window":"1s"}}`,
		`{"app":"x","services":{"web":{"image":"` + img + `","run_args":"-p ${PORT}:80","command":["--port","${PORT}"]}},"params":{"PORT":"8080"},` + emb + `}`,
		`{"app":"x","remove":true}`,
		graphDoc,
		`{"app":"x","remove":true,"remove_volumes":true}`,
		`{"app":"x","compose":{"project":"project.tar","images":["` + img + `"]},` + emb + `,"params":{"A":"<"}}`,
	} {
		f.Add([]byte(seed))
	}
	opts := spec.ParseOptions{Lookup: func(string) (string, string, bool) { return "1", "test", true }}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := spec.Decode(data)
		if err != nil {
			return
		}
		m1, err := d.Meta(opts)
		if err != nil {
			return
		}
		out, err := d.JSON()
		if err != nil {
			t.Fatalf("accepted meta-data does not write: %v", err)
		}
		d2, err := spec.Decode(out)
		if err != nil {
			t.Fatalf("written meta-data not read back: %v\n%s", err, out)
		}
		m2, err := d2.Meta(opts)
		if err != nil {
			t.Fatalf("written meta-data refused: %v\n%s", err, out)
		}
		again, err := d2.JSON()
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("writing is not stable: %v\n%s\n%s", err, out, again)
		}
		byName := func(a, b spec.Service) int { return strings.Compare(a.Name, b.Name) }
		slices.SortFunc(m1.Services, byName)
		// Empty lists and maps are written as none.
		sameMap := func(a, b any) bool {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			return bytes.Equal(ja, jb) || (reflect.ValueOf(a).Len() == 0 && reflect.ValueOf(b).Len() == 0)
		}
		if !assert.ObjectsAreEqual(m1.Services, m2.Services) || m1.App != m2.App || m1.Health != m2.Health || m1.Remove != m2.Remove ||
			!assert.ObjectsAreEqual(m1.Networks, m2.Networks) || !assert.ObjectsAreEqual(m1.Volumes, m2.Volumes) || !assert.ObjectsAreEqual(m1.Files, m2.Files) || !sameMap(m1.Embedded, m2.Embedded) || !sameMap(m1.Params, m2.Params) {
			t.Fatalf("round trip changed the meta-data:\n%+v\n%+v", m1, m2)
		}
	})
}

// Keys match exactly and once, at every level: encoding/json alone would
// take "APP" for "app" and the last of two "app"s, so that people and tools
// would read other meta-data than the module runs.
func TestDecodeExactKeys(t *testing.T) {
	for _, tc := range []struct{ meta, want string }{
		{`{"app":"a","APP":"b","containers":["` + img + `"]}`, `unknown field "APP" (keys are case-sensitive: did you mean "app"?)`},
		{`{"app":"a","app":"b","containers":["` + img + `"]}`, `duplicate key "app"`},
		{`{"Containers":["` + img + `"]}`, `unknown field "Containers"`},
		{`{"containers":["` + img + `"],"Run_Args":"--privileged"}`, `unknown field "Run_Args"`},
		{`{"services":{"web":{"image":"` + img + `","Run_Args":"--privileged"}}}`, `services.web: unknown field "Run_Args"`},
		{`{"services":[{"name":"web","image":"` + img + `","RUN_ARGS":"--privileged"}]}`, `services[0]: unknown field "RUN_ARGS"`},
		{`{"services":{"web":{"image":"` + img + `"},"web":{"image":"` + img + `","run_args":"--privileged"}}}`, `services: duplicate key "web"`},
		{`{"services":{"web":{"image":"` + img + `","run_args":"","run_args":"--privileged"}}}`, `services.web: duplicate key "run_args"`},
		{`{"health":{"Window":"1s"},"containers":["` + img + `"]}`, `health: unknown field "Window"`},
		{`{"params":{"P":"1","P":"2"},"containers":["` + img + `"]}`, `params: duplicate key "P"`},
		{`{"services":{"web":{"image":"` + img + `","depends_on":{"db":"service_started","db":"service_healthy"}}}}`, `services.web.depends_on: duplicate key "db"`},
		{`{"embedded":{"x":{"ID":"` + dig + `"}},"containers":["` + img + `"]}`, `embedded.x: unknown field "ID"`},
		{`{"networks":{"n":{"Internal":true}},"services":{"web":{"image":"` + img + `"}}}`, `networks.n: unknown field "Internal"`},
	} {
		t.Run(tc.meta, func(t *testing.T) {
			_, err := spec.Decode([]byte(tc.meta))
			require.Error(t, err)
			assert.ErrorIs(t, err, spec.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Parameter names are case-sensitive, so two that differ only in case
	// are two parameters.
	_, err := spec.Decode([]byte(`{"params":{"P":"1","p":"2"},"containers":["` + img + `"]}`))
	require.NoError(t, err)
}

// $$ before { is one literal $ on the device: $${NAME} is the text ${NAME}
// (for the container's own shell), which no parameter of that name
// changes; an odd run of $ ends in a placeholder. Elsewhere $ is as
// written, so meta-data without $${ means what it meant before.
func TestParamEscape(t *testing.T) {
	d := spec.Document{Services: spec.Services{{Name: "a", Image: img,
		RunArgs:     `-e A=$${P} -e B=$$${P} -e C=$$$${P} -e D=a$$b -e E=$${x-y} -e F=${x-y} -e G=$`,
		Command:     []string{"$${P}", "${P}"},
		Healthcheck: &spec.HealthcheckDoc{Test: []string{"CMD-SHELL", `test "$${P}" = in`}},
	}}, Params: map[string]string{"P": "default"}}
	m, err := d.Meta(spec.ParseOptions{Lookup: func(name string) (string, string, bool) { return "device", "device", name == "P" }})
	require.NoError(t, err)
	c := m.Services[0].Config
	assert.Equal(t, []string{"A=${P}", "B=$device", "C=$${P}", "D=a$$b", "E=${x-y}", "F=${x-y}", "G=$"}, c.Env)
	assert.Equal(t, []string{"${P}", "device"}, c.Cmd)
	assert.Equal(t, []string{"CMD-SHELL", `test "${P}" = in`}, c.Healthcheck.Test)
	d = spec.Document{Containers: []string{img}, RunArgs: strp("-e A=${NOPE}")}
	_, err = d.Meta(spec.ParseOptions{})
	assert.ErrorContains(t, err, "${NOPE} has no value", "the message says how to write the text")
	assert.ErrorContains(t, err, "for the text ${NOPE}, write $${NOPE}")
}

// CheckDeclared, the generator's check of a compiled Compose project,
// refuses a placeholder that is not one of params, which Check lets
// through for a device to fill in.
func TestDocumentCheckDeclared(t *testing.T) {
	d := spec.Document{Containers: []string{img}, RunArgs: strp("-e A=${P} -e B=$${Q}"), Params: map[string]string{"P": "1"}}
	assert.NoError(t, d.CheckDeclared())
	d.RunArgs = strp("-e A=${Q}")
	assert.NoError(t, d.Check())
	assert.ErrorContains(t, d.CheckDeclared(), "${Q} has no value")
}
