package spec

// External networks and volumes: ones that exist on the device (a shared
// reverse proxy's network, a shared database's volume), which the app
// joins by their own name and never creates, changes or removes.

// externalName is the engine name of the network or volume at field, keyed
// key: "" for one of the app's own (the caller names it <app>_<key>).
// created says the declaration sets what only a created one has.
func externalName(field, key string, external bool, name string, created bool) (string, error) {
	switch {
	case !external && name != "":
		return "", invalid("%s.name: only an external one has a name of its own (the app's own are <app>_%s); leave name out or set external: true", field, key)
	case !external:
		return "", nil
	case created:
		return "", invalid("%s: an external one is used as the device has it: leave internal, labels, ipam and enable_ipv6 out", field)
	case name == "":
		name = key
	}
	if !containerNameRE.MatchString(name) {
		return "", invalid("%s.name: %q must be 1-128 of a-z A-Z 0-9 _ . - and start with a letter or digit", field, name)
	}
	return name, nil
}

// checkExternalClash refuses an external name that is also the engine
// name of one of the app's own networks or volumes: the module would
// both own it and leave it alone.
func (m *Meta) checkExternalClash() error {
	for _, x := range m.Networks {
		for _, o := range m.Networks {
			if x.External && !o.External && x.EngineName == o.EngineName {
				return invalid("networks.%s: external network %s is the app's own network %s; declare it once", x.Name, x.EngineName, o.Name)
			}
		}
	}
	for _, x := range m.Volumes {
		for _, o := range m.Volumes {
			if x.External && !o.External && x.EngineName == o.EngineName {
				return invalid("volumes.%s: external volume %s is the app's own volume %s; declare it once", x.Name, x.EngineName, o.Name)
			}
		}
	}
	return nil
}

// ExternalNetwork is the external network of m that the engine calls
// name, or nil.
func (m *Meta) ExternalNetwork(name string) *Network {
	for i := range m.Networks {
		if m.Networks[i].External && m.Networks[i].EngineName == name {
			return &m.Networks[i]
		}
	}
	return nil
}

// ExternalVolume is the external volume of m that the engine calls name,
// or nil.
func (m *Meta) ExternalVolume(name string) *Volume {
	for i := range m.Volumes {
		if m.Volumes[i].External && m.Volumes[i].EngineName == name {
			return &m.Volumes[i]
		}
	}
	return nil
}
