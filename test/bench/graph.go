package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// graphApp is the meta-data of a three-service app as docker-artifact-gen
// compiles a Compose project: db with a health check, web and worker
// waiting for it, all on an internal network, db with a named volume. Only
// web's image changes between versions; strategy is web's update strategy.
func graphApp(db, web, worker, strategy string) string {
	return fmt.Sprintf(`{"app":"bench","networks":{"default":{"internal":true}},"volumes":{"data":{}},"services":{`+
		`"db":{"image":%q,"run_args":"-v data:/data","healthcheck":{"test":["CMD","/testapp","check"],"interval":"1s","retries":30},"networks":{"default":["db"]}},`+
		`"web":{"image":%q,"healthcheck":{"test":["CMD","/testapp","check"],"interval":"500ms","retries":30},"networks":{"default":["web"]},"depends_on":{"db":"service_healthy"},"update":%q},`+
		`"worker":{"image":%q,"networks":{"default":[]},"depends_on":{"db":"service_started"}}}}`, db, web, strategy, worker)
}

// plainApp is one container of web's image, alone: on no network, or on
// an internal network of its own (what a Compose service gets).
func plainApp(web string, network bool) string {
	if !network {
		return fmt.Sprintf(`{"app":"bench","containers":[%q],"run_args":"--network none"}`, web)
	}
	return fmt.Sprintf(`{"app":"bench","networks":{"default":{"internal":true}},"services":{"web":{"image":%q,"networks":{"default":["web"]}}}}`, web)
}

// benchGraph measures the update of one changed service of a three-service
// app (the other two are kept), against a plain single-container update of
// the same images in the same run (on no network, and on a network of its
// own), and with the hand-over strategy how long the new container was
// healthy before the old one stopped.
func benchGraph(eng *engineCtl, reg *fixture.Registry, work, ours string, bigPad int64) error {
	fmt.Println()
	fmt.Println("one changed service: alone, and in a three-service app (network, volume, dependencies; the other two kept), median of", *updates)
	fmt.Printf("  %-7s %-30s %-24s %-12s %s\n", "image", "app", "downtime median (max)", "vs alone", "new healthy before old stopped, median (min)")
	db, err := fixture.Push(reg.Addr, "bench/gdb", "1", fixture.Image{Version: "gdb", Args: []string{"-healthy-after", "500ms"}})
	if err != nil {
		return err
	}
	worker, err := fixture.Push(reg.Addr, "bench/gworker", "1", fixture.Image{Version: "gworker"})
	if err != nil {
		return err
	}
	for _, sz := range []struct {
		name string
		pad  int64
	}{{"1 MB", 0}, {fmt.Sprintf("%d MB", bigPad>>20), bigPad}} {
		var webs []string
		for v := 0; v <= *updates; v++ {
			ref, err := fixture.Push(reg.Addr, "bench/gweb", fmt.Sprintf("v%d-%d", v, sz.pad), fixture.Image{Version: fmt.Sprintf("gweb%d", v), PadBytes: sz.pad, PadSeed: int64(v + 100), Args: []string{"-healthy-after", "300ms"}})
			if err != nil {
				return err
			}
			webs = append(webs, ref)
		}
		alone := map[bool]time.Duration{}
		for _, c := range []struct {
			name    string
			network bool
			meta    func(web string) string
		}{
			{"alone, --network none", false, func(web string) string { return plainApp(web, false) }},
			{"alone, internal network", true, func(web string) string { return plainApp(web, true) }},
			{"graph, recreate", true, func(web string) string { return graphApp(db, web, worker, "recreate") }},
			{"graph, hand-over", true, func(web string) string { return graphApp(db, web, worker, "hand-over") }},
		} {
			var downs, leads []time.Duration
			state := filepath.Join(work, "state-graph")
			os.RemoveAll(state)
			conf := filepath.Join(work, "conf-graph.json")
			os.WriteFile(conf, []byte(fmt.Sprintf(`{"state_dir": %q, "health_window": %q, "min_free_mb": 0}`, state, window.String())), 0o644)
			env := append(os.Environ(), "DOCKER_HOST=unix://"+eng.sock, "MENDER_DOCKER_CONF="+conf)
			for i, web := range webs {
				t0 := time.Now()
				if err := runStates(work, ours, env, fmt.Sprintf("graph-%d", i), c.meta(web)); err != nil {
					return fmt.Errorf("%s, %s: %w", c.name, sz.name, err)
				}
				t1 := time.Now()
				if i == 0 {
					continue
				}
				d, lead, err := eng.handOver(t0, t1)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", c.name, sz.name, err)
				}
				downs, leads = append(downs, d), append(leads, lead)
			}
			vs, lead := "-", "-"
			if strings.HasPrefix(c.name, "alone") {
				alone[c.network] = median(downs)
			} else if a := alone[c.network]; a > 0 {
				vs = fmt.Sprintf("%.2fx", float64(median(downs))/float64(a))
			}
			if strings.HasSuffix(c.name, "hand-over") {
				lead = fmt.Sprintf("%s (%s)", ms(median(leads)), ms(minOf(leads)))
			}
			fmt.Printf("  %-7s %-30s %-24s %-12s %s\n", sz.name, c.name, fmt.Sprintf("%s (%s)", ms(median(downs)), ms(maxOf(downs))), vs, lead)
			if err := eng.reset(); err != nil {
				return err
			}
			if err := eng.removeResources(); err != nil {
				return err
			}
		}
	}
	fmt.Println("  vs alone: against the same service alone on an internal network (starting and stopping a container on a network costs the engine more than on none).")
	fmt.Println("  hand-over: 0 ms when the new container is healthy before the old one stops (engine events), as the last column shows.")
	return nil
}

// runStates runs one deployment of meta through the module's states.
func runStates(work, module string, env []string, name, meta string) error {
	files := filepath.Join(work, "files")
	os.RemoveAll(files)
	os.MkdirAll(filepath.Join(files, "header"), 0o755)
	os.MkdirAll(filepath.Join(files, "tmp"), 0o755)
	os.WriteFile(filepath.Join(files, "header", "meta-data"), []byte(meta), 0o644)
	os.WriteFile(filepath.Join(files, "header", "artifact_name"), []byte(name), 0o644)
	for _, st := range []string{"Download", "ArtifactInstall", "ArtifactCommit", "Cleanup"} {
		cmd := exec.Command(module, st, files)
		cmd.Env, cmd.Dir = env, files
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", st, err, tail(string(out), 1500))
		}
	}
	return nil
}

// handOver reads the engine's events between t0 and t1 for the one
// replaced service: downtime is from the old container's kill (or die) to
// the new one's start, or 0 when the new one was started (and healthy)
// before the old one stopped; lead is how long the new one had been
// healthy when the old one stopped.
func (e *engineCtl) handOver(t0, t1 time.Time) (down, lead time.Duration, err error) {
	evs, created, err := e.events(t0, t1)
	if err != nil {
		return 0, 0, err
	}
	var stop, start, healthy int64
	for _, x := range evs {
		switch {
		case (x.Action == "kill" || x.Action == "die") && !created[x.Actor.ID] && stop == 0:
			stop = x.TimeNano
		case x.Action == "start" && created[x.Actor.ID] && start == 0:
			start = x.TimeNano
		case strings.HasPrefix(x.Action, "health_status: healthy") && created[x.Actor.ID] && healthy == 0:
			healthy = x.TimeNano
		}
	}
	if stop == 0 || start == 0 {
		return 0, 0, fmt.Errorf("no stop/start pair among %d events", len(evs))
	}
	if start > stop {
		down = time.Duration(start - stop)
	}
	if healthy != 0 && healthy < stop {
		lead = time.Duration(stop - healthy)
	}
	return down, lead, nil
}

// removeResources removes the private engine's networks and volumes
// (the default ones stay).
func (e *engineCtl) removeResources() error {
	var nets []struct{ Name string }
	if err := e.getJSON("/networks", &nets); err != nil {
		return err
	}
	for _, n := range nets {
		if n.Name == "host" || n.Name == "none" || n.Name == "bridge" {
			continue
		}
		if err := e.delete("/networks/" + n.Name); err != nil {
			return err
		}
	}
	var vols struct{ Volumes []struct{ Name string } }
	if err := e.getJSON("/volumes", &vols); err != nil {
		return err
	}
	for _, v := range vols.Volumes {
		if err := e.delete("/volumes/" + v.Name); err != nil {
			return err
		}
	}
	return nil
}

func minOf(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}
