package module

import (
	"context"
	"errors"
	"fmt"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// External networks and volumes are the device's, not the app's: the
// app joins or mounts them by their own name, whoever made them (the
// operator, or another app of ours: the shared proxy's network), and
// never creates, changes or removes them. Install skips them, and removal
// only removes what is labelled the app's. The ownership checks let them
// through; the policy's allowed_external_* and volume rules decide.

// checkExternals refuses, before anything changes, an external network
// or volume of m that the device does not have or that the policy refuses.
func checkExternals(ctx context.Context, eng engine.Engine, pol config.Policy, m *spec.Meta) error {
	for _, n := range m.Networks {
		if !n.External {
			continue
		}
		have, err := eng.InspectNetwork(ctx, n.EngineName)
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("networks.%s: the external network %s does not exist on the device: create it there first, or drop external to have the app create its own", n.Name, n.EngineName)
		}
		if err != nil {
			return err
		}
		if err := pol.CheckExternalNetwork(have); err != nil {
			return fmt.Errorf("networks.%s: %w", n.Name, err)
		}
	}
	for _, v := range m.Volumes {
		if !v.External {
			continue
		}
		have, err := eng.InspectVolume(ctx, v.EngineName)
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("volumes.%s: the external volume %s does not exist on the device: create it there first, or drop external to have the app create its own", v.Name, v.EngineName)
		}
		if err != nil {
			return err
		}
		if err := pol.CheckExternalVolume(have); err != nil {
			return fmt.Errorf("volumes.%s: %w", v.Name, err)
		}
	}
	return nil
}

// isExternal tells whether the engine name name is an external network
// or volume of m, which checkExternals has checked already.
func isExternal(m *spec.Meta, kind, name string) bool {
	if kind == "network" {
		return m.ExternalNetwork(name) != nil
	}
	return m.ExternalVolume(name) != nil
}
