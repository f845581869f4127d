#!/usr/bin/env bash
# Installs what the tests, benchmarks and demo need on a Debian machine
# (run as root): the Docker engine, the Mender client and mender-artifact,
# jq for the shell module that the benchmarks compare against, GNU time
# for their memory figures, and the run-time libraries of the C++ client
# mender-update 5.x (../shared/mender-client-5, or $MENDER_UPDATE) that the
# end-to-end tests also run, and lintian for the Debian packages. Quick and quiet when everything is there.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mender >/dev/null || need+=(mender-client)
command -v mender-artifact >/dev/null || need+=(mender-artifact)
command -v jq >/dev/null || need+=(jq)
command -v unshare >/dev/null || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)
# make deb's checks: lintian, and systemd-analyze for the units.
command -v lintian >/dev/null || need+=(lintian)
command -v systemd-analyze >/dev/null || need+=(systemd)
# mender-update is built for Debian 12 and links these shared libraries.
mender_update=${MENDER_UPDATE:-$(dirname "$0")/../../shared/mender-client-5/mender-update}
if [ -x "$mender_update" ] && ldd "$mender_update" | grep -q 'not found'; then
  need+=(libarchive13 libboost-filesystem1.74.0 libboost-log1.74.0 libboost-thread1.74.0 liblmdb0 libdbus-1-3 libssl3)
fi
if ((${#need[@]})); then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is missing: install Go 1.26.8 or newer (PATH=/usr/local/go/bin:\$PATH)" >&2; exit 1; }
