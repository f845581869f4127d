package module

import (
	"context"
	"fmt"
	"strings"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// devicePolicy owns the admission checks of what an artifact asks for
// against the device's policy and what the device has now: binds,
// images, the app's space of names, networks and volumes
// (resources.go), the app locks' directory (applock.go).
type devicePolicy struct {
	eng      engine.Engine
	cfg      config.Config
	log      logger
	journals journals // the apps they name have a space too
}

func (u *Updater) policy() devicePolicy {
	return devicePolicy{eng: u.Engine, cfg: u.Config, log: u.logger(), journals: u.journals()}
}

// check checks every service of m against the device policy, with
// the binds of the containers on the device (device; nil to leave those
// out): Download before it fetches anything, Install before it changes
// anything, whatever the configuration was read from.
func (policy devicePolicy) check(m *spec.Meta, device []config.OwnedBind, protected []config.ProtectedPath) error {
	for _, s := range m.Services {
		if err := policy.checkService(m, s, device, protected); err != nil {
			return err
		}
	}
	return nil
}

// checkService checks one service's configuration, before the module adds
// its own file mounts: the policy's flags, the image's registry, and its
// binds, which must reach neither the protected paths nor, under
// bind_mount_paths, into or around a writable bind of the artifact or of
// the device (config.CheckBindOverlap).
func (policy devicePolicy) checkService(m *spec.Meta, s spec.Service, device []config.OwnedBind, protected []config.ProtectedPath) error {
	p := policy.cfg.Policy
	if err := p.Check(s.Name, s.Config); err != nil {
		return err
	}
	if err := p.CheckImage(s.Image); err != nil {
		return fmt.Errorf("service %s: %w", s.Name, err)
	}
	others := append([]config.OwnedBind(nil), device...)
	for _, o := range m.Services {
		for _, v := range o.Config.Binds {
			if b, ok := engine.HostBind(v); ok {
				others = append(others, config.OwnedBind{Bind: b, Owner: "service " + o.Name})
			}
		}
	}
	for _, v := range s.Config.Binds {
		b, ok := engine.HostBind(v)
		if !ok {
			continue
		}
		if err := config.CheckProtected(b.Source, protected); err != nil {
			return fmt.Errorf("service %s: -v %s is refused: %v", s.Name, v, err)
		}
		if err := p.CheckBindOverlap(b, others); err != nil {
			return fmt.Errorf("service %s: -v %s is refused by the device policy (bind_mount_paths: %v)", s.Name, v, err)
		}
	}
	return nil
}

// onDevice is what the bind rules compare an artifact's binds with, as the
// device is now: the binds of the containers the module manages, and the
// protected paths. Download, Install and create each look again, since
// the device may have changed in between.
func (policy devicePolicy) onDevice(ctx context.Context, app string) ([]config.OwnedBind, []config.ProtectedPath, error) {
	device, err := policy.deviceBinds(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	protected, err := policy.protected(ctx)
	if err != nil {
		return nil, nil, err
	}
	return device, protected, nil
}

// deviceBinds are the bind mounts of the containers the module manages on
// the device, of every app (and those of a Compose project that app took
// over): a writable one lets its container change what the engine finds
// on the path of any bind source beneath it, at the next start.
func (policy devicePolicy) deviceBinds(ctx context.Context, app string) ([]config.OwnedBind, error) {
	if policy.cfg.Policy.BindMountPaths == nil {
		return nil, nil
	}
	managed, err := policy.eng.ListContainers(ctx, map[string]string{LabelApp: ""})
	if err != nil {
		return nil, err
	}
	composed, err := appContainers(ctx, policy.eng, app)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []config.OwnedBind
	for _, c := range append(managed, composed...) {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		for _, b := range c.Binds {
			out = append(out, config.OwnedBind{Bind: b, Owner: "container " + c.Name})
		}
	}
	return out, nil
}

// protected are the host paths no bind may reach (config.Protected); on a
// device that restricts binds (bind_mount_paths) also the engine's own
// directory, which holds every container's configuration and every
// volume's data, and its socket: either is the host's root to a
// container that can write it.
func (policy devicePolicy) protected(ctx context.Context) ([]config.ProtectedPath, error) {
	out := policy.cfg.Protected()
	if policy.cfg.Policy.BindMountPaths == nil {
		return out, nil
	}
	root, err := policy.eng.RootDir(ctx)
	if err != nil {
		return nil, err
	}
	if root != "" {
		out = append(out, config.ProtectedPath{Path: root, What: "the engine's directory"})
	}
	sock := "/var/run/docker.sock"
	if h := policy.cfg.DockerHost; h != "" {
		sock = ""
		if p, ok := strings.CutPrefix(h, "unix://"); ok {
			sock = p
		}
	}
	if sock != "" {
		out = append(out, config.ProtectedPath{Path: sock, What: "the engine's socket"})
	}
	return out, nil
}

// warnProtected says, loudly, when a container the module manages
// already binds a protected path (created before this release refused
// it): it can rewrite what the module does next.
func (policy devicePolicy) warnProtected(ctx context.Context, protected []config.ProtectedPath) error {
	managed, err := policy.eng.ListContainers(ctx, map[string]string{LabelApp: ""})
	if err != nil {
		return err
	}
	for _, c := range managed {
		for _, b := range c.Binds {
			if strings.HasPrefix(b.Source, policy.cfg.StateDir+"/") && b.ReadOnly {
				continue // the module's own mounts of a files archive
			}
			if err := config.CheckProtected(b.Source, protected); err != nil {
				policy.log.logf("warning: container %s binds %s: %v; update its app or remove it", c.Name, b.Source, err)
			}
		}
	}
	return nil
}
