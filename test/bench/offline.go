package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// benchOffline measures embedded artifacts: their size against `docker
// save | gzip`, a delta's size against the layer that changed, install time
// against pulling from the loopback registry, and the disk an offline
// install uses on the way.
func benchOffline(eng *engineCtl, reg *fixture.Registry, work, module, gen string, pad int64) error {
	// The top layer: 1 MB, as an application layer over a big base.
	top := func(seed int64) string {
		b := make([]byte, 1<<20)
		rand.New(rand.NewSource(seed)).Read(b)
		return string(b)
	}
	v1 := fixture.Image{Version: "off", PadBytes: pad, PadSeed: 42, Top: top(1)}
	v2 := v1
	v2.Top = top(2)
	ref1, err := fixture.Push(reg.Addr, "bench/off", "1", v1)
	if err != nil {
		return err
	}
	if _, err := fixture.Push(reg.Addr, "bench/off", "2", v2); err != nil {
		return err
	}
	dir := filepath.Join(work, "offline")
	os.MkdirAll(dir, 0o755)
	art := func(name string, args ...string) (string, int64, error) {
		out := filepath.Join(dir, name+".mender")
		cmd := exec.Command(gen, append([]string{"-n", name, "-t", "dev", "-o", out, "--embed", "--run-args", "--network none"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", 0, fmt.Errorf("%s: %v: %s", name, err, b)
		}
		st, err := os.Stat(out)
		if err != nil {
			return "", 0, err
		}
		return out, st.Size(), nil
	}
	full1, full1Size, err := art("off-1", reg.Addr+"/bench/off:1")
	if err != nil {
		return err
	}
	_, full2Size, err := art("off-2", reg.Addr+"/bench/off:2")
	if err != nil {
		return err
	}
	_, deltaSize, err := art("off-2-delta", "--delta-from", full1, reg.Addr+"/bench/off:2")
	if err != nil {
		return err
	}
	img2, err := fixture.Build(v2)
	if err != nil {
		return err
	}
	layers, _ := img2.Layers()
	changed, _ := layers[len(layers)-1].Size()

	// docker save | gzip of the same image, from the engine.
	if err := eng.reset(); err != nil {
		return err
	}
	if err := eng.pull(ref1); err != nil {
		return err
	}
	saved, err := eng.saveGzipSize(ref1)
	if err != nil {
		return err
	}
	imageSize, err := eng.imageSize(ref1)
	if err != nil {
		return err
	}

	fmt.Println()
	fmt.Printf("offline artifacts (image: %d MB random layer, the test program, a 1 MB random top layer)\n", pad>>20)
	fmt.Printf("  full artifact (--embed)            %12d bytes   docker save | gzip: %d bytes (%.4fx)\n", full1Size, saved, float64(full1Size)/float64(saved))
	// The same with content that compresses, as real images do.
	text := v1
	text.PadText, text.Version = true, "text"
	textRef, err := fixture.Push(reg.Addr, "bench/off-text", "1", text)
	if err != nil {
		return err
	}
	_, textSize, err := art("off-text", reg.Addr+"/bench/off-text:1")
	if err != nil {
		return err
	}
	if err := eng.pull(textRef); err != nil {
		return err
	}
	textSaved, err := eng.saveGzipSize(textRef)
	if err != nil {
		return err
	}
	fmt.Printf("  same, compressible content         %12d bytes   docker save | gzip: %d bytes (%.4fx)\n", textSize, textSaved, float64(textSize)/float64(textSaved))
	fmt.Printf("  delta, only the top layer changed  %12d bytes   changed layer gzipped: %d bytes (%+.2f%%); full artifact: %d bytes\n", deltaSize, changed, 100*float64(deltaSize-changed)/float64(changed), full2Size)

	// Install time: embedded against pulling, each on an emptied engine.
	timeInstall := func(files string) (time.Duration, int64, int64, error) {
		if err := eng.reset(); err != nil {
			return 0, 0, 0, err
		}
		root := filepath.Join(eng.dir, "data")
		before := diskUsage(root)
		var peak int64
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := diskUsage(root)
				mu.Lock()
				peak = max(peak, u)
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		conf := filepath.Join(work, "conf-offline.json")
		os.WriteFile(conf, []byte(fmt.Sprintf(`{"state_dir": %q, "health_window": "1s", "min_free_mb": 0}`, filepath.Join(work, "state-offline-"+filepath.Base(files)))), 0o644)
		env := append(os.Environ(), "DOCKER_HOST=unix://"+eng.sock, "MENDER_DOCKER_CONF="+conf)
		start := time.Now()
		var after int64
		for _, st := range []string{"Download", "ArtifactInstall", "ArtifactCommit", "Cleanup"} {
			cmd := exec.Command(module, st, files)
			cmd.Env, cmd.Dir = env, files
			if out, err := cmd.CombinedOutput(); err != nil {
				close(stop)
				wg.Wait()
				return 0, 0, 0, fmt.Errorf("%s: %v: %s", st, err, out)
			}
			if st == "Download" {
				// Images in place, nothing running yet: what stays.
				close(stop)
				wg.Wait()
				after = diskUsage(root)
			}
		}
		total := time.Since(start)
		return total, peak - before, after - before, nil
	}
	embeddedFiles := filepath.Join(dir, "files-embedded")
	if _, err := fixture.UnpackArtifact(full1, embeddedFiles); err != nil {
		return err
	}
	if payload, _ := os.ReadDir(filepath.Join(embeddedFiles, "files")); len(payload) == 0 {
		return fmt.Errorf("%s: no payload", full1)
	}
	pulledFiles := filepath.Join(dir, "files-pulled")
	os.MkdirAll(filepath.Join(pulledFiles, "header"), 0o755)
	os.WriteFile(filepath.Join(pulledFiles, "header", "meta-data"), []byte(fmt.Sprintf(`{"containers":[%q],"run_args":"--network none"}`, ref1)), 0o644)
	os.WriteFile(filepath.Join(pulledFiles, "header", "artifact_name"), []byte("pulled"), 0o644)

	tEmb, peakEmb, finalEmb, err := timeInstall(embeddedFiles)
	if err != nil {
		return fmt.Errorf("offline install: %w", err)
	}
	tPull, peakPull, finalPull, err := timeInstall(pulledFiles)
	if err != nil {
		return fmt.Errorf("install from the registry: %w", err)
	}
	fmt.Printf("  install (Download to Cleanup, 1s health window): offline %s, pulling from the loopback registry %s\n", ms(tEmb), ms(tPull))
	fmt.Printf("  disk during Download (engine's data-root, vfs, sampled every 100 ms): image size %.1f MB\n", mb(imageSize))
	fmt.Printf("    offline: peak growth %.1f MB, image in place after %.1f MB: extra on the way %.1f MB (%.2fx the image size)\n", mb(peakEmb), mb(finalEmb), mb(peakEmb-finalEmb), float64(peakEmb-finalEmb)/float64(imageSize))
	fmt.Printf("    pulled:  peak growth %.1f MB, image in place after %.1f MB: extra on the way %.1f MB (%.2fx the image size)\n", mb(peakPull), mb(finalPull), mb(peakPull-finalPull), float64(peakPull-finalPull)/float64(imageSize))
	fmt.Println("    (the offline install reads the payload from files/ here; through the Mender client it is streamed, not stored)")
	return eng.reset()
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// diskUsage is the space the files under root take on disk.
func diskUsage(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

func (e *engineCtl) pull(ref string) error {
	repo, digest, _ := strings.Cut(ref, "@")
	resp, err := e.http.Post("http://docker/images/create?fromImage="+url.QueryEscape(repo)+"&tag="+url.QueryEscape(digest), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"error"`) {
		return fmt.Errorf("pulling %s: %s", ref, b)
	}
	return nil
}

// saveGzipSize is the size of `docker save REF | gzip` (level 6, gzip's
// default).
func (e *engineCtl) saveGzipSize(ref string) (int64, error) {
	resp, err := e.http.Get("http://docker/images/" + url.PathEscape(ref) + "/get")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	cw := &countWriter{}
	zw, _ := gzip.NewWriterLevel(cw, 6)
	if _, err := io.Copy(zw, resp.Body); err != nil {
		return 0, err
	}
	zw.Close()
	return cw.n, nil
}

func (e *engineCtl) imageSize(ref string) (int64, error) {
	var img struct{ Size int64 }
	err := e.getJSON("/images/"+url.PathEscape(ref)+"/json", &img)
	return img.Size, err
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
