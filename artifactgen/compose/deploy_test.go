package compose_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The resource keys and deploy reach the container as docker compose up
// maps them; swarm's deploy keys are ignored, each with a warning; links
// give the linked service the alias on the networks the two share.
func TestResourcesDeployLinks(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": `
services:
  web:
    image: ` + addr + `/shop/web:7
    restart: always
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    pids_limit: 100
    mem_limit: 64m
    memswap_limit: 128m
    mem_reservation: 16m
    cpu_shares: 512
    cpu_period: 100000
    cpu_quota: 50000
    cpuset: "0-1"
    oom_score_adj: 100
    oom_kill_disable: true
    blkio_config: {weight: 300}
    links: ["db:database", db]
  db:
    image: ` + addr + `/shop/db:15
    deploy:
      replicas: 1
      mode: replicated
      placement: {constraints: [node.role==manager]}
      update_config: {parallelism: 2}
      rollback_config: {parallelism: 1}
      endpoint_mode: vip
      labels: {a: b}
      resources:
        limits: {cpus: "0.25", memory: 32m, pids: 50}
        reservations: {memory: 8m, cpus: "0.1"}
      restart_policy: {condition: on-failure, max_attempts: 3, delay: 5s}
`})
	var warnings []string
	_, out, err := document(t, dir, compose.Options{Warn: func(w string) { warnings = append(warnings, w) }})
	require.NoError(t, err)
	m, err := spec.Parse(out)
	require.NoError(t, err)
	byName := map[string]spec.Service{}
	for _, s := range m.Services {
		byName[s.Name] = s
	}
	web, db := byName["web"].Config, byName["db"].Config
	assert.Equal(t, []engine.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 512, Hard: 512}}, web.Ulimits)
	assert.Equal(t, int64(100), web.PidsLimit)
	assert.Equal(t, int64(128<<20), web.MemorySwap)
	assert.Equal(t, int64(16<<20), web.MemoryReservation)
	assert.Equal(t, [3]int64{512, 100000, 50000}, [3]int64{web.CPUShares, web.CPUPeriod, web.CPUQuota})
	assert.Equal(t, "0-1", web.CpusetCpus)
	assert.Equal(t, 100, web.OomScoreAdj)
	assert.True(t, web.OomKillDisable)
	assert.Equal(t, uint16(300), web.BlkioWeight)
	assert.Equal(t, "always", web.RestartPolicy)

	assert.Equal(t, int64(32<<20), db.Memory)
	assert.Equal(t, int64(2.5e8), db.NanoCPUs)
	assert.Equal(t, int64(50), db.PidsLimit)
	assert.Equal(t, int64(8<<20), db.MemoryReservation)
	assert.Equal(t, "on-failure", db.RestartPolicy)
	assert.Equal(t, 3, db.RestartRetries)
	assert.ElementsMatch(t, []string{
		"service db: deploy.labels is swarm's and ignored, as docker compose up ignores it",
		"service db: deploy.placement is swarm's and ignored, as docker compose up ignores it",
		"service db: deploy.update_config is swarm's and ignored, as docker compose up ignores it",
		"service db: deploy.rollback_config is swarm's and ignored, as docker compose up ignores it",
		"service db: deploy.endpoint_mode is swarm's and ignored, as docker compose up ignores it",
		"service db: deploy.resources.reservations cpus and pids are ignored, as docker compose up ignores them",
		"service db: deploy.restart_policy delay and window are swarm's and ignored, as docker compose up ignores them",
	}, warnings)

	assert.Equal(t, []spec.Dependency{{Service: "db", Condition: spec.ServiceStarted}}, byName["web"].DependsOn, "a link is a dependency")
	var aliases []string
	for _, e := range db.Networks {
		aliases = append(aliases, e.Aliases...)
	}
	assert.Equal(t, []string{"db", "database"}, aliases)
}

// deploy.restart_policy replaces restart, as docker compose up reads it;
// without a condition, restart stands.
func TestDeployRestartPolicy(t *testing.T) {
	addr := newRegistry(t)
	for cond, want := range map[string]string{"none": "no", "any": "always", "on-failure": "on-failure", "": "unless-stopped"} {
		dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    restart: unless-stopped\n" +
			"    deploy: {restart_policy: {condition: \"" + cond + "\"}}\n"})
		_, out, err := document(t, dir, compose.Options{})
		require.NoError(t, err, cond)
		m, err := spec.Parse(out)
		require.NoError(t, err)
		assert.Equal(t, want, m.Services[0].Config.RestartPolicy, cond)
	}
}
