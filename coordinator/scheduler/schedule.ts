import { invalidSpec, TenksError, type FieldError } from '../../common/errors.js';
import { defaultSchedulerSpec } from '../../common/spec/index.js';
import { HostState } from './capacity.js';
import { capacityError, DETAILED_NODES, type PlacementFailure } from './capacity-error.js';
import { makeStrategy } from './strategies.js';
import type { Assignment, NodeDemand, ScheduleInput, ScheduleOptions, ScheduleResult } from './types.js';

const STRATEGIES = ['spread', 'pack', 'round_robin', 'random'];
const GiB = 1024 ** 3;

function checkOptions(o: ScheduleOptions): void {
  const errors: FieldError[] = [];
  if (!STRATEGIES.includes(o.strategy))
    errors.push({ field: 'scheduler.strategy', message: `unknown strategy '${o.strategy}'` });
  const w = o.weights;
  if (![w.ram, w.vcpus, w.disk].every((x) => Number.isFinite(x) && x >= 0) || w.ram + w.vcpus + w.disk <= 0)
    errors.push({ field: 'scheduler.weights', message: 'weights are >= 0 and at least one is above 0' });
  for (const [k, v] of [
    ['cpu_allocation_ratio', o.cpuAllocationRatio],
    ['ram_allocation_ratio', o.ramAllocationRatio],
    ['disk_allocation_ratio', o.diskAllocationRatio],
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) errors.push({ field: `scheduler.${k}`, message: 'must be above 0' });
  }
  if (!(o.reservedHostMemoryMb >= 0))
    errors.push({ field: 'scheduler.reserved_host_memory_mb', message: 'must be >= 0' });
  if (errors.length > 0) throw invalidSpec(errors);
}

/** `tk0, tk1, tk2 and 7 more`. */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${(names.length - 3).toLocaleString('en-US')} more` : shown;
}

const gib = (b: number): string => `${(b / GiB).toFixed(1)} GiB`;

/** The error for placed nodes their host cannot run (an architecture or its UEFI firmware it lacks). */
function misplacedError(cluster: string, misplaced: readonly FieldError[]): TenksError {
  const shown = misplaced.slice(0, DETAILED_NODES);
  const more = misplaced.length - shown.length;
  const head =
    misplaced.length === 1
      ? `a node of cluster '${cluster}' cannot run where it is placed (placed nodes keep their hypervisor)`
      : `${misplaced.length} nodes of cluster '${cluster}' cannot run where they are placed (placed nodes keep their hypervisor)`;
  return new TenksError(
    'UNSUPPORTED',
    [head, ...shown.map((m) => m.message), ...(more > 0 ? [`and ${more} more`] : [])].join('\n'),
    {
      details: shown,
      hint:
        'install the emulator and firmware of the architecture on that hypervisor (qemu-system-arm and qemu-efi-aarch64 ' +
        'for aarch64), or remove the node from the spec and apply, then add it back to have it placed anew',
    },
  );
}

/**
 * Places the new nodes of a cluster on hypervisors. Pure: no I/O, the same input gives the same
 * output.
 *
 * - Nodes of the cluster that exist (in `current`) stay on their host, whatever its state: a dead,
 *   unknown, disallowed or overfull host is reported in `warnings`, never a reason to move a node.
 * - New nodes go, in input order, to live allowed hosts that run their architecture (with UEFI
 *   firmware for it, for UEFI nodes) and have room for their RAM, vCPUs, disk, an IPMI port when
 *   they need one, every physnet they use, and no node of the same name (see HostState for
 *   how capacity is counted). The strategy chooses among the hosts that fit; ties go to the lowest
 *   host id. Greedy, not an optimal bin packer: a node that finds no room fails even where another
 *   order would have fit.
 * - A placed node whose host does not run its architecture (or lacks its UEFI firmware) is an
 *   UNSUPPORTED error naming the node and the host: it must not silently become another machine.
 * - If any new node finds no host, nothing is placed: throws a CAPACITY TenksError naming each node,
 *   what it lacks and on which hosts (bounded for thousands of nodes).
 *
 * O(nodes × hosts).
 */
export function schedule(input: ScheduleInput): ScheduleResult {
  const o: ScheduleOptions = { ...defaultSchedulerSpec(), ...input.options };
  checkOptions(o);

  const hosts = [...input.hosts]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((h) => new HostState(h, o));
  const byId = new Map<string, HostState>();
  for (const h of hosts) {
    if (byId.has(h.id)) throw new TenksError('CONFLICT', `two agents report the id '${h.id}'`);
    byId.set(h.id, h);
  }
  const allowed = input.allowedHosts ? new Set(input.allowedHosts) : null;

  const wanted = new Map<string, NodeDemand>();
  for (const n of input.nodes) {
    if (wanted.has(n.name)) throw new TenksError('INTERNAL', `node '${n.name}' is listed twice for scheduling`);
    wanted.set(n.name, n);
  }

  const keptOn = new Map<string, string>();
  for (const p of input.current) {
    if (p.cluster === input.cluster && wanted.has(p.name)) keptOn.set(p.name, p.hostId);
    else byId.get(p.hostId)?.addExisting(p);
  }

  const assignments: Assignment[] = [];
  const stranded = new Map<string, { host: string; why: string; nodes: string[] }>();
  const strand = (node: string, host: string, why: string): void => {
    const key = `${host}\n${why}`;
    const e = stranded.get(key) ?? { host, why, nodes: [] };
    e.nodes.push(node);
    stranded.set(key, e);
  };
  const misplaced: FieldError[] = [];
  for (const n of input.nodes) {
    const hostId = keptOn.get(n.name);
    if (hostId === undefined) continue;
    const h = byId.get(hostId);
    if (!h) strand(n.name, hostId, 'has no agent');
    else {
      const cannot = h.cannotRun(n);
      if (cannot?.kind === 'arch')
        misplaced.push({
          field: n.name,
          message: `node ${n.name} (type ${n.nodeType}) needs ${n.arch} but stays on ${hostId}, which runs ${cannot.runs.join(', ') || 'nothing'}`,
        });
      else if (cannot?.kind === 'uefi')
        misplaced.push({
          field: n.name,
          message: `node ${n.name} (type ${n.nodeType}) needs UEFI firmware for ${n.arch} but stays on ${hostId}, which has none`,
        });
      h.addExisting(n);
      if (!h.alive) strand(n.name, hostId, 'is not alive');
      else if (allowed && !allowed.has(hostId)) strand(n.name, hostId, "is not in the spec's hypervisors");
    }
  }

  // Placed nodes never move: one its host cannot run must not quietly become another machine there.
  if (misplaced.length > 0) throw misplacedError(input.cluster, misplaced);
  const eligible = hosts.filter((h) => h.alive && (allowed === null || allowed.has(h.id)));
  const candidates = allowed === null ? hosts : hosts.filter((h) => allowed.has(h.id));
  const missing = allowed === null ? [] : [...allowed].filter((id) => !byId.has(id)).sort();
  const strategy = makeStrategy(o);
  const failures: PlacementFailure[] = [];
  let newNodes = 0;
  for (const n of input.nodes) {
    const kept = keptOn.get(n.name);
    if (kept !== undefined) {
      assignments.push({ node: n.name, hostId: kept, kept: true });
      continue;
    }
    newNodes++;
    const h = strategy.pick(n, eligible);
    if (h) {
      h.addNew(n);
      assignments.push({ node: n.name, hostId: h.id, kept: false });
    } else {
      const reasons =
        failures.length < DETAILED_NODES
          ? candidates.map((c) => ({ host: c.id, shortfalls: c.shortfalls(n) })).filter((r) => r.shortfalls.length > 0)
          : null;
      failures.push({ node: n, reasons });
    }
  }
  if (failures.length > 0) {
    let noHosts: string | null = null;
    if (candidates.length === 0)
      noHosts =
        allowed === null
          ? 'no hypervisor has an agent'
          : `none of the spec's hypervisors (${[...allowed].sort().join(', ')}) has an agent`;
    else if (missing.length > 0) noHosts = `${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} no agent`;
    throw capacityError(input.cluster, failures, newNodes, noHosts);
  }

  const warnings: string[] = [];
  for (const { host, why, nodes } of stranded.values())
    warnings.push(
      `${nodes.length > 1 ? 'nodes' : 'node'} ${nameList(nodes)} ${nodes.length > 1 ? 'stay' : 'stays'} on ${host}, which ${why}`,
    );
  for (const h of hosts) {
    if (h.memoryUsed > h.memoryCapacity)
      warnings.push(
        `${h.id} is over its RAM capacity: ${gib(h.memoryUsed)} placed, ${gib(Math.max(0, h.memoryCapacity))} schedulable`,
      );
    if (h.vcpusUsed > h.vcpuCapacity)
      warnings.push(`${h.id} is over its vCPU capacity: ${h.vcpusUsed} placed, ${h.vcpuCapacity} schedulable`);
    if (h.diskUsed > h.diskCapacity)
      warnings.push(
        `${h.id} is over its disk capacity: ${gib(h.diskUsed)} of volumes, ${gib(h.diskCapacity)} schedulable`,
      );
  }
  return { assignments, warnings, hosts: hosts.map((h) => h.usage()) };
}
