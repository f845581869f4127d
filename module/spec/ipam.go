package spec

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Fixed subnets (networks.<n>.ipam) and static addresses on them
// (services.<s>.addresses.<n>), checked here so that the generator refuses
// what the engine would refuse only when the container starts.

// networkIPAM checks a network's ipam at field and returns it for the
// engine (nil: the engine picks the subnet).
func networkIPAM(field string, doc NetworkDoc) (*engine.IPAM, error) {
	if doc.IPAM == nil {
		return nil, nil
	}
	if d := doc.IPAM.Driver; d != "" && d != "default" {
		return nil, invalid("%s.ipam.driver: %q: only the default driver (leave driver out)", field, d)
	}
	out := &engine.IPAM{Driver: doc.IPAM.Driver}
	for i, p := range doc.IPAM.Config {
		where := field + ".ipam.config[" + strconv.Itoa(i) + "]"
		sub, err := netip.ParsePrefix(p.Subnet)
		if err != nil || sub != sub.Masked() {
			return nil, invalid("%s.subnet: %q: write a subnet in CIDR form, such as 172.28.0.0/16", where, p.Subnet)
		}
		if sub.Addr().Is6() && !doc.EnableIPv6 {
			return nil, invalid("%s.subnet: %s is IPv6: add enable_ipv6: true to the network", where, p.Subnet)
		}
		if p.IPRange != "" {
			r, err := netip.ParsePrefix(p.IPRange)
			if err != nil || r != r.Masked() || !sub.Contains(r.Addr()) || r.Bits() < sub.Bits() {
				return nil, invalid("%s.ip_range: %q: write a CIDR range inside the subnet %s", where, p.IPRange, p.Subnet)
			}
		}
		if p.Gateway != "" {
			if err := inSubnet(p.Gateway, sub); err != nil {
				return nil, invalid("%s.gateway: %v", where, err)
			}
		}
		for _, h := range slices.Sorted(maps.Keys(p.AuxAddresses)) {
			if err := inSubnet(p.AuxAddresses[h], sub); err != nil {
				return nil, invalid("%s.aux_addresses.%s: %v", where, h, err)
			}
		}
		out.Config = append(out.Config, engine.IPAMPool{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, AuxAddresses: maps.Clone(p.AuxAddresses)})
	}
	if len(out.Config) == 0 {
		return nil, invalid("%s.ipam: give config with a subnet, or leave ipam out (the engine picks the subnet)", field)
	}
	return out, nil
}

// invalidf is an error for invalid() to wrap with its field.
func invalidf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// inSubnet says why a is not a host address in sub.
func inSubnet(a string, sub netip.Prefix) error {
	ip, err := netip.ParseAddr(a)
	switch {
	case err != nil:
		return invalidf("%q is not an IP address", a)
	case !sub.Contains(ip):
		return invalidf("%s is outside the subnet %s", a, sub)
	case ip == sub.Addr():
		return invalidf("%s is the subnet's own address", a)
	}
	return nil
}

// addAddresses puts r's static addresses on s's endpoints: each on a
// network the service joins, inside one of its ipam subnets, not its
// gateway or an aux address, and no other service's.
func (m *Meta) addAddresses(field string, r ServiceDoc, s *Service) error {
	for _, n := range slices.Sorted(maps.Keys(r.Addresses)) {
		a := r.Addresses[n]
		where := field + ".addresses." + n
		i := -1
		if net := m.network(n); net != nil {
			i = slices.IndexFunc(s.Config.Networks, func(ep engine.Endpoint) bool { return ep.Network == net.EngineName })
		}
		if i < 0 {
			return invalid("%s: the service is not on network %q: add it to the service's networks", where, n)
		}
		net := m.network(n)
		for _, f := range []struct {
			key, addr string
			v6        bool
			to        *string
		}{{"ipv4_address", a.IPv4, false, &s.Config.Networks[i].IPv4Address}, {"ipv6_address", a.IPv6, true, &s.Config.Networks[i].IPv6Address}} {
			if f.addr == "" {
				continue
			}
			if err := checkAddress(net, f.addr, f.v6); err != nil {
				return invalid("%s.%s: %v", where, f.key, err)
			}
			for _, o := range m.Services {
				for _, ep := range o.Config.Networks {
					if ep.Network == net.EngineName && (ep.IPv4Address == f.addr || ep.IPv6Address == f.addr) {
						return invalid("%s.%s: %s is service %s's address too; give each service its own", where, f.key, f.addr, o.Name)
					}
				}
			}
			*f.to = f.addr
		}
	}
	return nil
}

// checkAddress says why addr cannot be a static address on net.
func checkAddress(net *Network, addr string, v6 bool) error {
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return invalidf("%q is not an IP address", addr)
	}
	if ip.Is6() != v6 {
		return invalidf("%s is not an IPv%s address", addr, map[bool]string{false: "4", true: "6"}[v6])
	}
	if net.IPAM == nil {
		return invalidf("network %s has no ipam config: give it ipam: {config: [{subnet: ...}]} with a subnet that holds %s (a static address needs a fixed subnet)", net.Name, addr)
	}
	for _, p := range net.IPAM.Config {
		sub := netip.MustParsePrefix(p.Subnet)
		if !sub.Contains(ip) {
			continue
		}
		if err := inSubnet(addr, sub); err != nil {
			return err
		}
		if addr == p.Gateway || slices.Contains(slices.Collect(maps.Values(p.AuxAddresses)), addr) {
			return invalidf("%s is the gateway or an aux address of network %s", addr, net.Name)
		}
		return nil
	}
	var subs []string
	for _, p := range net.IPAM.Config {
		subs = append(subs, p.Subnet)
	}
	return invalidf("%s is outside the subnets of network %s (%v): write an address inside one", addr, net.Name, subs)
}
