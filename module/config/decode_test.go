package config

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Blanking comments keeps every offset and every line of the file, and
// changes nothing of a JSON document that has no comment.
func FuzzStripComments(f *testing.F) {
	f.Add([]byte("{\"a\": \"//x\" // c\n/* d\n*/ }"))
	f.Add([]byte(`{"a\"//": 1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := stripComments(in)
		if err != nil {
			return
		}
		if len(out) != len(in) {
			t.Fatalf("length %d, want %d", len(out), len(in))
		}
		for i := range in {
			if (in[i] == '\n') != (out[i] == '\n') {
				t.Fatalf("newline moved at %d", i)
			}
		}
		if json.Valid(in) && !bytes.Equal(in, out) {
			t.Fatalf("valid JSON changed: %q -> %q", in, out)
		}
	})
}
