package module

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// serviceConfig is the configuration s's container is created with (its
// files mounted, its networks listed), less the labels that name one
// deployment (LabelArtifact, LabelDeployment) and the hash itself: what two
// artifacts must agree on for the container to be kept across an update.
func serviceConfig(files fileStore, m *spec.Meta, s spec.Service) engine.ContainerConfig {
	cfg := s.Config
	cfg.Binds = append(slices.Clone(s.Config.Binds), files.binds(m, s)...)
	cfg.Labels = make(map[string]string, len(s.Config.Labels)+5)
	maps.Copy(cfg.Labels, s.Config.Labels)
	cfg.Labels[LabelApp] = m.App
	cfg.Labels[LabelService] = s.Name
	if m.OneShot(s.Name) {
		cfg.Labels[LabelOneShot] = "true"
	}
	delete(cfg.Labels, LabelArtifact)
	delete(cfg.Labels, LabelDeployment)
	delete(cfg.Labels, LabelConfigHash)
	return cfg
}

// configHash is the value of LabelConfigHash for cfg. JSON writes map keys
// sorted, so equal configurations hash equal; the version prefix lets a
// later change of what is hashed count every older container as changed.
func configHash(cfg engine.ContainerConfig) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		// ContainerConfig holds only plain values: this cannot happen, and
		// an empty hash never matches.
		return ""
	}
	sum := sha256.Sum256(append([]byte("v1\n"), b...))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// unchanged returns the IDs of the app's current containers that the new
// artifact m asks for exactly as they are: created by us with the same
// configuration hash, under the service's name, and running. Those are kept
// by the update; a container without the hash (created by an older module)
// counts as changed, and so does one that Docker Compose ran.
func unchanged(files fileStore, m *spec.Meta, current []engine.Container) map[string]bool {
	keep := map[string]bool{}
	for _, s := range m.Services {
		cfg := serviceConfig(files, m, s)
		h := configHash(cfg)
		for _, c := range current {
			if h != "" && c.Labels[LabelApp] == m.App && c.Labels[LabelService] == s.Name && c.Labels[LabelConfigHash] == h &&
				c.Name == cfg.Name && c.State.Running && !c.State.Restarting {
				keep[c.ID] = true
				break
			}
		}
	}
	return keep
}
