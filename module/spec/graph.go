package spec

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
)

// What the service graph adds to a list of containers: networks and named
// volumes the app owns, files it mounts, the order services start in and how
// each is replaced. Whatever wrote the meta-data (the generator compiling a
// Compose project, or a person writing services by hand), the module sees
// only this.

// Conditions a dependency waits for, as Compose names them.
const (
	ServiceStarted   = "service_started"
	ServiceHealthy   = "service_healthy"
	ServiceCompleted = "service_completed_successfully"
)

// Strategy is how an update replaces a service's container.
type Strategy string

const (
	// Recreate: create the new container while the old one runs, then stop
	// the old one and start the new one.
	Recreate Strategy = "recreate"
	// HandOver: start the new container beside the old one, and stop the
	// old one only once the new one is healthy.
	HandOver Strategy = "hand-over"
)

// Dependency is one service another waits for.
type Dependency struct {
	Service   string
	Condition string
}

// FileMount mounts Source, a path in the artifact's files archive, at
// Target in the container, read-only.
type FileMount struct {
	Target string
	Source string
}

// Network is a network of the app.
type Network struct {
	Name       string // as the meta-data names it
	EngineName string // <app>_<name>
	Internal   bool
	Labels     map[string]string
	// External: an existing network the app joins, called EngineName on
	// the engine; never created, changed or removed.
	External bool
	// IPAM fixes its subnets (nil: the engine picks); EnableIPv6.
	IPAM       *engine.IPAM
	EnableIPv6 bool
}

// Volume is a named volume of the app.
type Volume struct {
	Name       string
	EngineName string
	Labels     map[string]string
	// External: as for Network.
	External bool
}

// Files is the payload archive of files that services mount.
type Files struct {
	Archive string
	Digest  string
}

// ResourceName is what the engine calls the app's network or volume name.
// Compose's own naming, so that the volumes of an app that Docker Compose
// ran keep their data.
func ResourceName(app, name string) string { return app + "_" + name }

var (
	resourceRE = lazy(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
)

// addResources reads the top-level networks, volumes and files.
func (m *Meta) addResources(d *Document) error {
	if err := m.addAppNetworks(d.Networks); err != nil {
		return err
	}
	if err := m.addAppVolumes(d.Volumes); err != nil {
		return err
	}
	if err := m.checkExternalClash(); err != nil {
		return err
	}
	if d.Files != nil {
		if !fileRE().MatchString(d.Files.Archive) {
			return invalid("files.archive: %q is not a plain file name", d.Files.Archive)
		}
		if !ValidDigest(d.Files.Digest) {
			return invalid("files.digest: %q is not sha256:<64 hex>", d.Files.Digest)
		}
		m.Files = &Files{Archive: d.Files.Archive, Digest: d.Files.Digest}
	}
	return m.addAttributes(d)
}

func (m *Meta) addAppNetworks(docs map[string]NetworkDoc) error {
	for _, n := range slices.Sorted(maps.Keys(docs)) {
		if !resourceRE().MatchString(n) {
			return invalid("networks: %q must be 1-63 of a-z A-Z 0-9 _ . - and start with a letter or digit", n)
		}
		doc := docs[n]
		if err := checkLabels("networks."+n+".labels", doc.Labels); err != nil {
			return err
		}
		eng, err := externalName("networks."+n, n, doc.External, doc.Name, doc.Internal || len(doc.Labels) > 0 || doc.IPAM != nil || doc.EnableIPv6)
		if err != nil {
			return err
		}
		ipam, err := networkIPAM("networks."+n, doc)
		if err != nil {
			return err
		}
		if eng == "" {
			eng = ResourceName(m.App, n)
		} else if !engine.UserNetwork(eng) {
			return invalid("networks.%s: external network %q is one of the engine's own; write network_mode: %s on the service instead", n, eng, eng)
		}
		m.Networks = append(m.Networks, Network{Name: n, EngineName: eng, Internal: doc.Internal, Labels: doc.Labels, External: doc.External, IPAM: ipam, EnableIPv6: doc.EnableIPv6})
	}
	return nil
}

func (m *Meta) addAppVolumes(docs map[string]VolumeDoc) error {
	for _, n := range slices.Sorted(maps.Keys(docs)) {
		if !resourceRE().MatchString(n) {
			return invalid("volumes: %q must be 1-63 of a-z A-Z 0-9 _ . - and start with a letter or digit", n)
		}
		doc := docs[n]
		if err := checkLabels("volumes."+n+".labels", doc.Labels); err != nil {
			return err
		}
		eng, err := externalName("volumes."+n, n, doc.External, doc.Name, len(doc.Labels) > 0)
		if err != nil {
			return err
		}
		if eng == "" {
			eng = ResourceName(m.App, n)
		}
		m.Volumes = append(m.Volumes, Volume{Name: n, EngineName: eng, Labels: doc.Labels, External: doc.External})
	}
	return nil
}

func checkLabels(field string, labels map[string]string) error {
	for k := range labels {
		if k == "" {
			return invalid("%s: empty label key", field)
		}
		if strings.HasPrefix(k, ReservedLabelPrefix) {
			return invalid("%s: %q: labels %s* are the module's own", field, k, ReservedLabelPrefix)
		}
	}
	return nil
}

// addGraph reads what a service adds to its run arguments: entrypoint,
// health check, networks, named volumes, files, dependencies and strategy.
// Values may hold ${NAME} placeholders only where run arguments may: in
// words, never in names of networks, volumes, files or services.
func (m *Meta) addGraph(r ServiceDoc, s *Service, sub *substituter) error {
	field := r.errField()
	if err := addEntrypoint(field, r, s, sub); err != nil {
		return err
	}
	if r.Healthcheck != nil {
		hc, err := parseHealthcheck(field+".healthcheck", r.Healthcheck, sub)
		if err != nil {
			return err
		}
		s.Config.Healthcheck = hc
	}
	if err := m.addNetworks(field, r, s); err != nil {
		return err
	}
	if err := m.addAddresses(field, r, s); err != nil {
		return err
	}
	m.bindVolumes(s)
	if err := m.addFiles(field, r, s); err != nil {
		return err
	}
	if err := m.addTemplates(field, r, s); err != nil {
		return err
	}
	if err := addDependencies(field, r, s); err != nil {
		return err
	}
	update, err := parseStrategy(field, r.Update)
	if err != nil {
		return err
	}
	s.Update = update
	return nil
}

// addEntrypoint reads entrypoint; [""] clears the image's.
func addEntrypoint(field string, r ServiceDoc, s *Service, sub *substituter) error {
	if r.Entrypoint == nil {
		return nil
	}
	s.Config.Entrypoint = []string{}
	if len(r.Entrypoint) == 1 && r.Entrypoint[0] == "" {
		return nil
	}
	for j, w := range r.Entrypoint {
		v, err := sub.word(w)
		if err != nil {
			return invalid("%s.entrypoint[%d]: %v", field, j, err)
		}
		s.Config.Entrypoint = append(s.Config.Entrypoint, v)
	}
	return nil
}

// addNetworks joins the service to the app's networks it lists, or to the
// one run_args' --network names; the first is its network mode.
func (m *Meta) addNetworks(field string, r ServiceDoc, s *Service) error {
	if len(r.Networks) == 0 {
		if net := m.network(s.Config.NetworkMode); net != nil {
			// --network NAME of a network of the app.
			s.Config.NetworkMode = net.EngineName
			s.Config.Networks = []engine.Endpoint{{Network: net.EngineName}}
		}
		return nil
	}
	if s.Config.NetworkMode != "" {
		return invalid("%s.networks: run_args sets --network %q too; give one or the other", field, s.Config.NetworkMode)
	}
	for _, n := range slices.Sorted(maps.Keys(r.Networks)) {
		net := m.network(n)
		if net == nil {
			return invalid("%s.networks: %q is not in the top-level networks", field, n)
		}
		for _, a := range r.Networks[n] {
			if !resourceRE().MatchString(a) {
				return invalid("%s.networks.%s: alias %q is not a valid host name", field, n, a)
			}
		}
		s.Config.Networks = append(s.Config.Networks, engine.Endpoint{Network: net.EngineName, Aliases: slices.Clone(r.Networks[n])})
	}
	s.Config.NetworkMode = s.Config.Networks[0].Network
	return nil
}

// bindVolumes gives -v NAME:/path of a volume of the app the engine's name.
func (m *Meta) bindVolumes(s *Service) {
	for i, b := range s.Config.Binds {
		src, rest, ok := strings.Cut(b, ":")
		if !ok || strings.HasPrefix(src, "/") {
			continue
		}
		if v := m.volume(src); v != nil {
			s.Config.Binds[i] = v.EngineName + ":" + rest
		}
	}
}

// addFiles reads files: target in the container → path in the archive.
func (m *Meta) addFiles(field string, r ServiceDoc, s *Service) error {
	for _, target := range slices.Sorted(maps.Keys(r.Files)) {
		src := r.Files[target]
		if m.Files == nil {
			return invalid("%s.files: the artifact has no files archive", field)
		}
		if !strings.HasPrefix(target, "/") || path.Clean(target) != target || strings.ContainsAny(target, ":,") {
			return invalid("%s.files: target %q must be a clean absolute path", field, target)
		}
		if src == "" || path.IsAbs(src) || path.Clean(src) != src || src == "." || src == ".." || strings.HasPrefix(src, "../") || strings.ContainsAny(src, ":,") {
			return invalid("%s.files[%q]: %q must be a clean relative path inside the files archive", field, target, src)
		}
		s.Files = append(s.Files, FileMount{Target: target, Source: src})
	}
	return nil
}

// addTemplates reads templates: target in the container → template in
// the archive; no target may be a file's too.
func (m *Meta) addTemplates(field string, r ServiceDoc, s *Service) error {
	for _, target := range slices.Sorted(maps.Keys(r.Templates)) {
		src := r.Templates[target]
		if m.Files == nil {
			return invalid("%s.templates: the artifact has no files archive", field)
		}
		if !strings.HasPrefix(target, "/") || path.Clean(target) != target || strings.ContainsAny(target, ":,") {
			return invalid("%s.templates: target %q must be a clean absolute path", field, target)
		}
		if _, dup := r.Files[target]; dup {
			return invalid("%s.templates: target %q is also in files", field, target)
		}
		if src == "" || path.IsAbs(src) || path.Clean(src) != src || src == "." || src == ".." || strings.HasPrefix(src, "../") || strings.ContainsAny(src, ":,") {
			return invalid("%s.templates[%q]: %q must be a clean relative path inside the files archive", field, target, src)
		}
		s.Templates = append(s.Templates, FileMount{Target: target, Source: src})
	}
	return nil
}

func addDependencies(field string, r ServiceDoc, s *Service) error {
	for _, dep := range slices.Sorted(maps.Keys(r.DependsOn)) {
		cond := r.DependsOn[dep]
		switch cond {
		case ServiceStarted, ServiceHealthy, ServiceCompleted:
		default:
			return invalid("%s.depends_on.%s: %q is not service_started, service_healthy or service_completed_successfully", field, dep, cond)
		}
		s.DependsOn = append(s.DependsOn, Dependency{Service: dep, Condition: cond})
	}
	return nil
}

func parseStrategy(field, update string) (Strategy, error) {
	switch Strategy(update) {
	case "", Recreate:
		return Recreate, nil
	case HandOver:
		return HandOver, nil
	}
	return "", invalid("%s.update: %q is not recreate or hand-over", field, update)
}

func parseHealthcheck(field string, d *HealthcheckDoc, sub *substituter) (*engine.Healthcheck, error) {
	if len(d.Test) == 0 {
		return nil, invalid("%s.test: empty (want [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or [\"NONE\"])", field)
	}
	switch d.Test[0] {
	case "NONE":
		if len(d.Test) != 1 {
			return nil, invalid("%s.test: NONE takes nothing after it", field)
		}
	case "CMD", "CMD-SHELL":
		if len(d.Test) < 2 {
			return nil, invalid("%s.test: %s needs a command", field, d.Test[0])
		}
	default:
		return nil, invalid("%s.test: %q must start with CMD, CMD-SHELL or NONE", field, d.Test[0])
	}
	hc := &engine.Healthcheck{Test: []string{d.Test[0]}, Retries: d.Retries}
	for j, w := range d.Test[1:] {
		v, err := sub.word(w)
		if err != nil {
			return nil, invalid("%s.test[%d]: %v", field, j+1, err)
		}
		hc.Test = append(hc.Test, v)
	}
	if d.Retries < 0 {
		return nil, invalid("%s.retries: %d is negative", field, d.Retries)
	}
	for _, f := range []struct {
		name string
		v    string
		to   *time.Duration
	}{{"interval", d.Interval, &hc.Interval}, {"timeout", d.Timeout, &hc.Timeout}, {"start_period", d.StartPeriod, &hc.StartPeriod}} {
		var err error
		if *f.to, err = parseDur(field+"."+f.name, f.v); err != nil {
			return nil, err
		}
	}
	return hc, nil
}

// checkGraph checks what spans services: dependencies name services of the
// app and form no cycle, and a hand-over can run two copies at once.
func (m *Meta) checkGraph() error {
	byName := map[string]*Service{}
	for i := range m.Services {
		byName[m.Services[i].Name] = &m.Services[i]
	}
	for _, s := range m.Services {
		for _, dep := range s.DependsOn {
			if byName[dep.Service] == nil {
				return invalid("services.%s.depends_on: %q is not a service of the app", s.Name, dep.Service)
			}
			if dep.Service == s.Name {
				return invalid("services.%s.depends_on: a service cannot depend on itself", s.Name)
			}
		}
		if s.Update == HandOver {
			if err := canHandOver(s); err != nil {
				return invalid("services.%s.update: hand-over %v", s.Name, err)
			}
		}
	}
	if _, err := m.StartOrder(); err != nil {
		return err
	}
	return nil
}

// canHandOver tells why two copies of s could not run side by side.
func canHandOver(s Service) error {
	for _, p := range s.Config.Ports {
		if p.HostPort != "" {
			return fmt.Errorf("needs two copies running at once, and host port %s can be published by only one", p.HostPort)
		}
	}
	if s.fixedName {
		return fmt.Errorf("needs two copies running at once, and --name %q is a fixed container name", s.Config.Name)
	}
	return canHandOverAddresses(s)
}

// StartOrder is the services in the order they start: each after those it
// depends on, otherwise in meta-data order. Stopping goes in reverse.
func (m *Meta) StartOrder() ([]Service, error) {
	done := map[string]bool{}
	visiting := map[string]bool{}
	byName := map[string]Service{}
	for _, s := range m.Services {
		byName[s.Name] = s
	}
	var out []Service
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		if done[name] {
			return nil
		}
		if visiting[name] {
			return invalid("services.%s.depends_on: dependency cycle %s", name, strings.Join(append(path, name), " -> "))
		}
		visiting[name] = true
		for _, dep := range byName[name].DependsOn {
			if err := visit(dep.Service, append(path, name)); err != nil {
				return err
			}
		}
		visiting[name] = false
		done[name] = true
		out = append(out, byName[name])
		return nil
	}
	for _, s := range m.Services {
		if err := visit(s.Name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OneShot tells whether another service waits for s to exit 0: its exit is
// then its success, not a failure of the health window.
func (m *Meta) OneShot(service string) bool {
	for _, s := range m.Services {
		for _, d := range s.DependsOn {
			if d.Service == service && d.Condition == ServiceCompleted {
				return true
			}
		}
	}
	return false
}

func (m *Meta) network(name string) *Network {
	for i := range m.Networks {
		if m.Networks[i].Name == name {
			return &m.Networks[i]
		}
	}
	return nil
}

func (m *Meta) volume(name string) *Volume {
	for i := range m.Volumes {
		if m.Volumes[i].Name == name {
			return &m.Volumes[i]
		}
	}
	return nil
}
