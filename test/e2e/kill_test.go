package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// The module killed mid-install through the real client: v1 installed and
// committed; while v2 installs, the module's process group is SIGKILLed at
// an event of the engine: when v2's container is created (the moment the
// old container's stop is about to begin), or when v1 gets its stop signal
// (the stop surely under way). v1 ignores its stop signal, as an app that
// takes its time to shut down, so that stop lasts the whole stop timeout and
// outlives the killed module. The client then takes its own failure path
// (ArtifactRollback, ArtifactFailure, Cleanup); once the engine has
// settled, v1 must run again, the same container, and no v2 container may
// be left.
func TestKilledWhileInstalling(t *testing.T) { eachClient(t, testKilledWhileInstalling) }

func testKilledWhileInstalling(t *testing.T, cl client) {
	fixture.Need(t, have("docker"), "the docker CLI (docker events)")
	// Each moment is a filter of docker events, given v1's container ID;
	// its first term names the event.
	moments := []struct {
		name   string
		filter func(v1 string) []string
	}{
		{"at-v2-create", func(string) []string {
			return []string{"event=create", "label=" + module.LabelArtifact + "=kill-v2"}
		}},
		{"at-v1-stop", func(v1 string) []string {
			return []string{"event=kill", "container=" + v1}
		}},
	}
	for _, m := range moments {
		t.Run(m.name, func(t *testing.T) { killWhileInstalling(t, cl, m.filter) })
	}
}

func killWhileInstalling(t *testing.T, cl client, filter func(v1 string) []string) {
	const stopTimeout = 2 * time.Second
	s := newSandbox(t, cl, "", map[string]any{"stop_timeout": stopTimeout.String()})
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"v1", "v2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/kill", v, fixture.Image{Version: v}))
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, tag string) string {
		// SIGWINCH is ignored by the test program (PID 1 of its container):
		// the engine kills it only when the stop timeout runs out.
		return s.generate(name, "--app", s.app, "--health-window", "1s",
			"--service", "web="+reg.Addr+"/e2e/kill:"+tag+",--network none --restart always --stop-signal SIGWINCH")
	}
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	v2 := gen("kill-v2", "v2")

	out, err := s.mender("install", gen("kill-v1", "v1"))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	atV1 := mine()
	require.Len(t, atV1, 1)
	require.True(t, atV1[0].Running)

	moment := filter(atV1[0].ID)
	log, killed := killAtEvent(t, s, []string{"install", v2}, "ArtifactInstall", moment, strings.TrimPrefix(moment[0], "event="))

	// The engine goes on stopping v1 after the module is gone; judge the
	// end state only once that stop has run its course.
	time.Sleep(time.Until(killed.Add(stopTimeout + time.Second)))
	settled := func() bool { m := mine(); return len(m) == 1 && m[0] == atV1[0] }
	assert.Eventually(t, settled, 30*time.Second, 100*time.Millisecond)
	assert.Equal(t, atV1, mine(), "v1 runs again, the same container, and no v2 container is left; the client said:\n%s", log)
	assert.Equal(t, "kill-v1", s.showArtifact())
}

// killAtEvent runs the client with cmd and SIGKILLs the process group of
// its module in state (or the module alone, if it shares the client's) at
// the first engine event that filter selects and whose action is action.
// It returns once the client has ended, with all it printed and the time
// of the kill; the command must have failed.
func killAtEvent(t *testing.T, s *sandbox, cmd []string, state string, filter []string, action string) (string, time.Time) {
	t.Helper()
	// --since replays what happened after this instant, so no event is
	// missed however late docker events subscribes.
	since := fmt.Sprintf("%.3f", float64(time.Now().UnixNano())/1e9)
	args := []string{"events", "--since", since, "--format", "{{.ID}} {{.Action}}", "--filter", "type=container"}
	for _, f := range filter {
		args = append(args, "--filter", f)
	}
	events := exec.Command("docker", args...)
	pipe, err := events.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, events.Start())
	defer func() { events.Process.Kill(); events.Wait() }()
	seen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			if _, a, _ := strings.Cut(sc.Text(), " "); a == action {
				seen <- sc.Text()
				return
			}
		}
	}()

	install := s.command(cmd...)
	var log bytes.Buffer
	install.Stdout, install.Stderr = &log, &log
	require.NoError(t, install.Start())
	done := make(chan error, 1)
	go func() { done <- install.Wait() }()

	var killed time.Time
	select {
	case ev := <-seen:
		pid, pgid, err := findModule(install.Process.Pid, state)
		require.NoError(t, err)
		require.NotEqual(t, syscall.Getpgrp(), pgid, "never kill the test's own group")
		if pgid == pid {
			require.NoError(t, syscall.Kill(-pgid, syscall.SIGKILL))
		} else {
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
		killed = time.Now()
		t.Logf("event %.12s %s: killed the module (pid %d, process group %d, own group %v)", ev, ev[strings.IndexByte(ev, ' ')+1:], pid, pgid, pgid == pid)
	case err := <-done:
		t.Fatalf("the install ended (%v) before the event:\n%s", err, log.String())
	case <-time.After(time.Minute):
		t.Fatalf("no event within a minute:\n%s", log.String())
	}
	err = <-done
	require.Error(t, err, "the command must fail once its module is killed:\n%s", log.String())
	return log.String(), killed
}

// findModule finds the process of the module that the client process
// client runs for state, and its process group. It waits a little for it,
// since the client may only be starting it.
func findModule(client int, state string) (pid, pgid int, err error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		dirs, err := os.ReadDir("/proc")
		if err != nil {
			return 0, 0, err
		}
		for _, d := range dirs {
			p, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
			if err != nil {
				continue
			}
			argv := strings.Split(string(b), "\x00")
			if len(argv) < 2 || filepath.Base(argv[0]) != payloadType || argv[1] != state || !descends(p, client) {
				continue
			}
			if _, pgid, err = parentAndGroup(p); err == nil {
				return p, pgid, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no %s process for %s under the client (pid %d)", payloadType, state, client)
}

// descends tells whether process pid is a descendant of process ancestor.
func descends(pid, ancestor int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		ppid, _, err := parentAndGroup(pid)
		if err != nil {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

// parentAndGroup reads a process's parent and process group from
// /proc/PID/stat: "pid (comm) state ppid pgrp ...", where comm may hold
// spaces and parentheses.
func parentAndGroup(pid int) (ppid, pgid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, err
	}
	pgid, err = strconv.Atoi(f[2])
	return ppid, pgid, err
}
