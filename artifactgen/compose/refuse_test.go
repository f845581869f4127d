package compose_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
)

// project writes files (name -> content) into a new directory.
func project(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// Every key the device cannot honour fails generation naming the service
// and the key; so do the bypasses of the device policy that running
// Compose on the device allowed.
func TestRefused(t *testing.T) {
	addr := newRegistry(t)
	img := "    image: " + addr + "/shop/web:7\n"
	svc := func(extra string) string { return "services:\n  web:\n" + img + extra }
	for _, tc := range []struct {
		name, compose string
		params        map[string]string
		files         map[string]string
		want          []string
	}{
		// Unsupported keys.
		{name: "build", compose: "services:\n  web:\n    build: .\n", want: []string{"service web", "build", "build and push first"}},
		{name: "build with image", compose: svc("    build: .\n"), want: []string{"service web", "build", "build and push first"}},
		{name: "deploy replicas", compose: svc("    deploy: {replicas: 3}\n"), want: []string{"service web", "deploy", "replicas"}},
		{name: "deploy mode global", compose: svc("    deploy: {mode: global}\n"), want: []string{"service web", "deploy: mode: global", "one container per service"}},
		{name: "deploy reservations devices", compose: svc("    deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}\n"), want: []string{"service web", "deploy.resources.reservations", "GPU"}},
		{name: "deploy restart_policy condition", compose: svc("    deploy: {restart_policy: {condition: sometimes}}\n"), want: []string{"service web", "deploy.restart_policy.condition"}},
		{name: "external_links", compose: svc("    external_links: [other]\n"), want: []string{"service web", "external_links", "put them in the project"}},
		{name: "links without a shared network", compose: "services:\n  db:\n" + img + "    network_mode: none\n  web:\n" + img + "    links: [\"db:database\"]\n",
			want: []string{"service web: links: db:database: web and db share no network"}},
		{name: "cpus with cpu_quota", compose: svc("    cpus: 0.5\n    cpu_quota: 50000\n"), want: []string{"service web: cpus with cpu_period or cpu_quota", "give cpus, or cpu_quota with cpu_period"}},
		{name: "memswap_limit without a memory limit", compose: svc("    memswap_limit: 128m\n"), want: []string{"service web: memswap_limit without mem_limit"}},
		{name: "mem_reservation above mem_limit", compose: svc("    mem_limit: 64m\n    mem_reservation: 128m\n"), want: []string{"services.web.run_args: --memory-reservation 134217728 is above -m/--memory 67108864"}},
		{name: "storage_opt", compose: svc("    storage_opt: {size: 1G}\n"), want: []string{"service web", "storage_opt", "storage driver"}},
		{name: "mem_swappiness", compose: svc("    mem_swappiness: 10\n"), want: []string{"service web", "mem_swappiness", "memswap_limit"}},
		{name: "cpu_rt_runtime", compose: svc("    cpu_rt_runtime: 400\n"), want: []string{"service web", "cpu_rt_runtime", "real-time"}},
		{name: "cpu_count", compose: svc("    cpu_count: 2\n"), want: []string{"service web", "cpu_count", "give cpus"}},
		{name: "blkio_config device limits", compose: svc("    blkio_config: {device_read_bps: [{path: /dev/sda, rate: 1mb}]}\n"), want: []string{"service web", "blkio_config", "device_read_bps", "only weight"}},
		{name: "volumes_from", compose: "services:\n  db:\n" + img + "  web:\n" + img + "    volumes_from: [db]\n", want: []string{"service web", "volumes_from"}},
		{name: "cgroup", compose: svc("    cgroup: host\n"), want: []string{"service web", "cgroup"}},
		{name: "cgroup_parent", compose: svc("    cgroup_parent: x\n"), want: []string{"service web", "cgroup_parent"}},
		{name: "use_api_socket", compose: svc("    use_api_socket: true\n"), want: []string{"service web", "use_api_socket"}},
		{name: "mac_address not a MAC", compose: svc("    mac_address: 02:42:ac:11:00\n"), want: []string{"service web", "mac_address", "02:42:ac:11:00", "48-bit"}},
		{name: "mac_address multicast", compose: svc("    mac_address: 03:42:ac:11:00:02\n"), want: []string{"service web", "mac_address", "multicast", "02:42:ac:11:00:02"}},
		{name: "mac_address with network_mode none", compose: svc("    mac_address: 02:42:ac:11:00:02\n    network_mode: none\n"), want: []string{"service web", "mac_address", "network_mode none", "no network interface"}},
		{name: "mac_address with network_mode host", compose: svc("    mac_address: 02:42:ac:11:00:02\n    network_mode: host\n"), want: []string{"service web", "mac_address", "network_mode host", "the device's own"}},
		{name: "platform", compose: svc("    platform: linux/arm64\n"), want: []string{"service web", "platform", "not supported: pin the platform's image with Resolver.Platform"}},
		{name: "runtime", compose: svc("    runtime: runc\n"), want: []string{"service web", "runtime"}},
		{name: "scale", compose: svc("    scale: 2\n"), want: []string{"service web", "scale"}},
		{name: "post_start", compose: svc("    post_start: [{command: x}]\n"), want: []string{"service web", "post_start"}},
		{name: "network_mode service", compose: "services:\n  db:\n" + img + "  web:\n" + img + "    network_mode: service:db\n", want: []string{"service web", "network_mode"}},
		{name: "pid service", compose: "services:\n  db:\n" + img + "  web:\n" + img + "    pid: service:db\n", want: []string{"service web", "pid"}},
		{name: "network ipv4_address without ipam", compose: svc("    networks:\n      n: {ipv4_address: 10.0.0.2}\nnetworks:\n  n: {}\n"), want: []string{"services.web.addresses.n.ipv4_address", "network n has no ipam config", "subnet that holds 10.0.0.2"}},
		{name: "network ipv4_address outside", compose: svc("    networks:\n      n: {ipv4_address: 10.8.0.2}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.0/24}]}}\n"), want: []string{"services.web.addresses.n.ipv4_address", "10.8.0.2 is outside the subnets of network n", "write an address inside one"}},
		{name: "network ipv6_address of family 4", compose: svc("    networks:\n      n: {ipv6_address: 10.9.0.2}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.0/24}]}}\n"), want: []string{"ipv6_address", "not an IPv6 address"}},
		{name: "network ipam bad subnet", compose: svc("    networks: [n]\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.1/24}]}}\n"), want: []string{"networks.n.ipam.config[0].subnet", "CIDR form"}},
		{name: "network ipam gateway outside", compose: svc("    networks: [n]\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.8.0.1}]}}\n"), want: []string{"networks.n.ipam.config[0].gateway", "outside the subnet"}},
		{name: "network ipam ipv6 without enable_ipv6", compose: svc("    networks: [n]\nnetworks:\n  n: {ipam: {config: [{subnet: \"fd00:1::/64\"}]}}\n"), want: []string{"networks.n.ipam.config[0].subnet", "enable_ipv6: true"}},
		{name: "network ipam driver", compose: svc("    networks: [n]\nnetworks:\n  n: {ipam: {driver: dhcp, config: [{subnet: 10.9.0.0/24}]}}\n"), want: []string{"networks.n.ipam.driver", "only the default driver"}},
		{name: "same static address twice", compose: "services:\n  a:\n" + img + "    networks:\n      n: {ipv4_address: 10.9.0.2}\n  web:\n" + img + "    networks:\n      n: {ipv4_address: 10.9.0.2}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.0/24}]}}\n", want: []string{"10.9.0.2 is service a's address too"}},
		{name: "network priority", compose: svc("    networks:\n      n: {priority: 10}\nnetworks:\n  n: {}\n"), want: []string{"service web: networks.n: priority: not supported: leave it out", "in name order"}},
		{name: "network link_local_ips", compose: svc("    networks:\n      n: {link_local_ips: [169.254.8.8]}\nnetworks:\n  n: {}\n"), want: []string{"service web: networks.n: link_local_ips: not supported: leave it out"}},
		{name: "network mac_address not on the first network", compose: svc("    networks:\n      a: {}\n      n: {mac_address: \"02:42:ac:11:00:02\"}\nnetworks:\n  a: {}\n  n: {}\n"), want: []string{"service web", "networks.n: mac_address", "API 1.41", "on its first network (a): give it there or as the service's mac_address"}},
		{name: "network mac_address other than the service's", compose: svc("    mac_address: 02:42:ac:11:00:03\n    networks:\n      n: {mac_address: \"02:42:ac:11:00:02\"}\nnetworks:\n  n: {}\n"), want: []string{"service web", "networks.n: mac_address", "differs from the service's mac_address 02:42:ac:11:00:03"}},
		{name: "hand-over with mac_address", compose: svc("    x-mender-update: hand-over\n    mac_address: 02:42:ac:11:00:02\n"), want: []string{"service web", "x-mender-update", "MAC address (mac_address)", "two copies cannot coexist"}},
		{name: "hand-over with static address", compose: svc("    x-mender-update: hand-over\n    networks:\n      n: {ipv4_address: 10.9.0.2}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.9.0.0/24}]}}\n"), want: []string{"service web", "x-mender-update", "static address", "two copies cannot coexist"}},
		{name: "annotations", compose: svc("    annotations: {a: b}\n"), want: []string{"service web", "annotations", "give labels"}},
		{name: "healthcheck start_interval", compose: svc("    healthcheck: {test: x, start_interval: 1s}\n"), want: []string{"service web", "healthcheck", "start_interval"}},
		{name: "secret mode", compose: svc("    secrets: [{source: s, mode: 0400}]\nsecrets:\n  s: {file: ./s}\n"), files: map[string]string{"s": "x"}, want: []string{"service web", "secrets", "mode"}},
		{name: "volume nocopy", compose: svc("    volumes: [{type: volume, source: v, target: /v, volume: {nocopy: true}}]\nvolumes:\n  v: {}\n"), want: []string{"service web", "nocopy"}},
		{name: "bind propagation", compose: svc("    volumes: [{type: bind, source: /srv, target: /v, bind: {propagation: rshared}}]\n"), want: []string{"service web", "propagation"}},
		{name: "external network with driver", compose: svc("    networks: [n]\nnetworks:\n  n: {external: true, driver: bridge}\n"), want: []string{"networks.n", "driver", "used as the device has it"}},
		{name: "network driver", compose: svc("    networks: [n]\nnetworks:\n  n: {driver: macvlan}\n"), want: []string{"networks.n", "driver"}},
		{name: "external volume with labels", compose: svc("    volumes: [v:/v]\nvolumes:\n  v: {external: true, labels: {a: b}}\n"), want: []string{"volumes.v", "external", "labels"}},
		{name: "named volume", compose: svc("    volumes: [v:/v]\nvolumes:\n  v: {name: other}\n"), want: []string{"volumes.v", "name", "add external: true"}},
		{name: "external network bridge", compose: svc("    networks: [n]\nnetworks:\n  n: {external: true, name: bridge}\n"), want: []string{"networks.n", "bridge", "network_mode"}},
		{name: "volume driver", compose: svc("    volumes: [v:/v]\nvolumes:\n  v: {driver: nfs}\n"), want: []string{"volumes.v", "driver"}},
		{name: "empty command", compose: svc("    command: []\n"), want: []string{"service web", "command"}},
		{name: "cpu_rt_period", compose: svc("    cpu_rt_period: 1000\n"), want: []string{"service web", "cpu_rt_period", "real-time"}},
		{name: "cpu_percent", compose: svc("    cpu_percent: 50\n"), want: []string{"service web", "cpu_percent", "give cpus"}},
		{name: "credential_spec", compose: svc("    credential_spec: {file: x.json}\n"), want: []string{"service web", "credential_spec", "Windows only"}},
		{name: "service volume_driver", compose: svc("    volume_driver: nfs\n"), want: []string{"services.web", "unknown key \"volume_driver\""}}, // compose-go's own refusal
		{name: "gpus", compose: svc("    gpus: all\n"), want: []string{"service web", "gpus", "no GPU requests"}},
		{name: "isolation", compose: svc("    isolation: process\n"), want: []string{"service web", "isolation", "Windows only"}},
		{name: "pre_stop", compose: svc("    pre_stop: [{command: [x]}]\n"), want: []string{"service web", "pre_stop", "no lifecycle hooks"}},
		{name: "post_start", compose: svc("    post_start: [{command: [x]}]\n"), want: []string{"service web", "post_start", "no lifecycle hooks"}},
		{name: "develop", compose: svc("    develop: {watch: [{path: ., action: rebuild}]}\n"), want: []string{"service web", "develop", "development only"}},
		{name: "selinux Z on a project bind", compose: svc("    volumes: [\"./conf:/etc/conf:ro,Z\"]\n"), files: map[string]string{"conf/a": "a"},
			want: []string{"service web: volumes: /etc/conf: :Z: not supported on a project file", "absolute host path"}},
		{name: "network enable_ipv4 false", compose: svc("    networks: [n]\nnetworks:\n  n: {enable_ipv4: false}\n"), want: []string{"networks.n: enable_ipv4: false", "leave it out"}},
		{name: "network ipam options", compose: svc("    networks: [n]\nnetworks:\n  n: {ipam: {options: {a: b}, config: [{subnet: 10.9.0.0/24}]}}\n"), want: []string{"networks.n: ipam.options", "the default driver takes none"}},
		{name: "network gw_priority", compose: svc("    networks:\n      n: {gw_priority: 1}\nnetworks:\n  n: {}\n"), want: []string{"service web: networks.n: gw_priority: not supported: leave it out"}},
		{name: "network interface_name", compose: svc("    networks:\n      n: {interface_name: eth7}\nnetworks:\n  n: {}\n"), want: []string{"service web: networks.n: interface_name: not supported: leave it out"}},
		{name: "network driver_opts", compose: svc("    networks: [n]\nnetworks:\n  n: {driver_opts: {a: b}}\n"), want: []string{"networks.n: driver_opts", "leave them out"}},
		{name: "net", compose: svc("    net: host\n"), want: []string{"services.web", "unknown key \"net\""}}, // compose-go's own refusal
		{name: "provider", compose: "services:\n  web:\n    provider: {type: model}\n", want: []string{"service web: provider", "provider services run no container"}},
		{name: "models", compose: svc("") + "models:\n  m: {model: ai/x}\n", want: []string{"models: not supported", "serve the model from a service"}},
		{name: "jobs", compose: svc("") + "jobs:\n  j:\n" + img, want: []string{"jobs"}},

		// Bypasses of the device policy through Compose.
		{name: "network_mode param", compose: svc("    network_mode: ${NET}\n"), params: map[string]string{"NET": "none"},
			want: []string{"service web: network_mode: ${NET} is a device parameter; parameters are allowed only in values"}},
		{name: "pid param with default", compose: svc("    pid: ${P:-host}\n"), params: map[string]string{"P": ""},
			want: []string{"service web: pid: ${P} is a device parameter"}},
		{name: "privileged param", compose: svc("    privileged: ${PRIV}\n"), params: map[string]string{"PRIV": "false"}, want: []string{"service web: privileged: ${PRIV} is a device parameter"}},
		{name: "cap_add param", compose: svc("    cap_add: [\"${CAP}\"]\n"), params: map[string]string{"CAP": "NET_ADMIN"}, want: []string{"service web: cap_add: ${CAP}"}},
		{name: "security_opt param", compose: svc("    security_opt: [\"${SEC}\"]\n"), params: map[string]string{"SEC": "x"}, want: []string{"service web: security_opt: ${SEC}"}},
		{name: "userns_mode param", compose: svc("    userns_mode: ${U}\n"), params: map[string]string{"U": "host"}, want: []string{"service web: userns_mode: ${U}"}},
		{name: "uts param", compose: svc("    uts: ${U}\n"), params: map[string]string{"U": "host"}, want: []string{"service web: uts: ${U}"}},
		{name: "ipc param", compose: svc("    ipc: ${U}\n"), params: map[string]string{"U": "host"}, want: []string{"service web: ipc: ${U}"}},
		{name: "devices param", compose: svc("    devices: [\"${D}:/dev/x\"]\n"), params: map[string]string{"D": "/dev/sda"}, want: []string{"service web: devices: ${D}"}},
		{name: "volume source param", compose: svc("    volumes: [\"${SRC}:/x\"]\n"), params: map[string]string{"SRC": "/"}, want: []string{"web", "${SRC}"}},
		{name: "bind source param", compose: svc("    volumes: [\"/data/${SRC}:/x\"]\n"), params: map[string]string{"SRC": "../etc"}, want: []string{"service web: volumes: ${SRC} is a device parameter"}},
		{name: "image param", compose: "services:\n  web:\n    image: ${IMG}\n", params: map[string]string{"IMG": "x"}, want: []string{"service web: image: ${IMG}"}},
		{name: "writable project bind", compose: svc("    volumes: [\"./conf:/etc/conf\"]\n"), files: map[string]string{"conf/a": "a"},
			want: []string{"service web: volumes: /etc/conf: ./conf: a writable bind of project files", "add :ro", "named volume"}},
		{name: "writable project bind, long syntax", compose: svc("    volumes: [{type: bind, source: ./a, target: /a}]\n"), files: map[string]string{"a": "a"},
			want: []string{"service web: volumes: /a: ./a: a writable bind of project files"}},
		{name: "bind of a missing project directory", compose: svc("    volumes: [\"./data:/var/lib/data\"]\n"),
			want: []string{"service web: volumes: /var/lib/data: ./data does not exist in the project", "named volume (NAME:/var/lib/data"}},
		{name: "selinux on a project bind", compose: svc("    volumes: [\"./conf:/etc/conf:ro,z\"]\n"), files: map[string]string{"conf/a": "a"},
			want: []string{"service web: volumes: /etc/conf: :z: not supported on a project file", "absolute host path"}},
		{name: "bind leaving the project", compose: svc("    volumes: [{type: bind, source: ../../../../etc, target: /host-etc}]\n"),
			want: []string{"service web", "volumes", "../../../../etc", "outside the project directory"}},
		{name: "short bind leaving the project", compose: svc("    volumes: [\"../x:/x\"]\n"), want: []string{"service web", "volumes", "outside the project directory"}},
		{name: "secret outside", compose: svc("    secrets: [s]\nsecrets:\n  s: {file: /etc/shadow}\n"), want: []string{"service web", "secrets", "/etc/shadow", "outside the project directory"}},
		{name: "config outside", compose: svc("    configs: [c]\nconfigs:\n  c: {file: ../c}\n"), want: []string{"service web", "configs", "outside the project directory"}},
		{name: "env_file outside", compose: svc("    env_file: /etc/shadow\n"), want: []string{"service web", "env_file", "/etc/shadow", "outside the project directory"}},
		{name: "label_file outside", compose: svc("    label_file: /etc/shadow\n"), want: []string{"service web", "label_file", "outside the project directory"}},
		{name: "volume driver_opts", compose: svc("    volumes: [v:/v]\nvolumes:\n  v: {driver_opts: {type: none, o: bind, device: /}}\n"), want: []string{"volumes.v", "driver_opts"}},

		// Hand-over where two copies cannot coexist.
		{name: "hand-over with host port", compose: svc("    x-mender-update: hand-over\n    ports: [\"8080:80\"]\n"), want: []string{"service web", "x-mender-update", "8080", "two copies cannot coexist"}},
		{name: "hand-over with param host port", compose: svc("    x-mender-update: hand-over\n    ports: [{target: 80, published: \"${P}\"}]\n"), params: map[string]string{"P": "8080"}, want: []string{"service web", "x-mender-update", "two copies cannot coexist"}},
		{name: "hand-over with container_name", compose: svc("    x-mender-update: hand-over\n    container_name: web\n"), want: []string{"service web", "x-mender-update", "container_name", "two copies cannot coexist"}},
		{name: "bad strategy", compose: svc("    x-mender-update: rolling\n"), want: []string{"service web", "x-mender-update", "recreate or hand-over"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"compose.yaml": tc.compose}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := project(t, files)
			_, _, err := document(t, dir, compose.Options{Params: tc.params})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n")
			t.Log(err)
		})
	}
}
