/**
 * A node's lifecycle on this host: made to match its spec (created or updated in place), powered,
 * and deleted with everything tenks created for it. Callers hold the node's lock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { TenksError } from '../../common/errors.js';
import { throwIfAborted } from '../../common/semaphore.js';
import { formatSize } from '../../common/sizes.js';
import { prepareConsoleLogDir } from './console-log-dir.js';
import { domainSpecOf } from './domain-spec.js';
import { DEFAULT_FIRMWARE, type CallOptions, type DomainSummary, type NodeMetadata } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { preflight } from './node-preflight.js';
import { specHash } from './node-spec.js';
import { nodeStatus, plannedStatus } from './node-status.js';
import { ownedVolumeNames, specVolumes, volumeName } from './node-volumes.js';
import { diffSpecs } from './spec-diff.js';
import type { NodeSpec, NodeStatus, PowerAction, PowerState, VolumeInfo } from './types.js';

/** Result of ensuring a node. */
export interface EnsureResult {
  node: NodeStatus;
  changed: boolean;
  changes: string[];
  pendingRestart: boolean;
}

/** Result of deleting a node. */
export interface DeleteResult {
  existed: boolean;
  removed: string[];
}

/** Identifies a node: by UUID when given, else by name (and cluster, when given, must match). */
export interface NodeRef {
  cluster: string;
  name: string;
  uuid: string;
}

/** A random locally administered unicast MAC (0x52 first octet, as QEMU's range, with 40 random bits). */
export function generateMac(): string {
  const b = randomBytes(5);
  return ['52', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** Refuses an ensure of `spec` over a domain that is not this agent's node of that cluster and UUID, or over a used UUID. */
async function checkOwnership(
  host: NodeHost,
  spec: NodeSpec,
  existing: DomainSummary | null,
  o?: CallOptions,
): Promise<void> {
  if (existing) {
    if (!existing.metadata)
      throw new TenksError(
        'ALREADY_EXISTS',
        `a libvirt domain named '${spec.name}' exists and was not created by tenks`,
        {
          field: 'node.name',
          hint: 'choose another node name or node_name_prefix',
        },
      );
    if (!host.ours(existing.metadata))
      throw new TenksError(
        'ALREADY_EXISTS',
        `node '${spec.name}' already exists on this host, managed by another tenks agent (${existing.metadata.agent ?? 'defined before agents marked their nodes'})`,
        { field: 'node.name', hint: 'node names must be unique per libvirt URI across agents and clusters' },
      );
    if (existing.metadata.cluster !== spec.cluster)
      throw new TenksError(
        'ALREADY_EXISTS',
        `node '${spec.name}' already exists on this host in cluster '${existing.metadata.cluster}'`,
        { field: 'node.name', hint: 'node names must be unique per host across clusters' },
      );
    if (spec.uuid !== null && existing.uuid !== spec.uuid)
      throw new TenksError(
        'CONFLICT',
        `node '${spec.name}' exists with UUID ${existing.uuid}, the spec asks for ${spec.uuid}`,
        { field: 'node.uuid', hint: 'delete the node first to change its UUID' },
      );
  } else if (spec.uuid !== null) {
    const other = await host.hypervisor.getDomainByUuid(spec.uuid, o);
    if (other)
      throw new TenksError('ALREADY_EXISTS', `UUID ${spec.uuid} is already used by domain '${other.name}'`, {
        field: 'node.uuid',
      });
  }
}

/** The spec with generated values (UUID, MACs) filled in, keeping those already on the domain. */
function resolve(spec: NodeSpec, existing: DomainSummary | null): NodeSpec {
  const old = existing?.metadata?.spec;
  const usedMacs = new Set(spec.nics.map((n) => n.mac).filter((m): m is string => m !== null));
  const nics = spec.nics.map((n, i) => {
    if (n.mac !== null) return n;
    const prev = old?.nics[i];
    if (prev?.physnet === n.physnet && prev.mac !== null && !usedMacs.has(prev.mac)) return { ...n, mac: prev.mac };
    let mac = generateMac();
    while (usedMacs.has(mac)) mac = generateMac();
    usedMacs.add(mac);
    return { ...n, mac };
  });
  return { ...spec, uuid: spec.uuid ?? existing?.uuid ?? randomUUID(), nics };
}

/** Creates node `spec` or updates it in place; with `dryRun`, only says what would change. */
export async function ensureNode(
  host: NodeHost,
  spec: NodeSpec,
  o: CallOptions & { dryRun?: boolean },
): Promise<EnsureResult> {
  const { hypervisor: hv, storage } = host;
  throwIfAborted(o.signal);
  // Even an unchanged node: what it was allowed to use before may no longer be allowed.
  await host.hostPaths.check(spec);
  const existing = await hv.getDomain(spec.name, o);
  await checkOwnership(host, spec, existing, o);
  const hash = specHash(spec);
  const owned = ownedVolumeNames(spec);

  // Fast path: same spec as last applied, and every owned volume and NIC port still there.
  let rewired = false;
  if (existing?.metadata?.specHash === hash) {
    const [vols, wired] = await Promise.all([
      specVolumes(storage, spec, o),
      spec.nics.length === 0 ? true : host.wiring ? host.wiring.verify(existing.metadata.spec) : false,
    ]);
    const ownedPresent = spec.volumes.every((v, i) => v.source.kind === 'existing' || vols[i] !== null);
    if (ownedPresent && wired) {
      return { node: await nodeStatus(host, existing, vols), changed: false, changes: [], pendingRestart: false };
    }
    rewired = !wired;
  }

  await preflight(host, spec, o);
  const resolved = resolve(spec, existing);
  const oldMeta = existing?.metadata ?? null;
  const changes = oldMeta ? diffSpecs(oldMeta.spec, resolved) : ['node created'];
  if (rewired) changes.push('NIC ports re-created');
  if (o.dryRun) {
    const node = existing ? await nodeStatus(host, existing) : plannedStatus(host, resolved);
    return { node, changed: changes.length > 0, changes, pendingRestart: false };
  }
  const uuid = resolved.uuid ?? randomUUID();
  const metadata = (ownedVolumes: string[]): NodeMetadata => ({
    version: 1,
    cluster: spec.cluster,
    name: spec.name,
    uuid,
    agent: host.owner,
    specHash: hash,
    spec: resolved,
    ownedVolumes,
    bootDevice: oldMeta?.bootDevice ?? 'network',
    bootPersistent: oldMeta?.bootPersistent ?? true,
    persistentBootDevice: oldMeta?.persistentBootDevice ?? 'network',
    // A new boot_mode in the spec wins over one chosen through the BMC; other firmware settings stay.
    firmware: oldMeta
      ? {
          ...oldMeta.firmware,
          bootMode: oldMeta.spec.bootMode === resolved.bootMode ? oldMeta.firmware.bootMode : null,
        }
      : { ...DEFAULT_FIRMWARE },
    media: oldMeta?.media ?? null,
  });
  // The virtual CD's volume belongs to the BMC, not the spec: it stays owned.
  if (oldMeta?.media) owned.push(oldMeta.media.volume);
  // Volumes dropped from the spec stay owned (recorded on the domain) until they are deleted.
  const dropped = (oldMeta?.ownedVolumes ?? []).filter((n) => !owned.includes(n));
  const meta = metadata([...owned, ...dropped]);

  const created: string[] = [];
  let definedNew = false;
  let summary: DomainSummary | null = null;
  const vols: (VolumeInfo | null)[] = [];
  try {
    if (resolved.consoleLog && !host.testDriver)
      await prepareConsoleLogDir(host.consoleLogDir(resolved), resolved.consoleLogOwner);
    const nics = host.wiring && resolved.nics.length > 0 ? await host.wiring.attach(resolved, o) : [];
    if (!existing) {
      // Define first (disks name pool volumes, which need not exist yet), so that a crash from
      // here on leaves a record of the volumes to clean up.
      summary = await hv.defineDomain(domainSpecOf(host, resolved, meta, nics), o);
      definedNew = true;
    }
    for (const v of resolved.volumes) {
      if (v.source.kind === 'existing') {
        vols.push(v.source.ref.startsWith('/') ? null : await storage.getVolume(v.source.ref, o));
        continue;
      }
      const name = volumeName(spec.name, v.name);
      let have = await storage.getVolume(name, o);
      if (!have) {
        have = await storage.createVolume(
          { name, capacityBytes: v.capacityBytes, format: v.format, source: v.source },
          o,
        );
        created.push(name);
        if (existing) changes.push(`volume ${v.name}: created`);
      } else if (have.capacityBytes < v.capacityBytes) {
        have = await storage.resizeVolume(name, v.capacityBytes, o);
      } else if (have.capacityBytes > v.capacityBytes && v.capacityBytes > 0) {
        changes.push(`volume ${v.name}: kept at ${formatSize(have.capacityBytes)} (volumes never shrink)`);
      }
      vols.push(have);
    }
    if (existing) summary = await hv.defineDomain(domainSpecOf(host, resolved, meta, nics), o);
  } catch (e) {
    // Undo what this call created, so a failed ensure leaves nothing half-built behind.
    for (const n of created) await storage.deleteVolume(n).catch(() => undefined);
    if (definedNew) await hv.undefineDomain(spec.name).catch(() => undefined);
    throw e;
  }
  if (!summary) throw new TenksError('INTERNAL', `node '${spec.name}' was not defined`);
  // The domain now matches the spec; only the dropped volumes remain to go.
  if (dropped.length > 0) {
    for (const n of dropped) if (await storage.deleteVolume(n, o)) changes.push(`volume ${n}: deleted`);
    summary = { ...summary, metadata: metadata(owned) };
    await hv.setMetadata(spec.name, metadata(owned), o);
  }
  const pendingRestart = existing !== null && existing.powerState !== 'off' && changes.length > 0;
  host.log.info(existing ? 'node updated' : 'node created', {
    cluster: spec.cluster,
    node: spec.name,
    changes: changes.length,
  });
  return { node: await nodeStatus(host, summary, vols), changed: true, changes, pendingRestart };
}

/**
 * Deletes node `name` (the domain `ref` names) and everything tenks created for it: refuses a
 * domain that is not this agent's node, or not of `ref`'s cluster. Nothing to do when it is gone.
 */
export async function deleteNode(host: NodeHost, name: string, ref: NodeRef, o: CallOptions): Promise<DeleteResult> {
  const hv = host.hypervisor;
  const d = await hv.getDomain(name, o);
  if (!d || (ref.uuid !== '' && d.uuid !== ref.uuid.toLowerCase())) return { existed: false, removed: [] };
  if (!d.metadata)
    throw new TenksError('CONFLICT', `domain '${d.name}' was not created by tenks; refusing to delete it`, {
      field: 'node.name',
    });
  if (!host.ours(d.metadata))
    throw new TenksError(
      'CONFLICT',
      `node '${d.name}' is managed by another tenks agent (${d.metadata.agent ?? 'defined before agents marked their nodes'}); refusing to delete it`,
      { field: 'node.name' },
    );
  if (ref.cluster !== '' && d.metadata.cluster !== ref.cluster)
    throw new TenksError(
      'CONFLICT',
      `node '${d.name}' belongs to cluster '${d.metadata.cluster}', not '${ref.cluster}'`,
      {
        field: 'node.cluster',
      },
    );
  const removed: string[] = [];
  if (d.powerState !== 'off') {
    await hv.power(d.name, 'destroy', o).catch((e: unknown) => {
      if (!(e instanceof TenksError && e.code === 'CONFLICT')) throw e;
    });
    removed.push('powered off');
  }
  // Volumes and switch ports go before the domain, together (the node is off: nothing uses them):
  // the domain's metadata is the record of what to clean, so an agent killed halfway finds it
  // again on the next delete instead of leaving orphans behind (bench:chaos found two).
  const spec = d.metadata.spec;
  const [volumes, ports] = await Promise.all([
    Promise.all(
      d.metadata.ownedVolumes.map(async (v) => ((await host.storage.deleteVolume(v, o)) ? [`volume ${v}`] : [])),
    ),
    host.wiring ? host.wiring.detach(spec, o) : Promise.resolve([]),
  ]);
  await hv.undefineDomain(d.name, o);
  removed.push(`domain ${d.name}`, ...volumes.flat(), ...ports);
  host.log.info('node deleted', { cluster: d.metadata.cluster, node: d.name });
  return { existed: true, removed };
}

/** Applies a power action to node `d`; returns the state afterwards and whether anything was done. */
export async function applyPower(
  host: NodeHost,
  d: DomainSummary,
  action: PowerAction,
  o: CallOptions,
): Promise<{ powerState: PowerState; changed: boolean }> {
  const hv = host.hypervisor;
  const on = d.powerState === 'on' || d.powerState === 'paused' || d.powerState === 'shutting_down';
  let changed = true;
  switch (action) {
    case 'on':
      if (on) changed = false;
      else await startNode(host, d, o);
      break;
    case 'off':
      if (!on) changed = false;
      else await hv.power(d.name, 'destroy', o);
      break;
    case 'soft_off':
      if (!on) changed = false;
      else await hv.power(d.name, 'shutdown', o);
      break;
    case 'reset':
    case 'nmi':
      if (!on)
        throw new TenksError(
          'CONFLICT',
          `node '${d.name}' is off; ${action === 'reset' ? 'power it on instead' : 'NMI needs a running node'}`,
        );
      await hv.power(d.name, action, o);
      break;
    case 'cycle':
      if (on) await hv.power(d.name, 'destroy', o);
      await startNode(host, d, o);
      break;
  }
  return { powerState: await hv.powerState(d.name, o), changed };
}

/** Starts a stopped node, first re-creating its NVRAM when a firmware change asked for it. */
async function startNode(host: NodeHost, d: DomainSummary, o: CallOptions): Promise<void> {
  const hv = host.hypervisor;
  const m = d.metadata;
  if (m?.firmware.nvramReset) {
    await hv.resetNvram(d.name, o);
    await hv.setMetadata(d.name, { ...m, firmware: { ...m.firmware, nvramReset: false } }, o);
  }
  await hv.power(d.name, 'start', o);
}
