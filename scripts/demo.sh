#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to a demonstration:
# installs what is needed, starts dockerd and a registry on 127.0.0.1,
# builds the module, the generator and the demo images, writes every
# artifact with docker-artifact-gen, then, through the real Mender
# client in standalone mode, installs v1 of a demo app, updates it to v2,
# shows a broken v3 being rolled back automatically and a good v3 rolled
# back by hand, then a Compose app (three services, an internal network,
# a volume) updated with a zero-downtime hand-over, and prints what
# happened. The Mender client runs in a
# private mount namespace where the module is bound over
# /usr/share/mender/modules/v3/docker, so the machine's own files stay as
# they were; the demo removes its containers and images at the end
# (KEEP=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

scripts/deps.sh
scripts/dockerd.sh
command -v make >/dev/null || { apt-get install -y -qq make >/dev/null; }

work=$(mktemp -d /tmp/mender-docker-demo.XXXX)
mkdir -p "$work"/{modules,etc,data,state}
echo "== building the module and the demo images (work dir $work)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/modules/docker" ./cmd/docker
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/docker-artifact-gen" ./cmd/docker-artifact-gen
go build -o "$work/fixture" ./test/cmd/fixture
ls -l "$work/modules/docker" | awk '{printf "module binary: %.1f MB\n", $5/1e6}'

port=${DEMO_REGISTRY_PORT:-5055}
"$work/fixture" registry -addr "127.0.0.1:$port" 2>"$work/registry.log" &
registry_pid=$!
app=demo
cleanup() {
  kill "$registry_pid" 2>/dev/null || true
  if [ "${KEEP:-}" != 1 ]; then
    for a in "$app" shop; do
      ids=$(docker ps -aq --filter "label=io.mender.docker.app=$a")
      [ -z "$ids" ] || docker rm -f $ids >/dev/null
    done
    docker network rm shop_default >/dev/null 2>&1 || true
    docker volume rm shop_data >/dev/null 2>&1 || true
    for ref in ${v1:-} ${v2:-} ${v3:-} ${v3b:-} ${db:-} ${api1:-} ${api2:-}; do docker rmi "$ref" >/dev/null 2>&1 || true; done
    rm -rf "$work"
  fi
}
trap cleanup EXIT
sleep 0.5

# Each version answers on 127.0.0.1:18080; v3-broken exits with code 7 after 2 s.
push() { "$work/fixture" push -registry "127.0.0.1:$port" -repo demo/hello -tag "$1" -- -listen 127.0.0.1:18080 "${@:2}"; }
v1=$(push v1); v2=$(push v2); v3=$(push v3); v3b=$(push v3-broken -exit-after 2s -code 7)

echo "device_type=demo-device" >"$work/device_type"
echo "artifact_name=factory" >"$work/etc/artifact_info"
cat >"$work/mender.conf" <<JSON
{"DeviceTypeFile": "$work/device_type", "ModuleTimeoutSeconds": 900, "ServerURL": "https://127.0.0.1:1"}
JSON
cat >"$work/mender-docker.conf" <<JSON
{"state_dir": "$work/state", "health_window": "3s", "min_free_mb": 0}
JSON
export MENDER_DOCKER_CONF=$work/mender-docker.conf

# The real mender client, with our module as its docker module.
mender_() {
  unshare -m --propagation private sh -c '
    mount --bind "$1/modules" /usr/share/mender/modules/v3 &&
    mount --bind "$1/etc" /etc/mender && w=$1 && shift &&
    exec mender -c "$w/mender.conf" -d "$w/data" --no-syslog "$@"' sh "$work" "$@" >>"$work/mender.log" 2>&1
}

artifact() { # name tag: written by our generator, the tag pinned to its digest
  "$work/docker-artifact-gen" -n "$1" -t demo-device --app "$app" -o "$work/$1.mender" \
    --service "hello=127.0.0.1:$port/demo/hello:$2,--network host --restart always" 2>>"$work/generator.log"
}

show() {
  echo "   mender show-artifact: $(mender_ show-artifact; tail -1 "$work/mender.log")"
  answer=$( (exec 3<>/dev/tcp/127.0.0.1/18080 && cat <&3) 2>/dev/null || echo "(no answer)")
  echo "   the app answers on 127.0.0.1:18080: $answer"
  docker ps -a --filter "label=io.mender.docker.app=$app" --format 'container {{.Names}}: {{.Status}}' | sed 's/^/   /'
}

step() { echo; echo "== $*"; }

step "install v1 with 'mender install', then 'mender commit'"
artifact demo-v1 v1; mender_ install "$work/demo-v1.mender"; mender_ commit; show

step "update to v2 (pulled while v1 runs; v1 stops only when v2 is ready to start)"
artifact demo-v2 v2; mender_ install "$work/demo-v2.mender"
echo "   before commit:"; show
mender_ commit; echo "   after commit:"; show
grep -o 'swapped.*' "$work/mender.log" | tail -1 | sed 's/^/   module: /; s/\\\\"//g; s/"$//'

step "install a broken v3 (its process exits with code 7 after 2 s): the install fails and v2 comes back"
artifact demo-v3-broken v3-broken
if mender_ install "$work/demo-v3-broken.mender"; then echo "   unexpected: the broken install succeeded"; exit 1; fi
grep -o 'failed the health check[^"\\]*' "$work/mender.log" | tail -1 | sed 's/^/   module: /'
show

step "install a good v3, then 'mender rollback': v2 is restored exactly"
artifact demo-v3 v3; mender_ install "$work/demo-v3.mender"; show
mender_ rollback; echo "   after rollback:"; show

step "a Compose app, compiled by docker-artifact-gen --compose: db, api (x-mender-update: hand-over) and worker"
db=$("$work/fixture" push -registry "127.0.0.1:$port" -repo demo/db -tag v1 -health -- -touch /data/db)
api1=$("$work/fixture" push -registry "127.0.0.1:$port" -repo demo/api -tag v1 -health -- -healthy-after 1s)
api2=$("$work/fixture" push -registry "127.0.0.1:$port" -repo demo/api -tag v2 -health -- -healthy-after 1s)
project() { # api tag
  mkdir -p "$work/shop"
  cat >"$work/shop/compose.yaml" <<YAML
services:
  db:
    image: 127.0.0.1:$port/demo/db:v1
    volumes: ["data:/data"]
  api:
    image: 127.0.0.1:$port/demo/api:$1
    depends_on:
      db: {condition: service_healthy}
    x-mender-update: hand-over
  worker:
    image: 127.0.0.1:$port/demo/api:v1
    depends_on: [db]
networks:
  default: {internal: true}
volumes:
  data: {}
YAML
  "$work/docker-artifact-gen" -n "shop-$1" -t demo-device --app shop -o "$work/shop-$1.mender" --compose "$work/shop" 2>>"$work/generator.log"
}
shop() { docker ps -a --filter label=io.mender.docker.app=shop --format 'container {{.Names}} ({{.ID}}): {{.Status}}' | sort | sed 's/^/   /'; }
project v1; mender_ install "$work/shop-v1.mender"; mender_ commit; shop
echo "   (the device runs no compose: the module created network shop_default and volume shop_data, and started db, then api and worker once db was healthy)"
project v2; mender_ install "$work/shop-v2.mender"; mender_ commit
echo "   after the update of api only (db and worker keep their containers):"; shop
grep -o 'shop-api handed over[^"\\]*' "$work/mender.log" | tail -1 | sed 's/^/   module: /'

echo
echo "== done. The full client log is in $work/mender.log$([ "${KEEP:-}" = 1 ] || echo ' (removed at exit; KEEP=1 keeps it)')."
