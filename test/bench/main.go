// Command bench measures the update module side by side with the shell
// docker module from Debian's mender-client package, on the same images
// from the same loopback registry: update downtime (from the engine's
// events: the old container's kill to the new container's start), install
// time, query-state time, binary size and peak RSS; docker-artifact-gen
// against the shell generator: time to write an artifact; and embedded
// (offline) artifacts: size, delta size, install time and disk used.
// Figures are printed, not asserted.
//
// The shell module stops every running container of its engine, so both
// modules run against a private dockerd started here with its own socket,
// data and containerd namespace, removed at the end; the machine's own
// engine and containers are never touched.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/test/fixture"
)

const (
	shellModule = "/usr/share/mender/modules/v3/docker"
	shellGen    = "/usr/share/doc/mender-client/examples/docker-artifact-gen"
)

var (
	updates = flag.Int("updates", 3, "updates measured per module and image size")
	bigMB   = flag.Int("big", 200, "size of the big image in MB")
	window  = flag.Duration("window", 2*time.Second, "our module's health window during the benchmark")
	only    = flag.String("only", "", "run only this part: graph, reconfigure, render")
)

type engineCtl struct {
	dir, sock string
	cmd       *exec.Cmd
	http      *http.Client
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	work, err := os.MkdirTemp("", "mender-docker-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	ours := filepath.Join(work, "docker-go")
	gen := filepath.Join(work, "docker-artifact-gen")
	for bin, pkg := range map[string]string{ours: "./cmd/docker", gen: "./cmd/docker-artifact-gen"} {
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v: %s", pkg, err, out)
		}
	}
	if _, err := os.Stat(shellModule); err != nil {
		return fmt.Errorf("the shell module %s is missing (apt-get install mender-client): %w", shellModule, err)
	}

	eng, err := startEngine(filepath.Join(work, "engine"))
	if err != nil {
		return err
	}
	defer eng.stop()
	reg, err := fixture.StartRegistry("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer reg.Close()

	switch *only {
	case "graph":
		return benchGraph(eng, reg, work, ours, int64(*bigMB)<<20)
	case "reconfigure":
		return benchReconfigure(eng, reg, work, ours)
	case "render":
		return benchRender()
	}
	fi, _ := os.Stat(ours)
	fmt.Printf("module binary (ours, amd64, static, stripped): %.2f MB\n", float64(fi.Size())/1e6)
	fmt.Printf("engine: private dockerd (vfs); registry: %s; health window of ours: %s\n\n", reg.Addr, *window)

	fmt.Println("query states, mean of 20 runs:")
	for _, m := range []struct{ name, path string }{{"shell", shellModule}, {"ours", ours}} {
		for _, q := range []string{"NeedsArtifactReboot", "SupportsRollback"} {
			start := time.Now()
			for i := 0; i < 20; i++ {
				if out, err := exec.Command(m.path, q, work).Output(); err != nil || len(out) == 0 {
					return fmt.Errorf("%s %s: %v", m.name, q, err)
				}
			}
			fmt.Printf("  %-5s %-20s %6.2f ms\n", m.name, q, float64(time.Since(start).Microseconds())/20/1000)
		}
	}

	sizes := []struct {
		name string
		pad  int64
	}{{"1 MB", 0}, {fmt.Sprintf("%d MB", *bigMB), int64(*bigMB) << 20}}
	fmt.Println()
	fmt.Println("updates (each version has a new image: for the big one a new big layer too)")
	fmt.Printf("  %-6s %-7s %-26s %-24s %-24s %s\n", "module", "image", "downtime median (max)", "install median", "of which Download", "peak RSS")
	for _, sz := range sizes {
		// Push 1+updates versions, shared by both modules.
		var refs []string
		for v := 0; v <= *updates; v++ {
			ref, err := fixture.Push(reg.Addr, "bench/app", fmt.Sprintf("v%d-%d", v, sz.pad), fixture.Image{Version: fmt.Sprintf("v%d", v), PadBytes: sz.pad, PadSeed: int64(v + 1)})
			if err != nil {
				return err
			}
			refs = append(refs, ref)
		}
		for _, m := range []struct{ name, path string }{{"shell", shellModule}, {"ours", ours}} {
			res, err := measure(eng, work, m.name, m.path, refs)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", m.name, sz.name, err)
			}
			fmt.Printf("  %-6s %-7s %-26s %-24s %-24s %.1f MB\n", m.name, sz.name,
				fmt.Sprintf("%s (%s)", ms(median(res.downtime)), ms(maxOf(res.downtime))),
				ms(median(res.install)), ms(median(res.download)), float64(res.peakRSSKB)/1024)
			if err := eng.reset(); err != nil {
				return err
			}
		}
	}
	if err := benchReconfigure(eng, reg, work, ours); err != nil {
		return err
	}
	if err := benchRender(); err != nil {
		return err
	}
	if err := benchGraph(eng, reg, work, ours, sizes[1].pad); err != nil {
		return err
	}
	if err := benchGenerators(eng, reg, work, gen, sizes[1].pad); err != nil {
		return err
	}
	if err := benchOffline(eng, reg, work, ours, gen, sizes[1].pad); err != nil {
		return err
	}
	fmt.Printf("\nnotes: install = Download + ArtifactInstall + ArtifactCommit; ours includes its %s health window, the shell module checks nothing.\n", *window)
	fmt.Println("       peak RSS is the largest resident set of the module process tree during an update (for the shell module: sh, docker CLI and jq).")
	return nil
}

// benchGenerators times the shell docker-artifact-gen (docker pull, docker
// inspect, jq, mender-artifact) and ours (registry API only) on the same
// tags, with no local copy of the images.
func benchGenerators(eng *engineCtl, reg *fixture.Registry, work, gen string, bigPad int64) error {
	if _, err := os.Stat(shellGen); err != nil {
		return fmt.Errorf("the shell generator %s is missing: %w", shellGen, err)
	}
	if _, err := fixture.Push(reg.Addr, "bench/gen-small", "1", fixture.Image{Version: "gen-small"}); err != nil {
		return err
	}
	if _, err := fixture.Push(reg.Addr, "bench/gen-big", "1", fixture.Image{Version: "gen-big", PadBytes: bigPad, PadSeed: 99}); err != nil {
		return err
	}
	var five []string
	for i := 0; i < 5; i++ {
		if _, err := fixture.Push(reg.Addr, fmt.Sprintf("bench/gen-five%d", i), "1", fixture.Image{Version: fmt.Sprintf("five%d", i)}); err != nil {
			return err
		}
		five = append(five, fmt.Sprintf("%s/bench/gen-five%d:1", reg.Addr, i))
	}
	cases := []struct {
		name   string
		images []string
	}{
		{"1 MB image", []string{reg.Addr + "/bench/gen-small:1"}},
		{fmt.Sprintf("%d MB image", bigPad>>20), []string{reg.Addr + "/bench/gen-big:1"}},
		{"5 images of 1 MB", five},
	}
	dir := filepath.Join(work, "gen")
	os.MkdirAll(dir, 0o755)
	env := append(os.Environ(), "DOCKER_HOST=unix://"+eng.sock)
	fmt.Println()
	fmt.Println("artifact generation, median of 3 (no local copy of the images before each run)")
	fmt.Printf("  %-18s %12s %12s %10s\n", "images", "shell", "ours", "speed-up")
	for _, c := range cases {
		var times [2][]time.Duration
		for i := 0; i < 3; i++ {
			for k, argv := range [][]string{
				append([]string{"bash", shellGen, "-n", "bench", "-t", "dev", "-o", filepath.Join(dir, "shell.mender")}, c.images...),
				append([]string{gen, "-n", "bench", "-t", "dev", "-o", filepath.Join(dir, "ours.mender")}, c.images...),
			} {
				if err := eng.reset(); err != nil {
					return err
				}
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env, cmd.Dir = env, dir
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%s: %v: %s", argv[0], err, tail(string(out), 800))
				}
				times[k] = append(times[k], time.Since(start))
			}
		}
		sh, us := median(times[0]), median(times[1])
		fmt.Printf("  %-18s %12s %12s %9.0fx\n", c.name, ms(sh), ms(us), float64(sh)/float64(us))
	}
	return nil
}

type result struct {
	downtime, install, download []time.Duration
	peakRSSKB                   int64
}

// measure installs refs[0], then updates to each later ref, committing each.
func measure(eng *engineCtl, work, name, module string, refs []string) (result, error) {
	var res result
	state := filepath.Join(work, "state-"+name)
	conf := filepath.Join(work, "conf-"+name+".json")
	os.WriteFile(conf, []byte(fmt.Sprintf(`{"state_dir": %q, "health_window": %q, "min_free_mb": 0}`, state, window.String())), 0o644)
	env := append(os.Environ(), "DOCKER_HOST=unix://"+eng.sock, "MENDER_DOCKER_CONF="+conf)
	for i, ref := range refs {
		files := filepath.Join(work, "files")
		os.RemoveAll(files)
		os.MkdirAll(filepath.Join(files, "header"), 0o755)
		os.MkdirAll(filepath.Join(files, "tmp"), 0o755)
		os.WriteFile(filepath.Join(files, "header", "meta-data"), []byte(fmt.Sprintf(`{"containers":[%q],"run_args":"--network none"}`, ref)), 0o644)
		os.WriteFile(filepath.Join(files, "header", "artifact_name"), []byte(fmt.Sprintf("bench-%d", i)), 0o644)

		t0 := time.Now()
		var dl time.Duration
		for _, st := range []string{"Download", "ArtifactInstall", "ArtifactCommit", "Cleanup"} {
			s := time.Now()
			// GNU time reports the tree's peak RSS: the kernel's figure
			// for a child of this (large) process would include our own.
			rss := filepath.Join(work, "rss")
			cmd := exec.Command("/usr/bin/time", "-q", "-f", "%M", "-o", rss, module, st, files)
			cmd.Env, cmd.Dir = env, files
			if out, err := cmd.CombinedOutput(); err != nil {
				return res, fmt.Errorf("%s: %v: %s", st, err, out)
			}
			if st == "Download" {
				dl = time.Since(s)
			}
			var kb int64
			if b, err := os.ReadFile(rss); err == nil {
				fmt.Sscan(string(b), &kb)
			}
			res.peakRSSKB = max(res.peakRSSKB, kb)
		}
		t1 := time.Now()
		if i == 0 {
			continue // the first install has nothing to replace
		}
		down, err := eng.downtime(t0, t1)
		if err != nil {
			return res, err
		}
		res.downtime = append(res.downtime, down)
		res.install = append(res.install, t1.Sub(t0))
		res.download = append(res.download, dl)
	}
	return res, nil
}

func startEngine(dir string) (*engineCtl, error) {
	e := &engineCtl{dir: dir, sock: filepath.Join(dir, "docker.sock")}
	for _, d := range []string{"data", "exec"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	e.cmd = exec.Command("dockerd", "--storage-driver=vfs", "--bridge=none", "--iptables=false", "--ip6tables=false",
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", "unix://"+e.sock, "--containerd-namespace", "mender-docker-bench",
		"--containerd-plugins-namespace", "mender-docker-bench-plugins")
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the private dockerd: %w", err)
	}
	e.http = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
	}}}
	for i := 0; i < 120; i++ {
		if resp, err := e.http.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			return e, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	e.stop()
	log, _ := os.ReadFile(filepath.Join(dir, "dockerd.log"))
	return nil, fmt.Errorf("the private dockerd did not start: %s", tail(string(log), 1500))
}

func (e *engineCtl) stop() {
	e.reset()
	if e.cmd.Process != nil {
		e.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

// reset empties the private engine between runs.
func (e *engineCtl) reset() error {
	var cs []struct{ Id string }
	if err := e.getJSON("/containers/json?all=1", &cs); err != nil {
		return err
	}
	for _, c := range cs {
		req, _ := http.NewRequest(http.MethodDelete, "http://docker/containers/"+c.Id+"?force=1", nil)
		if resp, err := e.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	var imgs []struct{ Id string }
	if err := e.getJSON("/images/json", &imgs); err != nil {
		return err
	}
	for _, im := range imgs {
		req, _ := http.NewRequest(http.MethodDelete, "http://docker/images/"+im.Id+"?force=1", nil)
		if resp, err := e.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	return nil
}

func (e *engineCtl) delete(path string) error {
	req, _ := http.NewRequest(http.MethodDelete, "http://docker"+path, nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("DELETE %s: %s", path, resp.Status)
	}
	return nil
}

func (e *engineCtl) getJSON(path string, v any) error {
	resp, err := e.http.Get("http://docker" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// event is one of the engine's container events.
type event struct {
	Action   string
	Actor    struct{ ID string }
	TimeNano int64
}

// events are the engine's container events between t0 and t1 (and a
// second after), with the IDs of the containers created among them.
func (e *engineCtl) events(t0, t1 time.Time) ([]event, map[string]bool, error) {
	q := url.Values{}
	q.Set("since", fmt.Sprintf("%d.%09d", t0.Unix(), t0.Nanosecond()))
	q.Set("until", fmt.Sprintf("%d.%09d", t1.Add(time.Second).Unix(), t1.Nanosecond()))
	q.Set("filters", `{"type":["container"]}`)
	resp, err := e.http.Get("http://docker/events?" + q.Encode())
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var evs []event
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var x event
		if json.Unmarshal(sc.Bytes(), &x) == nil {
			evs = append(evs, x)
		}
	}
	created := map[string]bool{}
	for _, x := range evs {
		if x.Action == "create" {
			created[x.Actor.ID] = true
		}
	}
	return evs, created, sc.Err()
}

// downtime reads the engine's events between t0 and t1: from the first
// kill (or die) of a container that existed before to the first start of
// one created in the window.
func (e *engineCtl) downtime(t0, t1 time.Time) (time.Duration, error) {
	evs, created, err := e.events(t0, t1)
	if err != nil {
		return 0, err
	}
	var stop, start int64
	for _, x := range evs {
		if (x.Action == "kill" || x.Action == "die") && !created[x.Actor.ID] && stop == 0 {
			stop = x.TimeNano
		}
		if x.Action == "start" && created[x.Actor.ID] && stop != 0 && start == 0 {
			start = x.TimeNano
		}
	}
	if stop == 0 || start == 0 {
		return 0, fmt.Errorf("no stop/start pair among %d events", len(evs))
	}
	return time.Duration(start - stop), nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
