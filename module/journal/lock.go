package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const lockFile = ".lock"

// Lock takes the state directory for this process, so that two module
// processes (a deployment state and the boot-time recover, say) never work
// on the journal at once. It waits up to wait for a holder to finish,
// calling waiting once if it has to; unlock releases the lock. The lock is
// the kernel's (flock): a killed holder releases it on exit.
func (s Store) Lock(ctx context.Context, wait time.Duration, waiting func(holder string)) (unlock func(), err error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := checkDir(s.Dir); err != nil {
		return nil, err
	}
	path := filepath.Join(s.Dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	err = WaitFlock(ctx, f, wait, func() {
		if waiting != nil {
			waiting(readHolder(path))
		}
	})
	if errors.Is(err, ErrBusy) {
		f.Close()
		return nil, fmt.Errorf("%w (%s) after waiting %s (lock_timeout): %s", ErrLocked, readHolder(path), wait, path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// Who holds it, for the message of whoever waits next.
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+" "+strings.Join(os.Args, " ")+"\n"), 0)
	return func() {
		f.Truncate(0)
		f.Close() // releases the flock
	}, nil
}

// WaitFlock takes an exclusive flock on f, trying for up to wait and
// calling waiting once if it has to wait. ErrBusy when wait runs out with
// the lock still held by another open file.
func WaitFlock(ctx context.Context, f *os.File, wait time.Duration, waiting func()) error {
	deadline := time.Now().Add(wait)
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if !time.Now().Before(deadline) {
			return ErrBusy
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(100*time.Millisecond, time.Until(deadline)+time.Millisecond)):
		}
	}
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "holder unknown"
	}
	pid, cmd, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if len(cmd) > 120 {
		cmd = cmd[:120]
	}
	return "held by pid " + pid + ": " + cmd
}
