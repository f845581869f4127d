package render_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mender-docker/mender-docker/module/render"
)

// hundred are 100 templates of about 2 KB, each reading 20 attributes.
func hundred() ([][]byte, map[string]any) {
	d := map[string]any{}
	for i := 0; i < 20; i++ {
		d[fmt.Sprintf("a%d", i)] = map[string]any{"host": fmt.Sprintf("h%d.local", i), "port": i}
	}
	var out [][]byte
	for n := 0; n < 100; n++ {
		var b strings.Builder
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, "# setting %d of template %d, padded to make the file about two kilobytes long...\n", i, n)
			fmt.Fprintf(&b, "server_%d = {{ .a%d.host }}:{{ .a%d.port }} {{ .a%d.user | default \"app\" }}\n", i, i, i, i)
		}
		out = append(out, []byte(b.String()))
	}
	return out, d
}

// BenchmarkRender100 parses and renders 100 templates per iteration.
func BenchmarkRender100(b *testing.B) {
	tmpls, d := hundred()
	for b.Loop() {
		for i, t := range tmpls {
			if _, _, err := render.Render(fmt.Sprintf("t%d.tmpl", i), t, d, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
