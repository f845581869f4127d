package module

import (
	"slices"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The journal lies in the state directory, which no container may reach
// (config.CheckProtected); still, the images it names are removed only
// once re-checked against what else the module knows, so that a tampered
// journal cannot make one app's commit or cleanup remove another's.

// verifiedPulled are the images of pulled (a deployment's Pulled) that
// its recorded meta-data m names: Download records no others. m is nil
// when the meta-data no longer parses: then none is.
func (j journals) verifiedPulled(app string, m *spec.Meta, pulled []string) []string {
	var out []string
	for _, img := range pulled {
		if m != nil && slices.Contains(m.Images(), img) {
			out = append(out, img)
		} else {
			j.log.logf("journal of app %s: pulled image %s is not one its meta-data names; not removing it", app, img)
		}
	}
	return out
}

// verifiedOldImages are the images of the old set as the journal recorded
// them, each confirmed by the container itself while it is there (all, the
// app's containers as listed now), or else by the installed set's images.
func (j journals) verifiedOldImages(d *Deployment, all []engine.Container, installed []string) []string {
	var out []string
	for _, o := range d.Old {
		i := slices.IndexFunc(all, func(c engine.Container) bool { return c.ID == o.ID })
		if i >= 0 && all[i].Image == o.Image || i < 0 && slices.Contains(installed, o.Image) {
			out = append(out, o.Image)
			continue
		}
		j.log.logf("journal of app %s: old container %.12s did not run image %s; not removing it", d.App, o.ID, o.Image)
	}
	return out
}

// notOtherApps drops from images those that another app's journal names
// (its installed set, the set before it, or its deployment in flight).
func (j journals) notOtherApps(app string, images []string) []string {
	others := map[string]string{}
	note := func(other string, imgs ...string) {
		for _, img := range imgs {
			others[img] = other
		}
	}
	apps, _ := j.store.Apps(installedFile)
	for _, a := range apps {
		if in, err := j.installed(a); a != app && err == nil {
			note(a, in.Images...)
			note(a, in.Previous...)
		}
	}
	apps, _ = j.store.Apps(deploymentFile)
	for _, a := range apps {
		d, err := j.deployment(a)
		if a == app || err != nil || d == nil {
			continue
		}
		note(a, d.Pulled...)
		for _, o := range d.Old {
			note(a, o.Image)
		}
		if m, err := j.meta(d); err == nil {
			note(a, m.Images()...)
		}
	}
	var out []string
	for _, img := range images {
		if other, ok := others[img]; ok {
			j.log.logf("app %s: kept image %s: app %s uses it", app, img, other)
			continue
		}
		out = append(out, img)
	}
	return out
}
