package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/render"
)

// benchRender prints what rendering costs the device in Download: 100
// templates of about 2 KB, each reading 20 attributes (one in five with a
// default), parsed and rendered, 20 times.
func benchRender() error {
	data := map[string]any{}
	for i := 0; i < 20; i++ {
		data[fmt.Sprintf("a%d", i)] = map[string]any{"host": fmt.Sprintf("h%d.local", i), "port": i}
	}
	var tmpls []string
	for n := 0; n < 100; n++ {
		var b strings.Builder
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&b, "# setting %d of template %d, padded so that a file is about two kilobytes long\n", i, n)
			if i%5 == 0 {
				fmt.Fprintf(&b, "s%d = {{ .a%d.user | default \"app\" }}\n", i, i)
			} else {
				fmt.Fprintf(&b, "s%d = {{ .a%d.host }}:{{ .a%d.port }}\n", i, i, i)
			}
		}
		tmpls = append(tmpls, b.String())
	}
	var runs []time.Duration
	for r := 0; r < 20; r++ {
		start := time.Now()
		for i, t := range tmpls {
			if _, _, err := render.Render(fmt.Sprintf("t%d.tmpl", i), []byte(t), data, nil); err != nil {
				return err
			}
		}
		runs = append(runs, time.Since(start))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
	fmt.Printf("\nrendering 100 templates (2 KB, 20 attributes each), parse and execute: median %.1f ms, max %.1f ms of 20 runs\n",
		float64(runs[10].Microseconds())/1000, float64(runs[19].Microseconds())/1000)
	return nil
}
