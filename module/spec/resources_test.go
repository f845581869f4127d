package spec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The resource flags of docker run (what Compose's ulimits, pids_limit,
// memswap_limit, mem_reservation, cpu_*, cpuset, blkio_config.weight and
// oom_* compile to) parse into the engine's fields; values the engine
// would refuse at create fail here, naming the flag.
func TestRunArgsResources(t *testing.T) {
	var got engine.ContainerConfig
	require.NoError(t, spec.ParseRunArgs("--ulimit nofile=1024:2048 --ulimit core=-1 --pids-limit 100 -m 64m --memory-swap 128m --memory-reservation 32m "+
		"--cpu-shares 512 --cpu-period 100000 --cpu-quota 50000 --cpuset-cpus 0-1,3 --cpuset-mems 0 --blkio-weight 300 --oom-score-adj -500 --oom-kill-disable", &got))
	assert.Equal(t, engine.ContainerConfig{
		Ulimits:   []engine.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}},
		PidsLimit: 100, Memory: 64 << 20, MemorySwap: 128 << 20, MemoryReservation: 32 << 20,
		CPUShares: 512, CPUPeriod: 100000, CPUQuota: 50000, CpusetCpus: "0-1,3", CpusetMems: "0",
		BlkioWeight: 300, OomScoreAdj: -500, OomKillDisable: true,
	}, got)
	got = engine.ContainerConfig{}
	require.NoError(t, spec.ParseRunArgs("-m 64m --memory-swap 64m --memory-reservation 64m --cpu-quota 50000", &got), "the engine's limits, not beyond")
	got = engine.ContainerConfig{}
	require.NoError(t, spec.ParseRunArgs("--pids-limit -1 --memory-swap -1 --dns-search a.example --dns-option ndots:2 --domainname b.example", &got))
	assert.Equal(t, engine.ContainerConfig{PidsLimit: -1, MemorySwap: -1, DNSSearch: []string{"a.example"}, DNSOptions: []string{"ndots:2"}, Domainname: "b.example"}, got)
	for args, want := range map[string]string{
		"--ulimit nofile":          "--ulimit",
		"--ulimit bogus=1":         "--ulimit",
		"--ulimit nofile=10:5":     "soft limit is above",
		"--pids-limit 0":           "--pids-limit",
		"--cpu-shares 1":           "--cpu-shares",
		"--cpuset-cpus a":          "--cpuset-cpus",
		"--blkio-weight 5":         "--blkio-weight",
		"--oom-score-adj 2000":     "--oom-score-adj",
		"--memory-reservation big": "--memory-reservation",
		"--dns-search 'a b'":       "--dns-search",
		"--domainname a/b":         "--domainname",
		// What the engine refuses together at create.
		"--cpus 1 --cpu-quota 50000":       "--cpus with --cpu-period or --cpu-quota",
		"--memory-swap 128m":               "--memory-swap without -m/--memory",
		"-m 64m --memory-swap 32m":         "--memory-swap 33554432 is below -m/--memory 67108864",
		"--oom-kill-disable":               "--oom-kill-disable without -m/--memory",
		"-m 64m --memory-reservation 128m": "--memory-reservation 134217728 is above -m/--memory 67108864",
	} {
		var c engine.ContainerConfig
		err := spec.ParseRunArgs(args, &c)
		if assert.Error(t, err, args) {
			assert.Contains(t, err.Error(), want, args)
		}
	}
}
