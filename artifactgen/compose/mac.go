package compose

import (
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mender-docker/mender-docker/module/spec"
)

// macAddress is the service's MAC address for --mac-address: its
// mac_address, or its first network's (the container's primary one:
// networks join in name order). The device's engine (Docker 20.10, API
// 1.41) sets one MAC per container, on that network; later engines set it
// per network, and the module gives it to the first one there too.
func macAddress(where string, s types.ServiceConfig) (string, error) {
	mac, key := s.MacAddress, "mac_address"
	names := slices.Sorted(maps.Keys(s.Networks))
	for i, n := range names {
		cfg := s.Networks[n]
		if cfg == nil || cfg.MacAddress == "" {
			continue
		}
		if i > 0 {
			return "", fmt.Errorf("%s: networks.%s: mac_address: %w: the device's engine (Docker 20.10, API 1.41) sets one MAC address per container, on its first network (%s): give it there or as the service's mac_address", where, n, ErrUnsupported, names[0])
		}
		if mac != "" && mac != cfg.MacAddress {
			return "", fmt.Errorf("%s: networks.%s: mac_address: %s differs from the service's mac_address %s: one MAC address per container; give one of them", where, n, cfg.MacAddress, mac)
		}
		mac, key = cfg.MacAddress, "networks."+n+".mac_address"
	}
	if mac == "" {
		return "", nil
	}
	v, err := spec.ParseMAC(mac)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", where, key, err)
	}
	if handOver(s) {
		return "", fmt.Errorf("%s: %s: hand-over starts a second copy beside the first, and a MAC address (%s) can be only one container's: two copies cannot coexist", where, UpdateExtension, key)
	}
	if why := spec.MACRefusal(s.NetworkMode); why != "" {
		return "", fmt.Errorf("%s: %s with network_mode %s: %w: %s; leave %s out", where, key, s.NetworkMode, ErrUnsupported, why, key)
	}
	return v, nil
}
