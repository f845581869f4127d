package module

import (
	"strconv"
	"sync/atomic"
	"time"
)

// progressEvery is how often long pulls and loads log how far they are,
// unless Updater.ProgressInterval says otherwise.
const progressEvery = 5 * time.Second

// meter counts a transfer's bytes for report; safe to set from
// the transfer's goroutine while the reporter reads.
type meter struct {
	done, total atomic.Int64
}

// report logs what's progress says every interval until stop is
// called: "pulling REF: 12.0 of 48.5 MB (1.2 MB/s)". A transfer shorter
// than one interval logs nothing.
func (images imageStore) report(what string, m *meter) (stop func()) {
	every := images.every
	if every <= 0 {
		every = progressEvery
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		start, last, lastAt := time.Now(), int64(0), time.Now()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				done, total := m.done.Load(), m.total.Load()
				rate := float64(done-last) / now.Sub(lastAt).Seconds() / 1e6
				last, lastAt = done, now
				of := ""
				if total > 0 {
					of = " of " + mb(total)
				}
				images.log.logf("%s: %s%s MB after %s (%.1f MB/s)", what, mb(done), of, now.Sub(start).Round(time.Second), rate)
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func mb(n int64) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64)
}
