package module

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Status is what `docker status --json` prints. Its field names are a
// stable interface: fields may be added, never renamed or removed.
type Status struct {
	// Healthy is true when every app is.
	Healthy bool         `json:"healthy"`
	Engine  EngineStatus `json:"engine"`
	Apps    []AppStatus  `json:"apps"`
}

// EngineStatus is the Docker engine the module talks to.
type EngineStatus struct {
	Version string `json:"version,omitempty"`
	// Error says why the engine could not be asked; then no app is healthy.
	Error string `json:"error,omitempty"`
}

// AppStatus is one app: what the journal says and what runs.
type AppStatus struct {
	App string `json:"app"`
	// Artifact is the artifact last committed for the app ("" before the
	// first commit).
	Artifact string `json:"artifact"`
	// Phase is "committed" when no deployment is in flight, else the
	// deployment's phase (downloading, downloaded, installing, installed,
	// committing, rolling-back, rolled-back).
	Phase string `json:"phase"`
	// Deploying is the artifact of the deployment in flight, if any.
	Deploying string `json:"deploying,omitempty"`
	// Healthy: every current container runs (not restarting) and is
	// healthy where it has a health check, and there is at least one. A
	// deployment in flight is no problem by itself.
	Healthy bool `json:"healthy"`
	// Problems say why the app is not healthy.
	Problems []string `json:"problems,omitempty"`
	// LastFailure is the evidence file of the app's last failed
	// deployment, if any is kept.
	LastFailure string            `json:"last_failure,omitempty"`
	Containers  []ContainerStatus `json:"containers"`
	// Rendered are the digests of the installed set's rendered templates,
	// by service; ConfigDigest one digest over them all (what the
	// inventory shows, so the server sees which devices took a change).
	Rendered     map[string]string `json:"rendered,omitempty"`
	ConfigDigest string            `json:"config_digest,omitempty"`
}

// ContainerStatus is one container of an app.
type ContainerStatus struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Service string `json:"service"`
	// Image is the reference the artifact names the image by,
	// repo@sha256:…, also for an embedded image (which runs by its ID);
	// an image ID for containers of earlier versions or other tools.
	Image    string `json:"image"`
	Artifact string `json:"artifact,omitempty"`
	// State is created, running, restarting or exited.
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
	// Health is "" without a health check or when not running (the
	// engine calls every stopped container with a check "unhealthy"),
	// else starting, healthy or unhealthy.
	Health       string    `json:"health"`
	RestartCount int       `json:"restart_count"`
	StartedAt    time.Time `json:"started_at"`
	// Current is false for the previous set kept during an update.
	Current bool `json:"current"`
	// OneShot: another service waits for this one to exit with code 0,
	// so exited with 0 is what it should be.
	OneShot bool `json:"one_shot,omitempty"`
}

// PhaseCommitted is the phase Status reports for an app with no
// deployment in flight.
const PhaseCommitted = "committed"

// Status reads what runs and what the journal says, changing nothing and
// taking no lock: journal files are replaced atomically, so a read sees
// the old or the new content. With only, just those apps are reported
// (each, even when the device has nothing of it).
func (u *Updater) Status(ctx context.Context, only ...string) Status {
	r := &statusRead{u: u, only: only, apps: map[string]*AppStatus{}, deployments: map[string]*Deployment{}}
	for _, app := range only {
		if spec.ValidApp(app) {
			r.get(app)
		}
	}
	r.readJournal()
	r.readEngine(ctx)
	for _, a := range r.apps {
		r.fillApp(ctx, a)
	}
	return r.result()
}

// statusRead is one Status call's reading: the apps found so far, the
// deployments in flight and the engine's containers.
type statusRead struct {
	u           *Updater
	only        []string
	st          Status
	apps        map[string]*AppStatus
	deployments map[string]*Deployment
	readErrs    []string           // journal directories that could not be listed
	list        []engine.Container // the containers of every app found
}

// get is app's entry, made on first sight; nil for an app not asked for.
func (r *statusRead) get(app string) *AppStatus {
	if a, ok := r.apps[app]; ok || (len(r.only) > 0 && !slices.Contains(r.only, app)) {
		return a
	}
	a := &AppStatus{App: app, Phase: PhaseCommitted, Containers: []ContainerStatus{}}
	r.apps[app] = a
	return a
}

// readJournal records every app's committed artifact and deployment in
// flight.
func (r *statusRead) readJournal() {
	for _, file := range []string{installedFile, deploymentFile} {
		names, err := r.u.journals().store.Apps(file)
		if err != nil {
			r.readErrs = append(r.readErrs, err.Error())
		}
		for _, app := range names {
			a := r.get(app)
			if a == nil {
				continue
			}
			if file == installedFile {
				in, err := r.u.journals().installed(app)
				if err != nil {
					a.Problems = append(a.Problems, err.Error())
					continue
				}
				a.Artifact = in.Artifact
				a.Rendered, a.ConfigDigest = in.Rendered, configDigest(in.Rendered)
				continue
			}
			d, err := r.u.journals().deployment(app)
			if err != nil || d == nil {
				if err != nil {
					a.Problems = append(a.Problems, err.Error())
				}
				continue
			}
			r.deployments[app] = d
			a.Phase, a.Deploying = string(d.Phase), d.Artifact
		}
	}
}

// readEngine asks the engine for its version and the apps' containers.
func (r *statusRead) readEngine(ctx context.Context) {
	v, err := r.u.Engine.Version(ctx)
	if err != nil {
		r.st.Engine.Error = OneLine(err.Error())
	}
	r.st.Engine.Version = v
	if err == nil {
		r.list, err = r.u.Engine.ListContainers(ctx, map[string]string{LabelApp: ""})
		if err != nil {
			r.st.Engine.Error = OneLine(err.Error())
		}
	}
	for _, c := range r.list {
		if app := c.Labels[LabelApp]; spec.ValidApp(app) {
			r.get(app)
		}
	}
	if r.st.Engine.Error != "" {
		return
	}
	// An update taking over an app that Docker Compose ran: its old set
	// is the Compose project's containers.
	for app := range r.deployments {
		cs, err := r.u.Engine.ListContainers(ctx, map[string]string{ComposeProjectLabel: app})
		if err != nil {
			r.st.Engine.Error = OneLine(err.Error())
			break
		}
		r.list = append(r.list, cs...)
	}
}

// fillApp adds a's containers, problems and health.
func (r *statusRead) fillApp(ctx context.Context, a *AppStatus) {
	a.LastFailure = r.u.evidence().last(a.App)
	d := r.deployments[a.App]
	seen := map[string]bool{}
	for _, c := range r.list {
		if seen[c.ID] || (c.Labels[LabelApp] != a.App && !(d != nil && c.Labels[LabelApp] == "" && c.Labels[ComposeProjectLabel] == a.App)) {
			continue
		}
		seen[c.ID] = true
		full, err := r.u.Engine.InspectContainer(ctx, c.ID)
		if errors.Is(err, engine.ErrNotFound) {
			continue // removed since the list
		}
		if err != nil {
			r.st.Engine.Error = OneLine(err.Error())
			continue
		}
		a.Containers = append(a.Containers, containerStatus(full, d))
	}
	sort.Slice(a.Containers, func(i, j int) bool { return a.Containers[i].Name < a.Containers[j].Name })
	a.Problems = append(a.Problems, appProblems(a, r.st.Engine.Error != "")...)
	a.Healthy = len(a.Problems) == 0
}

// result is the Status: the apps sorted, healthy when the engine, the
// journal and every app are.
func (r *statusRead) result() Status {
	st := r.st
	st.Apps = []AppStatus{}
	for _, a := range r.apps {
		st.Apps = append(st.Apps, *a)
	}
	sort.Slice(st.Apps, func(i, j int) bool { return st.Apps[i].App < st.Apps[j].App })
	st.Healthy = st.Engine.Error == "" && len(r.readErrs) == 0
	for _, a := range st.Apps {
		st.Healthy = st.Healthy && a.Healthy
	}
	if len(r.readErrs) > 0 && st.Engine.Error == "" {
		st.Engine.Error = OneLine(strings.Join(r.readErrs, "; "))
	}
	return st
}

func containerStatus(c engine.Container, d *Deployment) ContainerStatus {
	s := c.State
	cs := ContainerStatus{
		Name: c.Name, ID: c.ID, Image: c.Image, Artifact: c.Labels[LabelArtifact],
		Service: serviceOf(c), ExitCode: s.ExitCode, Health: s.Health,
		RestartCount: s.RestartCount, StartedAt: s.StartedAt.UTC(), Current: true,
		OneShot: c.Labels[LabelOneShot] == "true",
	}
	if ref := c.Labels[LabelImage]; ref != "" && spec.ValidDigest(c.Image) {
		cs.Image = ref // created from the ID of an embedded image
	}
	if !s.Running {
		cs.Health = ""
	}
	switch {
	case s.Restarting:
		cs.State = "restarting"
	case s.Running:
		cs.State = "running"
	case s.StartedAt.IsZero():
		cs.State = "created"
	default:
		cs.State = "exited"
	}
	if d != nil && d.ID != "" {
		// While an update is in flight only one of the two sets counts:
		// the new one once it has started, else the old one.
		mine := c.Labels[LabelDeployment] == d.ID
		switch Phase(d.Phase) {
		case PhaseInstalling, PhaseInstalled, PhaseReconfigured, PhaseCommitting:
			cs.Current = mine
		default:
			cs.Current = !mine
		}
		if d.kept(c.ID) {
			cs.Current = true // unchanged: in both sets
		}
	}
	return cs
}

func appProblems(a *AppStatus, engineDown bool) []string {
	if engineDown {
		return []string{"the engine did not answer"}
	}
	var p []string
	current := 0
	for _, c := range a.Containers {
		if !c.Current {
			continue
		}
		current++
		switch {
		case c.OneShot && c.State == "exited" && c.ExitCode == 0:
			// Done, as it should be.
		case c.State != "running":
			p = append(p, fmt.Sprintf("%s is %s", c.Name, c.State))
		case c.Health != "" && c.Health != engine.HealthHealthy:
			p = append(p, fmt.Sprintf("%s is %s", c.Name, c.Health))
		}
	}
	if current == 0 {
		p = append(p, "no containers")
	}
	return p
}

// Health is "healthy" or "unhealthy", for the inventory.
func (a AppStatus) Health() string {
	if a.Healthy {
		return "healthy"
	}
	return "unhealthy"
}

// WriteText prints s for a person: one block per app.
func (s Status) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if s.Engine.Error != "" {
		fmt.Fprintf(tw, "engine: %s\n", printable(s.Engine.Error))
	} else {
		fmt.Fprintf(tw, "engine: docker %s\n", printable(s.Engine.Version))
	}
	if len(s.Apps) == 0 {
		fmt.Fprintln(tw, "no apps")
	}
	for _, a := range s.Apps {
		art := a.Artifact
		if art == "" {
			art = "-"
		}
		fmt.Fprintf(tw, "\napp %s: %s, artifact %s, %s", printable(a.App), a.Health(), printable(art), printable(a.Phase))
		if a.Deploying != "" {
			fmt.Fprintf(tw, " (%s)", printable(a.Deploying))
		}
		fmt.Fprintln(tw)
		for _, p := range a.Problems {
			fmt.Fprintf(tw, "  problem: %s\n", printable(p))
		}
		if a.LastFailure != "" {
			fmt.Fprintf(tw, "  last failed deployment: %s\n", printable(a.LastFailure))
		}
		if len(a.Containers) > 0 {
			fmt.Fprintln(tw, "  CONTAINER\tSERVICE\tSTATE\tHEALTH\tRESTARTS\tSTARTED\tIMAGE")
		}
		for _, c := range a.Containers {
			health, started, state := c.Health, "-", c.State
			if health == "" {
				health = "-"
			}
			if !c.StartedAt.IsZero() {
				started = c.StartedAt.Format(time.RFC3339)
			}
			if c.State == "exited" {
				state = fmt.Sprintf("exited (%d)", c.ExitCode)
			}
			name := c.Name
			if !c.Current {
				name += " (previous)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(name), printable(c.Service), printable(state), printable(health), c.RestartCount, started, printable(c.Image))
		}
	}
	return tw.Flush()
}

// WriteInventory prints s as Mender inventory attributes: one key=value a
// line, a repeated key for a list.
func (s Status) WriteInventory(w io.Writer) error {
	var b strings.Builder
	line := func(k, v string) {
		// A value never breaks a line: the client reads one per line.
		b.WriteString(printable(k) + "=" + printable(v) + "\n")
	}
	if s.Engine.Version != "" {
		line("docker_engine_version", s.Engine.Version)
	} else {
		line("docker_engine_version", "unknown")
	}
	for _, a := range s.Apps {
		line("docker_apps", a.App)
	}
	for _, a := range s.Apps {
		k := "docker_app_" + a.App + "_"
		art := a.Artifact
		if art == "" {
			art = "none"
		}
		line(k+"artifact", art)
		line(k+"health", a.Health())
		if a.ConfigDigest != "" {
			line(k+"config", strings.TrimPrefix(a.ConfigDigest, "sha256:")[:12])
		}
		n := 0
		for _, c := range a.Containers {
			if c.Current {
				n++
			}
		}
		line(k+"containers", fmt.Sprint(n))
		if a.Phase != PhaseCommitted {
			line(k+"phase", a.Phase)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printable escapes, as Go writes them in a quoted string, what would let
// a field of status output pass for more than one field: control
// characters (a newline starts a fake line, ANSI escapes rewrite the
// terminal, a tab a column), other unprintable ones such as bidirectional
// overrides, and bytes that are not UTF-8. A backslash is doubled, so that
// an escape cannot be written as text. Meta-data, artifact names and
// engine answers all reach the output through it.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}
