package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
)

// Defaults of how often progress is shown: a terminal line is redrawn
// often; a log (CI) gets a plain line at a steady, readable pace.
const (
	ttyEvery   = 250 * time.Millisecond
	plainEvery = 5 * time.Second
)

// Verbosity of what goes to stderr besides errors and warnings.
type verbosity int

const (
	quiet   verbosity = iota // -q: nothing
	normal                   // progress of images being fetched
	verbose                  // -v: also each registry request and layer
)

// progress shows how far the steps that take time are (fetching each
// embedded image, compressing the payload, writing the artifact), on
// stderr only: on a terminal, one line per step redrawn in place (\r); in
// a log, a plain line every interval and one when the step is done. It is
// safe for the resolver's parallel requests.
type progress struct {
	w     io.Writer
	tty   bool
	level verbosity
	every time.Duration

	mu      sync.Mutex
	cur     task // step under way, zero for none
	ended   task // step whose last line is shown
	done    int64
	total   int64
	start   time.Time
	last    int64 // done at the previous plain line
	lastAt  time.Time
	drawn   int // width of the terminal line drawn, 0 for none
	stop    chan struct{}
	stopped chan struct{}
}

// task is what a line is about: "embedding REF" while under way,
// "embedded REF" once done.
type task struct{ verb, past, what string }

// isTerminal says whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newProgress starts showing progress on w; interval 0 takes the default
// for a terminal or a log. Close ends it.
func newProgress(w io.Writer, tty bool, level verbosity, interval time.Duration) *progress {
	if interval <= 0 {
		interval = plainEvery
		if tty {
			interval = ttyEvery
		}
	}
	p := &progress{w: w, tty: tty, level: level, every: interval, stop: make(chan struct{}), stopped: make(chan struct{})}
	go p.tick()
	return p
}

func (p *progress) tick() {
	defer close(p.stopped)
	if p.level == quiet {
		return
	}
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.tickAt(now)
		}
	}
}

// tickAt shows how far the step under way is, as each tick does.
func (p *progress) tickAt(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != (task{}) {
		p.show(now)
	}
}

// Bytes implements image.Progress.
func (p *progress) Bytes(ref string, done, total int64) {
	p.step(task{"embedding", "embedded", ref}, done, total)
}

// writeSteps is an artifact.WriteOptions.Progress that shows the steps of
// writing output, compressed with c.
func (p *progress) writeSteps(output string, c artifact.Compression) func(artifact.Step, int64, int64) {
	if c == "" {
		c = artifact.Gzip
	}
	compressing := task{"compressing", "compressed", "the payload (" + string(c) + ")"}
	if c == artifact.None {
		compressing = task{"packing", "packed", "the payload"}
	}
	if output == "-" {
		output = "the artifact to stdout"
	}
	writing := task{"writing", "wrote", output}
	return func(s artifact.Step, done, total int64) {
		if s == artifact.Compressing {
			p.step(compressing, done, total)
		} else {
			p.step(writing, done, total)
		}
	}
}

// Delta implements image.Progress: what a delta left out, or a warning
// that it left out nothing (a delta base that shares no layer is most
// likely the wrong one).
func (p *progress) Delta(ref string, omitted, layers int, saved int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case omitted == 0:
		p.endLine()
		fmt.Fprintf(p.w, "warning: --delta-from: %s shares no layer with the delta bases: all %d layers are embedded\n", ref, layers)
	case p.level > quiet:
		p.endLine()
		fmt.Fprintf(p.w, "delta %s: left out %d of %d layers (%s MB) that the device has from the delta base\n", ref, omitted, layers, mb(saved))
	}
}

// step hears that done of total bytes of t are through.
func (p *progress) step(t task, done, total int64) {
	if p.level == quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t == p.ended && done >= total {
		return // told again that it is done
	}
	now := time.Now()
	if t != p.cur {
		p.endLine()
		p.cur, p.start, p.last, p.lastAt = t, now, 0, now
	}
	p.done, p.total = done, total
	if done < total {
		return
	}
	// Done: the step's last line, with its mean rate.
	secs := now.Sub(p.start).Seconds()
	line := fmt.Sprintf("%s %s: %s MB in %s (%s MB/s)", t.past, t.what, mb(total), now.Sub(p.start).Round(100*time.Millisecond), rate(total, secs))
	if p.tty {
		p.draw(line)
		p.endLine()
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.cur, p.ended = task{}, t
}

// show prints how far the current step is: on a terminal with the mean
// rate since it began (steady to read), in a log with the rate since the
// previous line (a stall shows as 0.0 MB/s).
func (p *progress) show(now time.Time) {
	elapsed := now.Sub(p.start)
	t := p.cur
	if p.tty {
		p.draw(fmt.Sprintf("%s %s: %s of %s MB (%s MB/s)", t.verb, t.what, mb(p.done), mb(p.total), rate(p.done, elapsed.Seconds())))
		return
	}
	fmt.Fprintf(p.w, "%s %s: %s of %s MB after %s (%s MB/s)\n", t.verb, t.what, mb(p.done), mb(p.total), elapsed.Round(time.Second), rate(p.done-p.last, now.Sub(p.lastAt).Seconds()))
	p.last, p.lastAt = p.done, now
}

// draw redraws the terminal line, blanking what is left of a longer one.
func (p *progress) draw(line string) {
	pad := ""
	if n := p.drawn - len(line); n > 0 {
		pad = fmt.Sprintf("%*s", n, "")
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.drawn = len(line)
}

// endLine ends a terminal line drawn in place, so that what follows
// starts on a line of its own.
func (p *progress) endLine() {
	if p.drawn > 0 {
		fmt.Fprintln(p.w)
		p.drawn = 0
	}
}

// Detail implements image.Progress, and traces registry requests: shown
// with -v only.
func (p *progress) Detail(msg string) {
	if p.level < verbose {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	fmt.Fprintln(p.w, msg)
}

// Close stops the ticker and ends a line left drawn (an error follows).
func (p *progress) Close() {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func mb(n int64) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)
}

func rate(n int64, secs float64) string {
	if secs <= 0 {
		return "0.0"
	}
	return strconv.FormatFloat(float64(n)/1e6/secs, 'f', 1, 64)
}
