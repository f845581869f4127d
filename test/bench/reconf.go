package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// benchReconfigure measures, in one run on the same engine and app (web,
// which reads the parameter SITE, beside db, which does not), the
// downtime of a plain update of web (a new image, through the protocol
// states) and of a reconfiguration of web (a changed SITE, `mender-docker
// reconfigure`), each from the engine's events as for the updates table.
// db is kept by both.
func benchReconfigure(eng *engineCtl, reg *fixture.Registry, work, ours string) error {
	var refs []string
	for v := 0; v <= *updates; v++ {
		ref, err := fixture.Push(reg.Addr, "bench/reconf", fmt.Sprintf("v%d", v), fixture.Image{Version: fmt.Sprintf("r%d", v)})
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	db, err := fixture.Push(reg.Addr, "bench/reconf-db", "v0", fixture.Image{Version: "db"})
	if err != nil {
		return err
	}
	r := reconfBench{eng: eng, work: work, ours: ours, db: db, params: filepath.Join(work, "reconf-params")}
	if err := os.MkdirAll(r.params, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(work, "conf-reconf.json")
	os.WriteFile(conf, []byte(fmt.Sprintf(`{"state_dir": %q, "params_dir": %q, "health_window": %q, "min_free_mb": 0}`,
		filepath.Join(work, "state-reconf"), r.params, window.String())), 0o644)
	r.env = append(os.Environ(), "DOCKER_HOST=unix://"+eng.sock, "MENDER_DOCKER_CONF="+conf)
	defer eng.reset()
	if err := r.setSite("site-0"); err != nil {
		return err
	}
	if _, err := r.update(refs[0], 0); err != nil {
		return err
	}
	var updates, reconfs []time.Duration
	for i := 1; i < len(refs); i++ {
		d, err := r.update(refs[i], i)
		if err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
		updates = append(updates, d)
		if err := r.setSite(fmt.Sprintf("site-%d", i)); err != nil {
			return err
		}
		t0 := time.Now()
		if out, err := r.cmd("reconfigure").CombinedOutput(); err != nil {
			return fmt.Errorf("reconfigure %d: %v: %s", i, err, out)
		}
		d, err = eng.downtime(t0, time.Now())
		if err != nil {
			return fmt.Errorf("reconfigure %d: %w", i, err)
		}
		reconfs = append(reconfs, d)
	}
	fmt.Println()
	fmt.Println("reconfiguration (ours; one of two services changes, the other is kept), same run and app:")
	fmt.Printf("  %-34s %s (%s)\n", "plain update, downtime median (max)", ms(median(updates)), ms(maxOf(updates)))
	fmt.Printf("  %-34s %s (%s)\n", "reconfigure, downtime median (max)", ms(median(reconfs)), ms(maxOf(reconfs)))
	return nil
}

type reconfBench struct {
	eng                    *engineCtl
	work, ours, db, params string
	env                    []string
}

func (r reconfBench) setSite(site string) error {
	return os.WriteFile(filepath.Join(r.params, "default.json"), []byte(fmt.Sprintf(`{"SITE":%q}`, site)), 0o644)
}

func (r reconfBench) cmd(args ...string) *exec.Cmd {
	c := exec.Command(r.ours, args...)
	c.Env = r.env
	return c
}

// update deploys web at ref (db unchanged) through the protocol states,
// committed, and returns its downtime (none for the first install).
func (r reconfBench) update(ref string, i int) (time.Duration, error) {
	files := filepath.Join(r.work, "files-reconf")
	os.RemoveAll(files)
	os.MkdirAll(filepath.Join(files, "header"), 0o755)
	os.MkdirAll(filepath.Join(files, "tmp"), 0o755)
	meta := fmt.Sprintf(`{"params":{"SITE":"x"},"services":[{"name":"web","image":%q,"run_args":"--network none -e SITE=${SITE}"},`+
		`{"name":"db","image":%q,"run_args":"--network none"}]}`, ref, r.db)
	os.WriteFile(filepath.Join(files, "header", "meta-data"), []byte(meta), 0o644)
	os.WriteFile(filepath.Join(files, "header", "artifact_name"), []byte(fmt.Sprintf("reconf-%d", i)), 0o644)
	t0 := time.Now()
	for _, st := range []string{"Download", "ArtifactInstall", "ArtifactCommit", "Cleanup"} {
		c := r.cmd(st, files)
		c.Dir = files
		if out, err := c.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %v: %s", st, err, out)
		}
	}
	if i == 0 {
		return 0, nil
	}
	return r.eng.downtime(t0, time.Now())
}
