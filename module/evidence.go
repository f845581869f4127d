package module

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// What a failed health window leaves behind for the operator.
const (
	// evidenceLines is how much of a failed container's own log goes to
	// the deployment log.
	evidenceLines = 20
	// evidenceKeep is how many failed deployments' evidence an app keeps
	// in its state directory.
	evidenceKeep = 5
	// failuresDir is the app's directory of evidence files.
	failuresDir = "failures"
)

// OneLine makes s safe for a line of the deployment log: what a terminal
// would show of each "\r"-overwritten line, lines joined with "; ", ANSI
// escape sequences and other control characters removed, tabs made
// spaces. Engine and container output is not trusted to be either.
func OneLine(s string) string {
	var parts []string
	for _, line := range strings.Split(stripEscapes(s), "\n") {
		line = strings.TrimRight(line, "\r")
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:] // a progress bar's last state
		}
		line = strings.Map(func(r rune) rune {
			switch {
			case r == '\t':
				return ' '
			case unicode.IsControl(r):
				return -1
			}
			return r
		}, line)
		if strings.TrimSpace(line) != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

// stripEscapes removes ANSI escape sequences: CSI (ESC [ … final byte),
// OSC (ESC ] … BEL or ESC \) and two-byte ones.
func stripEscapes(s string) string {
	if !strings.ContainsRune(s, 0x1b) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch s[i+1] {
		case '[':
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
		case ']':
			j := i + 2
			for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
				j++
			}
			if j < len(s) && s[j] == 0x1b {
				j++
			}
			i = j
		default:
			i++
		}
	}
	return b.String()
}

// evidence keeps what a failed deployment's containers showed (their
// state and last log lines) in STATE_DIR/APP/failures, for the log and
// for status.
type evidence struct {
	eng      engine.Engine
	stateDir string
	log      logger
}

func (u *Updater) evidence() evidence {
	return evidence{eng: u.Engine, stateDir: u.Config.StateDir, log: u.logger()}
}

// record puts the evidence of a failed health window in the
// deployment log: the last lines of each failed container's own log and
// its health check's last output, read before rollback removes it. A copy
// goes to the app's state directory, which keeps the last evidenceKeep.
// Nothing here may fail the state: the failure itself is the answer.
func (ev evidence) record(ctx context.Context, app, artifact string, ids []string, cause error) {
	var lines []string
	add := func(format string, a ...any) {
		l := OneLine(fmt.Sprintf(format, a...))
		lines = append(lines, l)
		ev.log.logf("%s", l)
	}
	add("app %s: %s failed: %v", app, artifact, cause)
	for _, id := range ids {
		c, err := ev.eng.InspectContainer(ctx, id)
		if err != nil {
			add("app %s: evidence: inspecting %.12s: %v", app, id, err)
			continue
		}
		st := c.State
		add("app %s: evidence from %s (image %s): running=%t restarting=%t exit code %d, restarts %d, health %q",
			app, c.Name, c.Image, st.Running, st.Restarting, st.ExitCode, st.RestartCount, st.Health)
		if p := st.LastProbe; p != nil {
			add("%s: last health probe at %s: exit code %d: %s", c.Name, p.End.UTC().Format(time.RFC3339), p.ExitCode, strings.TrimSpace(p.Output))
		}
		logs, err := ev.eng.ContainerLogs(ctx, id, evidenceLines)
		if err != nil {
			add("%s: cannot read its log: %v", c.Name, err)
			continue
		}
		add("%s: last %d line(s) of its log:", c.Name, len(logs))
		for _, l := range logs {
			add("%s | %s", c.Name, l)
		}
	}
	path, err := ev.keep(app, artifact, lines)
	if err != nil {
		ev.log.logf("app %s: keeping the evidence: %v", app, err)
		return
	}
	ev.log.logf("app %s: evidence kept in %s", app, path)
}

// keep writes lines to a new file under the app's failures
// directory and deletes all but the newest evidenceKeep files.
func (ev evidence) keep(app, artifact string, lines []string) (string, error) {
	dir, err := ev.dir(app)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := time.Now().UTC().Format("20060102T150405.000Z") + "-" + safeName(artifact) + ".log"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", err
	}
	files, err := evidenceFiles(dir)
	if err != nil {
		return path, err
	}
	for len(files) > evidenceKeep {
		if err := os.Remove(filepath.Join(dir, files[0])); err != nil {
			return path, err
		}
		files = files[1:]
	}
	return path, nil
}

func (ev evidence) dir(app string) (string, error) {
	if !spec.ValidApp(app) {
		return "", fmt.Errorf("app %q: not a valid app name", app)
	}
	return filepath.Join(ev.stateDir, app, failuresDir), nil
}

// evidenceFiles lists the evidence files in dir, oldest first (their names
// start with the time).
func evidenceFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// last is the newest evidence file of app, "" when none.
func (ev evidence) last(app string) string {
	dir, err := ev.dir(app)
	if err != nil {
		return ""
	}
	files, _ := evidenceFiles(dir)
	if len(files) == 0 {
		return ""
	}
	return filepath.Join(dir, files[len(files)-1])
}

// safeName keeps an artifact name usable in a file name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r)) {
			return r
		}
		return '_'
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.TrimLeft(s, ".")
}
