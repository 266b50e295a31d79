"""Drives a Redfish BMC with the real sushy client (Debian's python3-sushy), one step per run.

Run with /usr/bin/python3 (Debian's packages). Usage:
  sushy-driver.py URL USER PASSWORD SYSTEM_PATH STEP [ARG...]
Steps: inspect | reset TYPE | boot TARGET ENABLED | mode MODE | insert IMAGE_URL | eject |
       bios | bios-set KEY=VALUE... | secure-boot | secure-boot-set true|false | auth
Prints one JSON object. A sushy error exits 3 with {"error": class, "message": text}.
"""
import json
import sys

import sushy
from sushy import exceptions


def members(collection):
    return collection.get_members() if collection is not None else []


def inspect(system):
    procs = members(system.processors)
    vmedia = members(system.managers[0].virtual_media)
    return {
        "id": system.identity,
        "name": system.name,
        "uuid": system.uuid,
        "power_state": str(system.power_state.value) if system.power_state else None,
        "boot": {
            "target": system.boot.target.value if system.boot.target else None,
            "enabled": system.boot.enabled.value if system.boot.enabled else None,
            "mode": system.boot.mode.value if system.boot.mode else None,
            "allowed_targets": sorted(v.value for v in system.get_allowed_system_boot_source_values()),
        },
        "allowed_resets": sorted(v.value for v in system.get_allowed_reset_system_values()),
        "memory_gib": system.memory_summary.size_gib if system.memory_summary else None,
        "processors": {
            "count": len(procs),
            "threads": sum(p.total_threads or 0 for p in procs),
            "instruction_sets": sorted({p.instruction_set.value for p in procs if p.instruction_set}),
        },
        "macs": sorted(e.mac_address.lower() for e in members(system.ethernet_interfaces)),
        "simple_storage_disks_bytes": sorted(system.simple_storage.disks_sizes_bytes),
        "storage_drives_bytes": sorted(system.storage.drives_sizes_bytes),
        "managers": [m.identity for m in system.managers],
        "virtual_media": [
            {"id": v.identity, "media_types": sorted(t.value for t in v.media_types), "inserted": v.inserted,
             "image": v.image}
            for v in vmedia
        ],
        "bios_version": system.bios_version,
    }


def main(argv):
    url, user, password, path, step, args = argv[1], argv[2], argv[3], argv[4], argv[5], argv[6:]
    try:
        conn = sushy.Sushy(url, username=user, password=password, verify=False)
        system = conn.get_system(path)
        if step == "inspect":
            out = inspect(system)
        elif step == "auth":
            out = {"power_state": str(system.power_state.value)}
        elif step == "reset":
            system.reset_system(type(sushy.RESET_ON)(args[0]))
            system.refresh()
            out = {"power_state": str(system.power_state.value)}
        elif step == "boot":
            system.set_system_boot_options(
                target=type(sushy.BOOT_SOURCE_TARGET_PXE)(args[0]),
                enabled=type(sushy.BOOT_SOURCE_ENABLED_ONCE)(args[1]))
            system.refresh()
            out = {"target": system.boot.target.value, "enabled": system.boot.enabled.value}
        elif step == "mode":
            system.set_system_boot_options(mode=type(sushy.BOOT_SOURCE_MODE_UEFI)(args[0]))
            system.refresh()
            out = {"mode": system.boot.mode.value}
        elif step in ("insert", "eject"):
            manager = system.managers[0]
            vm = manager.virtual_media.get_members()[0]
            if step == "insert":
                vm.insert_media(args[0])
            else:
                vm.eject_media()
            vm.refresh()
            system.refresh()
            out = {"inserted": vm.inserted, "image": vm.image, "boot_target": system.boot.target.value}
        elif step == "bios":
            out = {"attributes": system.bios.attributes}
        elif step == "bios-set":
            attrs = {}
            for a in args:
                k, v = a.split("=", 1)
                attrs[k] = int(v) if v.isdigit() else v
            system.bios.set_attributes(attrs)
            system.bios.refresh()
            out = {"attributes": system.bios.attributes}
        elif step == "secure-boot":
            sb = system.secure_boot
            out = {"enabled": sb.enabled, "current_boot": sb.current_boot.value if sb.current_boot else None}
        elif step == "secure-boot-set":
            sb = system.secure_boot
            sb.set_enabled(args[0] == "true")
            sb.refresh()
            out = {"enabled": sb.enabled}
        else:
            raise SystemExit("unknown step " + step)
        conn.close() if hasattr(conn, "close") else None
    except exceptions.SushyError as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
