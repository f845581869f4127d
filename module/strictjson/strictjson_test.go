package strictjson_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/strictjson"
)

type inner struct {
	RunArgs string `json:"run_args,omitempty"`
	Plain   int
	hidden  int //lint:ignore U1000 unexported: never a key, which is what the test shows
	Skip    int `json:"-"`
}

type base struct {
	App  string `json:"app"`
	Deep string `json:"deep"`
}

type doc struct {
	base
	App      *string            `json:"app"` // shadows base.App
	Services map[string]inner   `json:"services"`
	List     []inner            `json:"list"`
	Ptr      *inner             `json:"ptr"`
	Any      any                `json:"any"`
	Raw      json.RawMessage    `json:"raw"`
	Self     selfDecoding       `json:"self"`
	Params   map[string]any     `json:"params"`
	Nested   map[string][]inner `json:"nested"`
}

type selfDecoding struct{}

func (*selfDecoding) UnmarshalJSON([]byte) error { return nil }

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		json string
		want error
		path string
	}{
		{`{"app":"a","deep":"x","services":{"web":{"run_args":"-d","Plain":1}}}`, nil, ""},
		{`{"app":"a","APP":"b"}`, strictjson.ErrUnknownKey, `unknown field "APP" (keys are case-sensitive: did you mean "app"?)`},
		{`{"app":"a","app":"b"}`, strictjson.ErrDuplicateKey, `duplicate key "app"`},
		{`{"services":{"web":{"Run_Args":"x"}}}`, strictjson.ErrUnknownKey, `services.web: unknown field "Run_Args"`},
		{`{"services":{"web":{},"web":{}}}`, strictjson.ErrDuplicateKey, `services: duplicate key "web"`},
		{`{"services":{"web":{"plain":1}}}`, strictjson.ErrUnknownKey, "did you mean \"Plain\""},
		{`{"services":{"web":{"hidden":1}}}`, strictjson.ErrUnknownKey, "hidden"},
		{`{"services":{"web":{"Skip":1}}}`, strictjson.ErrUnknownKey, "Skip"},
		{`{"list":[{},{"run_args":"","run_args":""}]}`, strictjson.ErrDuplicateKey, `list[1]: duplicate key "run_args"`},
		{`{"ptr":{"RUN_ARGS":""}}`, strictjson.ErrUnknownKey, `ptr: unknown field "RUN_ARGS"`},
		{`{"any":{"x":1,"x":2}}`, strictjson.ErrDuplicateKey, `any: duplicate key "x"`},
		{`{"any":{"X":1,"x":2}}`, nil, ""},
		{`{"raw":[{"k":1,"k":1}]}`, strictjson.ErrDuplicateKey, `raw[0]: duplicate key "k"`},
		{`{"self":{"k":1,"k":1}}`, strictjson.ErrDuplicateKey, `self: duplicate key "k"`},
		{`{"self":{"anything":1}}`, nil, ""},
		{`{"params":{"A":"1","a":"2"}}`, nil, ""},
		{`{"params":{"A":"1","A":"2"}}`, strictjson.ErrDuplicateKey, `params: duplicate key "A"`},
		{`{"params":{"a b":{"x":1,"x":2}}}`, strictjson.ErrDuplicateKey, `params["a b"]: duplicate key "x"`},
		{`{"nested":{"n":[{"Run_args":""}]}}`, strictjson.ErrUnknownKey, `nested.n[0]: unknown field "Run_args"`},
		{`{"app":`, nil, ""},               // syntax: the decoder's to report
		{`{"app":"a"} {"APP":1}`, nil, ""}, // only the first value
	} {
		t.Run(tc.json, func(t *testing.T) {
			err := strictjson.Check([]byte(tc.json), &doc{})
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), err)
			assert.Contains(t, err.Error(), tc.path)
		})
	}
}

func TestCheckAnyShape(t *testing.T) {
	require.NoError(t, strictjson.Check([]byte(`{"A":1,"a":[{"b":1},{"b":2}]}`), nil))
	err := strictjson.Check([]byte(`[{"b":1,"b":2}]`), nil)
	assert.ErrorIs(t, err, strictjson.ErrDuplicateKey)
}

// Keys is the rule set a token-by-token decoder calls: the same answers
// as Check, and the field each key goes to.
func TestKeys(t *testing.T) {
	k := strictjson.NewKeys(reflect.TypeFor[*doc]())
	f, err := k.Next("deep")
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1}, f.Index, "promoted from base")
	f, err = k.Next("app")
	require.NoError(t, err)
	assert.Equal(t, []int{1}, f.Index, "the shallower field")
	assert.Equal(t, reflect.TypeFor[*string](), f.Type)
	_, err = k.Next("app")
	assert.ErrorIs(t, err, strictjson.ErrDuplicateKey)
	assert.EqualError(t, err, `duplicate key "app"`)
	_, err = k.Next("Services")
	assert.ErrorIs(t, err, strictjson.ErrUnknownKey)
	assert.EqualError(t, err, `unknown field "Services" (keys are case-sensitive: did you mean "services"?)`)

	m := strictjson.NewKeys(reflect.TypeFor[map[string]inner]())
	f, err = m.Next("Any Key")
	require.NoError(t, err)
	assert.Equal(t, reflect.TypeFor[inner](), f.Type)
	assert.Nil(t, f.Index)
	_, err = m.Next("Any Key")
	assert.ErrorIs(t, err, strictjson.ErrDuplicateKey)
}
