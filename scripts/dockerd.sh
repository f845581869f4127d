#!/usr/bin/env bash
# Starts a Docker engine if none answers, with the settings the tests
# expect: vfs storage (works anywhere), and no bridge, no iptables, so that
# containers get no network beyond --network host or none.
set -euo pipefail

docker_ok() { curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }

if docker_ok; then exit 0; fi
log=${DOCKERD_LOG:-/tmp/mender-docker-dockerd.log}
echo "starting dockerd (log: $log)" >&2
# setsid: the daemon outlives this script and the make that ran it.
setsid dockerd --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker_ok; then exit 0; fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1
