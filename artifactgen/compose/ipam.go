package compose

import (
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mender-docker/mender-docker/module/spec"
)

// Fixed subnets and static addresses. The spec checks them (the subnet
// holds the address, and so on), for the generator and the device alike.

// networkIPAM is a network's ipam and enable_ipv6 for the meta-data.
func networkIPAM(where string, n types.NetworkConfig, doc *spec.NetworkDoc) error {
	doc.EnableIPv6 = n.EnableIPv6 != nil && *n.EnableIPv6
	if n.EnableIPv4 != nil && !*n.EnableIPv4 {
		return fmt.Errorf("%s: enable_ipv4: false: %w (an IPv6-only network needs an engine newer than the device's 20.10); leave it out", where, ErrUnsupported)
	}
	ipam := n.Ipam
	if ipam.Driver == "" && len(ipam.Config) == 0 && len(ipam.Options) == 0 {
		return nil
	}
	if len(ipam.Options) > 0 {
		return fmt.Errorf("%s: ipam.options: %w: they configure an IPAM driver; the default driver takes none", where, ErrUnsupported)
	}
	doc.IPAM = &spec.IPAMDoc{Driver: ipam.Driver}
	for i, p := range ipam.Config {
		if p == nil {
			continue
		}
		if len(p.Extensions) > 0 {
			return fmt.Errorf("%s: ipam.config[%d]: %w: only subnet, ip_range, gateway and aux_addresses", where, i, ErrUnsupported)
		}
		doc.IPAM.Config = append(doc.IPAM.Config, spec.IPAMPoolDoc{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, AuxAddresses: maps.Clone(map[string]string(p.AuxiliaryAddresses))})
	}
	return nil
}

// addresses are a service's static addresses by network.
func addresses(where string, s types.ServiceConfig) (map[string]spec.AddressDoc, error) {
	var out map[string]spec.AddressDoc
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		cfg := s.Networks[n]
		if cfg == nil {
			continue
		}
		if cfg.Ipv4Address == "" && cfg.Ipv6Address == "" {
			continue
		}
		if handOver(s) {
			return nil, fmt.Errorf("%s: %s: hand-over starts a second copy beside the first, and a static address (networks.%s) can be held by only one: two copies cannot coexist", where, UpdateExtension, n)
		}
		if out == nil {
			out = map[string]spec.AddressDoc{}
		}
		out[n] = spec.AddressDoc{IPv4: cfg.Ipv4Address, IPv6: cfg.Ipv6Address}
	}
	return out, nil
}

func handOver(s types.ServiceConfig) bool {
	v, _ := s.Extensions[UpdateExtension].(string)
	return spec.Strategy(v) == spec.HandOver
}
