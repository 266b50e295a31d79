/** Coordinator answers → snake_case data for `-o json|yaml`, table columns and `describe` text. */
import type { AgentInfo, Cluster, NodeResult, NodeStatus, Operation } from '../common/index.js';
import type { Column } from './output.js';
import { bmcCell, hostJson, nodeJson } from './present.js';

/** A node result as JSON/YAML output. */
export function nodeResultJson(r: NodeResult): Record<string, unknown> {
  return {
    node: r.node,
    action: r.action,
    ok: r.ok,
    hypervisor: r.hypervisor,
    changes: r.changes,
    ...(r.ok ? {} : { error_code: r.errorCode, error_message: r.errorMessage }),
  };
}

/** An operation as JSON/YAML output. */
export function operationJson(op: Operation): Record<string, unknown> {
  return {
    id: op.id,
    cluster: op.cluster,
    kind: op.kind,
    state: op.state,
    started_unix_ms: op.startedUnixMs,
    finished_unix_ms: op.finishedUnixMs,
    actions_total: op.actionsTotal,
    actions_done: op.actionsDone,
    error_code: op.errorCode,
    error_message: op.errorMessage,
    warnings: op.warnings,
    results: op.results.map(nodeResultJson),
    events_subject: op.eventsSubject,
    owner: op.owner,
  };
}

/** A cluster as JSON/YAML output; the coordinator redacted the secrets of its spec unless asked for them. */
export function clusterJson(c: Cluster): Record<string, unknown> {
  return {
    name: c.name,
    node_count: c.nodeCount,
    agents: c.agents,
    operation_id: c.operationId,
    last_operation_id: c.lastOperationId,
    last_operation_state: c.lastOperationState,
    updated_unix_ms: c.updatedUnixMs,
    spec_yaml: c.specYaml,
  };
}

/** `2024-05-01T10:00:00Z`, or `-` for 0. */
export function isoTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

/** `4s ago`, `3m ago`, `2h ago`, `5d ago`; `-` for 0. */
export function ago(ms: number, nowMs: number): string {
  if (ms <= 0) return '-';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Bytes in the largest binary unit with one decimal (`15.6GiB`). */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v.toFixed(1)}${units[i] ?? ''}`;
}

/** Columns of `get clusters`. */
export const clusterColumns: Column<Cluster>[] = [
  { header: 'NAME', cell: (c) => c.name },
  { header: 'NODES', cell: (c) => c.nodeCount },
  { header: 'AGENTS', cell: (c) => c.agents.join(',') || '-' },
  { header: 'OPERATION', cell: (c) => c.operationId || '-' },
  {
    header: 'LAST OPERATION',
    cell: (c) => (c.lastOperationId ? `${c.lastOperationId} ${c.lastOperationState}` : '-'),
  },
  { header: 'UPDATED', cell: (c) => isoTime(c.updatedUnixMs) },
];

/** An agent as JSON/YAML output. */
export function agentJson(a: AgentInfo): Record<string, unknown> {
  return {
    id: a.id,
    address: a.address,
    alive: a.alive,
    last_seen_unix_ms: a.lastSeenUnixMs,
    bmc_ports_used: a.bmcPortsUsed,
    redfish_url: a.redfishUrl,
    host: a.host ? hostJson(a.host) : null,
  };
}

/** Columns of `get agents`; `nowMs` for LAST SEEN. */
export function agentColumns(nowMs: number): Column<AgentInfo>[] {
  return [
    { header: 'ID', cell: (a) => a.id },
    { header: 'ADDRESS', cell: (a) => a.address },
    { header: 'ALIVE', cell: (a) => (a.alive ? 'yes' : 'no') },
    { header: 'ENGINE', cell: (a) => a.host?.engine ?? '-' },
    { header: 'CPUS', cell: (a) => a.host?.cpus ?? '-' },
    {
      header: 'MEMORY',
      cell: (a) => (a.host ? `${humanBytes(a.host.freeMemoryBytes)} free of ${humanBytes(a.host.memoryBytes)}` : '-'),
    },
    { header: 'POOL FREE', cell: (a) => (a.host?.pool ? humanBytes(a.host.pool.availableBytes) : '-') },
    { header: 'NODES', cell: (a) => a.host?.nodeCount ?? '-' },
    { header: 'LAST SEEN', cell: (a) => ago(a.lastSeenUnixMs, nowMs) },
  ];
}

/** Columns of `get nodes` (the coordinator's nodes span hypervisors). */
export const clusterNodeColumns: Column<NodeStatus>[] = [
  { header: 'NAME', cell: (n) => n.name },
  { header: 'CLUSTER', cell: (n) => n.cluster },
  { header: 'HYPERVISOR', cell: (n) => n.hypervisor || '-' },
  { header: 'POWER', cell: (n) => n.powerState },
  { header: 'MEMORY', cell: (n) => `${n.memoryMb}MiB` },
  { header: 'VCPUS', cell: (n) => n.vcpus },
  { header: 'NICS', cell: (n) => n.nics.map((c) => `${c.physnet}=${c.mac}`).join(',') || '-' },
  { header: 'BMC', cell: bmcCell },
  { header: 'UUID', cell: (n) => n.uuid },
];

/** A node without BMC passwords (so nothing shows them unless --show-secrets asked the server for them). */
export function withoutSecrets(n: NodeStatus): NodeStatus {
  if (!n.bmc) return n;
  return {
    ...n,
    bmc: {
      ipmi: n.bmc.ipmi ? { ...n.bmc.ipmi, password: '' } : null,
      redfish: n.bmc.redfish ? { ...n.bmc.redfish, password: '' } : null,
    },
  };
}

/** `nodeJson`, re-exported for the coordinator commands. */
export { nodeJson };

function password(p: string, showSecrets: boolean): string {
  if (showSecrets && p !== '') return `password: ${p}`;
  return 'password: hidden (use --show-secrets)';
}

/** `describe node` text: one `Key: value` line per fact, lists indented. */
export function describeNodeLines(n: NodeStatus, showSecrets: boolean): string[] {
  const kv = (k: string, v: string | number): string => `${`${k}:`.padEnd(14)}${v}`;
  const out = [
    kv('Name', n.name),
    kv('Cluster', n.cluster),
    kv('UUID', n.uuid),
    kv('Hypervisor', n.hypervisor || '-'),
    kv('Power state', n.powerState),
    kv('Node type', n.nodeType || '-'),
    kv('Memory', `${n.memoryMb} MiB`),
    kv('vCPUs', n.vcpus),
  ];
  const j = nodeJson(n);
  out.push(
    kv(
      'Boot',
      `${String(j.boot_mode)}, next from ${String(j.boot_device)}; machine ${n.machine || '-'}, engine ${n.engine || '-'}`,
    ),
  );
  out.push(n.nics.length === 0 ? kv('NICs', '-') : 'NICs:');
  for (const c of n.nics)
    out.push(
      `  ${c.mac}  physnet ${c.physnet}  bridge ${c.bridge || '-'}${c.bridgeMac ? ` (${c.bridgeMac})` : ''}  switch port ${c.switchPort || '-'}`,
    );
  const i = n.bmc?.ipmi;
  const r = n.bmc?.redfish;
  out.push(i || r ? 'BMC:' : kv('BMC', '-'));
  if (i)
    out.push(`  IPMI:       ${i.address}:${i.port}  username: ${i.username}  ${password(i.password, showSecrets)}`);
  if (r)
    out.push(
      `  Redfish:    ${r.url}  system id: ${r.systemId}  username: ${r.username}  ${password(r.password, showSecrets)}`,
    );
  out.push(kv('Console log', n.consoleLogPath || 'disabled'));
  out.push(n.volumes.length === 0 ? kv('Volumes', '-') : 'Volumes:');
  for (const v of n.volumes)
    out.push(`  ${v.name}  ${humanBytes(v.capacityBytes)}  ${v.format || '-'}  ${v.path || v.pool}`);
  const labels = Object.entries(n.labels);
  if (labels.length > 0) out.push(kv('Labels', labels.map(([k, v]) => `${k}=${v}`).join(', ')));
  return out;
}
