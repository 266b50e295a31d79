#!/usr/bin/env bash
# Installs and starts everything tenks needs on a Debian 12 host, then installs the npm packages
# (which builds the native libvirt addon). Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages and starts libvirtd)" >&2
  exit 1
fi

ensure_packages \
  libvirt-daemon-system libvirt-clients libvirt-dev pkg-config g++ make python3 \
  qemu-system-x86 qemu-utils ovmf ipxe-qemu openssl procps \
  qemu-system-arm qemu-efi-aarch64 \
  openvswitch-switch iproute2 tcpdump ipmitool \
  python3-sushy python3-pyghmi genisoimage wrk nats-server
fix_kvm_permissions
start_libvirt
start_ovs

# The first QEMU use after an install probes capabilities (up to a minute): do it here, once.
timeout 180 virsh -q -c qemu:///system domcapabilities --virttype qemu --arch x86_64 >/dev/null
timeout 180 virsh -q -c qemu:///system domcapabilities --virttype qemu --arch aarch64 --machine virt >/dev/null

stamp=node_modules/.tenks-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f agent/native/build/Release/tenks_libvirt.node ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
# tenksctl's bundle (esbuild, under a second); bin/tenksctl.js falls back to tsx when it is stale.
npm run --silent build
