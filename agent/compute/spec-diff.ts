import { formatSize } from '../../common/sizes.js';
import { archOf } from './node-spec.js';
import type { NodeSpec } from './types.js';

/** Field-by-field differences between two specs, for reports ("memory_mb: 1024 -> 2048"). */
export function diffSpecs(a: NodeSpec, b: NodeSpec): string[] {
  const out: string[] = [];
  const field = (name: string, x: unknown, y: unknown): void => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${name}: ${JSON.stringify(x)} -> ${JSON.stringify(y)}`);
  };
  field('node_type', a.nodeType, b.nodeType);
  field('arch', archOf(a), archOf(b));
  field('memory_mb', a.memoryMb, b.memoryMb);
  field('vcpus', a.vcpus, b.vcpus);
  field('machine', a.machine, b.machine);
  field('cpu_mode', a.cpuMode, b.cpuMode);
  field('boot_mode', a.bootMode, b.bootMode);
  field('console_log_enabled', a.consoleLog, b.consoleLog);
  field('vnc_enabled', a.vnc, b.vnc);
  field('labels', a.labels, b.labels);
  field('engine', a.engine ?? null, b.engine ?? null);
  field('emulator', a.emulator ?? null, b.emulator ?? null);
  field('console_log_dir', a.consoleLogDir ?? null, b.consoleLogDir ?? null);
  field('console_log_owner', a.consoleLogOwner ?? null, b.consoleLogOwner ?? null);
  field('trust_guest_rx_filters', a.trustGuestRxFilters ?? false, b.trustGuestRxFilters ?? false);
  field('clock_offset', a.clockOffset ?? null, b.clockOffset ?? null);
  const av = new Map(a.volumes.map((v) => [v.name, v]));
  const bv = new Map(b.volumes.map((v) => [v.name, v]));
  for (const [name, v] of bv) {
    const old = av.get(name);
    if (!old) out.push(`volume ${name}: added (${formatSize(v.capacityBytes)})`);
    else if (old.capacityBytes !== v.capacityBytes)
      out.push(`volume ${name}: capacity ${formatSize(old.capacityBytes)} -> ${formatSize(v.capacityBytes)}`);
    else if (JSON.stringify(old.source) !== JSON.stringify(v.source) || old.format !== v.format)
      out.push(`volume ${name}: source or format changed (kept: volumes are not rebuilt in place)`);
  }
  for (const name of av.keys()) if (!bv.has(name)) out.push(`volume ${name}: removed`);
  field(
    'nics',
    a.nics.map((n) => n.physnet),
    b.nics.map((n) => n.physnet),
  );
  return out;
}
