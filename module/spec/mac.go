package spec

import (
	"fmt"
	"net"
	"strings"

	"github.com/mender-docker/mender-docker/module/engine"
)

// A container's own MAC address (--mac-address, Compose's mac_address),
// checked here for the generator and the device alike, so that a bad one
// fails before anything changes rather than at container create.

// ParseMAC checks a MAC address for a container: 48 bits, unicast
// (locally or globally administered), not all zeros. It returns the
// engine's lower-case form.
func ParseMAC(v string) (string, error) {
	hw, err := net.ParseMAC(v)
	switch {
	case err != nil || len(hw) != 6:
		return "", fmt.Errorf("%q is not a 48-bit MAC address such as 02:42:ac:11:00:02", v)
	case hw[0]&1 != 0:
		return "", fmt.Errorf("%s is a multicast address (the first octet is odd): give a unicast one such as 02:42:ac:11:00:02", v)
	case strings.Trim(hw.String(), "0:") == "":
		return "", fmt.Errorf("%s is all zeros: give an address such as 02:42:ac:11:00:02", v)
	}
	return hw.String(), nil
}

// MACRefusal says why a container of network mode mode cannot have a MAC
// address of its own, or "" when it can.
func MACRefusal(mode string) string {
	switch {
	case mode == "none":
		return "a container without a network has no network interface to give it to"
	case mode == "host":
		return "the container uses the device's own network interfaces, which keep their MAC addresses"
	}
	return ""
}

// checkMAC refuses --mac-address where the engine cannot honour it.
func checkMAC(c *engine.ContainerConfig) error {
	if c.MacAddress == "" {
		return nil
	}
	if why := MACRefusal(c.NetworkMode); why != "" {
		return fmt.Errorf("--mac-address with --network %s: %s; leave --mac-address out", c.NetworkMode, why)
	}
	return nil
}

// canHandOverAddresses tells why two copies of s could not run side by
// side on its networks: an address or MAC can be only one container's.
func canHandOverAddresses(s Service) error {
	for _, ep := range s.Config.Networks {
		if ep.IPv4Address != "" || ep.IPv6Address != "" {
			return fmt.Errorf("needs two copies running at once, and a static address on network %s can be held by only one", ep.Network)
		}
	}
	if s.Config.MacAddress != "" {
		return fmt.Errorf("needs two copies running at once, and MAC address %s can be one container's only", s.Config.MacAddress)
	}
	return nil
}
