#!/usr/bin/env bash
# One command from a fresh Debian 12 host to a running tenks agent with demo nodes:
# installs what is missing, makes certificates, starts tenks-agent (a systemd unit where systemd
# runs, a background process otherwise), sets up physnet1 (on $TENKS_PHYSNET_DEVICE, or a demo
# Linux bridge), ensures examples/nodes/*.yaml and prints the nodes.
# Running it again changes nothing. `scripts/quickstart.sh --teardown` removes the demo nodes and
# stops the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
repo=$(pwd)
etc=${TENKS_ETC:-/etc/tenks}
port=${TENKS_AGENT_PORT:-7443}
pidfile=/run/tenks-agent.pid
logfile=/var/log/tenks/agent.log

ctl() {
  node "$repo/bin/tenksctl.js" --agent "127.0.0.1:$port" --ca "$etc/pki/ca.pem" \
    --cert "$etc/pki/client.pem" --key "$etc/pki/client-key.pem" --server-name localhost "$@"
}

agent_running() {
  if have_systemd; then systemctl is-active --quiet tenks-agent; else [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; fi
}

stop_agent() {
  if have_systemd; then
    systemctl disable --now tenks-agent 2>/dev/null || true
  elif [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

# The physnet's source device: TENKS_PHYSNET_DEVICE, or a demo Linux bridge standing in for a
# physical network (created here, removed by --teardown).
demo_bridge=tenksdemo0
physnet_device=${TENKS_PHYSNET_DEVICE:-$demo_bridge}

if [ "${1:-}" = --teardown ]; then
  if agent_running; then
    for f in examples/nodes/*.yaml; do
      name=$(sed -n 's/^name: *//p' "$f")
      ctl agent delete "$name" --cluster demo
    done
    ctl agent teardown-host --cluster demo
  fi
  stop_agent
  if [ "$physnet_device" = "$demo_bridge" ]; then ip link del "$demo_bridge" 2>/dev/null || true; fi
  echo "demo nodes removed, agent stopped (certificates and $etc/agent.yaml kept)"
  exit 0
fi

bash scripts/setup.sh
mkdir -p "$etc" /var/log/tenks
bash deploy/make-certs.sh "$etc/pki" agent client >/dev/null
if [ ! -f "$etc/agent.yaml" ]; then
  cat >"$etc/agent.yaml" <<YAML
listen: 127.0.0.1:$port
tls:
  ca_file: $etc/pki/ca.pem
  cert_file: $etc/pki/agent.pem
  key_file: $etc/pki/agent-key.pem
libvirt_uri: qemu:///system
YAML
fi

if ! agent_running; then
  if have_systemd; then
    sed "s#^ExecStart=.*#ExecStart=$(command -v node) $repo/bin/tenks-agent.js --config $etc/agent.yaml#" \
      deploy/systemd/tenks-agent.service >/etc/systemd/system/tenks-agent.service
    systemctl daemon-reload
    systemctl enable --now tenks-agent
  else
    nohup node "$repo/bin/tenks-agent.js" --config "$etc/agent.yaml" >>"$logfile" 2>&1 &
    echo $! >"$pidfile"
  fi
fi

for _ in $(seq 1 100); do
  ctl --timeout 2 agent info >/dev/null 2>&1 && break
  sleep 0.2
done
ctl agent info >/dev/null

if [ "$physnet_device" = "$demo_bridge" ] && ! ip link show "$demo_bridge" >/dev/null 2>&1; then
  ip link add "$demo_bridge" type bridge
  ip link set "$demo_bridge" up
fi
ctl agent setup-host --cluster demo --bridge-type openvswitch --physnet "physnet1=$physnet_device"
for f in examples/nodes/*.yaml; do
  ctl agent ensure -f "$f"
done
ctl agent nodes --cluster demo
