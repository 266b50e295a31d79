#!/usr/bin/env bash
# One command from a fresh Debian 12 host to a running tenks with the quickstart cluster:
# installs what is missing (scripts/setup.sh), makes certificates, starts NATS with JetStream, a
# tenks-coordinator and a tenks-agent (systemd units where systemd runs, otherwise each under
# scripts/supervise.sh, which restarts it as the unit would), applies examples/quickstart.yaml
# (two nodes on physnet1 with IPMI BMCs) with tenksctl and prints the nodes. Running it again
# changes nothing.
#
#   bash scripts/quickstart.sh             # set up and apply
#   bash scripts/quickstart.sh --teardown  # delete the cluster, stop the daemons, remove the demo bridge
#
# physnet1 is a demo Linux bridge (tenksdemo0) unless TENKS_PHYSNET_DEVICE names a real interface.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
etc=${TENKS_ETC:-/etc/tenks}
state=/var/lib/tenks
run=/run/tenks
logs=/var/log/tenks
agent_port=${TENKS_AGENT_PORT:-7443}
coordinator_port=${TENKS_COORDINATOR_PORT:-7442}
nats_port=${TENKS_NATS_PORT:-4222}
spec=examples/quickstart.yaml
demo_bridge=tenksdemo0
physnet_device=${TENKS_PHYSNET_DEVICE:-$demo_bridge}
export TENKS_CONFIG=$etc/tenksctl.yaml

ctl() { node "$repo/bin/tenksctl.js" "$@"; }

# unit_setting NAME KEY DEFAULT: KEY= of deploy/systemd/tenks-NAME.service (DEFAULT: systemd's),
# so that without systemd each daemon is restarted and stopped as its unit says.
unit_setting() {
  local v
  v=$(sed -n "s/^$2=//p" "deploy/systemd/tenks-$1.service" | tail -n 1)
  v=${v:-$3}
  echo "${v%s}"
}

# daemon NAME: running? (systemd unit, or the supervisor's or the daemon's pid file)
running() {
  if have_systemd; then
    systemctl is-active --quiet "tenks-$1"
    return
  fi
  local f
  # NAME.pid alone: a daemon started by a quickstart from before the supervisor.
  for f in "$run/$1.supervisor.pid" "$run/$1.pid"; do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}

# start NAME COMMAND...: a systemd unit from deploy/systemd, or COMMAND under scripts/supervise.sh
# (restarted as the unit's Restart=/RestartSec= say, output appended to $logs/NAME.log, pid files
# NAME.pid and NAME.supervisor.pid in $run), in a session of its own.
start() {
  local name=$1
  shift
  running "$name" && return 0
  echo "starting tenks-$name"
  if have_systemd; then
    local unit=/etc/systemd/system/tenks-$name.service
    sed "s#^ExecStart=.*#ExecStart=$*#" "deploy/systemd/tenks-$name.service" >"$unit"
    systemctl daemon-reload
    systemctl enable --now "tenks-$name"
  else
    rm -f "$run/$name.supervisor.pid"
    setsid bash "$repo/scripts/supervise.sh" --name "$name" --pid-dir "$run" --log "$logs/$name.log" \
      --restart "$(unit_setting "$name" Restart no)" --restart-sec "$(unit_setting "$name" RestartSec 0.1)" \
      --kill-signal "$(unit_setting "$name" KillSignal SIGTERM)" \
      --timeout-stop-sec "$(unit_setting "$name" TimeoutStopSec 90)" \
      -- "$@" </dev/null >>"$logs/$name.log" 2>&1 &
    wait_for "the supervisor of tenks-$name" 10 test -s "$run/$name.supervisor.pid"
  fi
}

# wait_gone PID SECONDS: waits for PID to end.
wait_gone() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop() {
  if have_systemd; then
    systemctl disable --now "tenks-$1" 2>/dev/null || true
    return
  fi
  local pid timeout
  timeout=$(unit_setting "$1" TimeoutStopSec 90)
  timeout=${timeout%.*}
  # The supervisor stops the daemon (KillSignal, then SIGKILL after TimeoutStopSec) and exits.
  if [ -f "$run/$1.supervisor.pid" ]; then
    pid=$(cat "$run/$1.supervisor.pid")
    if kill "$pid" 2>/dev/null; then wait_gone "$pid" $((timeout + 5)) || true; fi
  fi
  # A daemon without a supervisor (started by an older quickstart, or its supervisor was killed).
  if [ -f "$run/$1.pid" ]; then
    pid=$(cat "$run/$1.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -s "$(unit_setting "$1" KillSignal SIGTERM)" "$pid" 2>/dev/null || true
      wait_gone "$pid" "$timeout" || kill -s KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$run/$1.pid" "$run/$1.supervisor.pid"
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "quickstart: timed out waiting for $what" >&2
  "$@"
}

if [ "${1:-}" = --teardown ]; then
  if running coordinator && running agent; then
    ctl delete quickstart 2>/dev/null || echo "(cluster quickstart not found)"
  fi
  stop agent
  stop coordinator
  stop nats
  if [ "$physnet_device" = "$demo_bridge" ]; then ip link del "$demo_bridge" 2>/dev/null || true; fi
  echo "quickstart cluster deleted, daemons stopped (certificates and configs in $etc kept)"
  exit 0
fi

bash scripts/setup.sh
# $state/images: where node images go (the agent's default allowed_image_dirs, with /var/lib/libvirt/images).
mkdir -p "$etc" "$state/nats" "$state/images" "$run" "$logs"
bash deploy/make-certs.sh "$etc/pki" agent coordinator client >/dev/null

# Configuration files: written once, left alone when they exist (they are the user's to edit).
[ -f "$etc/nats.conf" ] || cat >"$etc/nats.conf" <<EOF
# NATS for tenks: JetStream holds the coordinator's state. Loopback only in the quickstart.
host: 127.0.0.1
port: $nats_port
jetstream {
  store_dir: "$state/nats"
}
EOF
[ -f "$etc/coordinator.yaml" ] || cat >"$etc/coordinator.yaml" <<EOF
listen: 127.0.0.1:$coordinator_port
tls:
  ca_file: $etc/pki/ca.pem
  cert_file: $etc/pki/coordinator.pem
  key_file: $etc/pki/coordinator-key.pem
nats:
  servers: nats://127.0.0.1:$nats_port
# Seals the secrets of the specs kept in NATS; created on first start. Another coordinator on this
# NATS needs a copy of it.
secrets_key_file: $state/coordinator-secrets.key
EOF
if [ ! -f "$etc/agent.yaml" ] || ! grep -q '^nats:' "$etc/agent.yaml"; then
  cat >"$etc/agent.yaml" <<EOF
listen: 127.0.0.1:$agent_port
tls:
  ca_file: $etc/pki/ca.pem
  cert_file: $etc/pki/agent.pem
  key_file: $etc/pki/agent-key.pem
libvirt_uri: qemu:///system
nats:
  servers: nats://127.0.0.1:$nats_port
bmc:
  listen_address: 127.0.0.1
EOF
fi
[ -f "$etc/tenksctl.yaml" ] || cat >"$etc/tenksctl.yaml" <<EOF
coordinator: 127.0.0.1:$coordinator_port
agent: 127.0.0.1:$agent_port
ca_file: $etc/pki/ca.pem
cert_file: $etc/pki/client.pem
key_file: $etc/pki/client-key.pem
nats: nats://127.0.0.1:$nats_port
EOF

if [ "$physnet_device" = "$demo_bridge" ] && ! ip link show "$demo_bridge" >/dev/null 2>&1; then
  ip link add "$demo_bridge" type bridge
  ip link set "$demo_bridge" up
fi

node=$(command -v node)
# Debian's nats-server unit (started on install, without JetStream) would hold the port.
if have_systemd && systemctl is-active --quiet nats-server; then
  echo "stopping Debian's nats-server.service (no JetStream); tenks runs tenks-nats instead"
  systemctl disable --now nats-server
fi
start nats /usr/sbin/nats-server -c "$etc/nats.conf"
wait_for "NATS" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$nats_port"
start coordinator "$node" "$repo/bin/tenks-coordinator.js" --config "$etc/coordinator.yaml"
start agent "$node" "$repo/bin/tenks-agent.js" --config "$etc/agent.yaml"
wait_for "the coordinator" 60 ctl --timeout 2 get clusters
# The agent is ready once the coordinator has its heartbeat.
wait_for "the agent's heartbeat" 120 bash -c "node '$repo/bin/tenksctl.js' --timeout 2 get agents -o json | grep -q '\"alive\": true'"

spec_file=$spec
if [ "$physnet_device" != "$demo_bridge" ]; then
  spec_file=$(mktemp --suffix=.yaml)
  trap 'rm -f "$spec_file"' EXIT
  sed "s/physnet1: $demo_bridge/physnet1: $physnet_device/" "$spec" >"$spec_file"
fi
ctl apply -f "$spec_file"
ctl get nodes --cluster quickstart
