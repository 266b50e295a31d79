# Shared helpers of tenks' scripts (sourced).

# True when systemd is PID 1 (real lab hosts); containers and CI start daemons by hand.
have_systemd() {
  [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]
}

# Installs the Debian packages given that are not installed yet.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# As ensure_packages, but the packages' own services are not started on install (the tests run
# Ironic and Nova themselves, on free ports): a policy-rc.d that refuses is in place meanwhile.
ensure_packages_nostart() {
  local policy=/usr/sbin/policy-rc.d placed=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# placed by tenks scripts/lib.sh while installing; removed afterwards\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    placed=1
  fi
  ensure_packages "$@" || rc=$?
  [ "$placed" = 1 ] && rm -f "$policy"
  return $rc
}

# Waits up to $2 seconds for a unix socket.
wait_socket() {
  local sock=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    [ -S "$sock" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $sock" >&2
  return 1
}

# Starts libvirtd and virtlogd: systemd units where systemd runs, plain daemons otherwise.
start_libvirt() {
  if have_systemd; then
    systemctl start virtlogd libvirtd
  else
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
  fi
  wait_socket /run/libvirt/libvirt-sock 30
}

# Starts Open vSwitch (ovsdb-server + ovs-vswitchd): the unit where systemd runs, ovs-ctl otherwise.
# Without the kernel module, bridges use the userspace (netdev) datapath; tenks detects that itself.
start_ovs() {
  if have_systemd; then
    systemctl start openvswitch-switch
  elif ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
    /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null 2>&1 ||
      /usr/share/openvswitch/scripts/ovs-ctl start >/dev/null
  fi
  ovs-vsctl --timeout=10 show >/dev/null
}

# Gives /dev/kvm the owner and mode Debian's udev rules give it (root:kvm 0660) on hosts where udev
# does not run (containers, microVMs). Without it libvirt's QEMU user cannot open /dev/kvm while
# QEMU's capability probe can, so libvirt re-probes QEMU (seconds) on every define and start.
# Whether KVM guests really run is decided by tenks-agent itself (engine: auto), not assumed here.
fix_kvm_permissions() {
  [ -c /dev/kvm ] || return 0
  getent group kvm >/dev/null || return 0
  if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ] && ! pgrep -x systemd-udevd >/dev/null; then
    echo "setting /dev/kvm to root:kvm 0660 (as udev would)"
    chgrp kvm /dev/kvm
    chmod 0660 /dev/kvm
  fi
}
