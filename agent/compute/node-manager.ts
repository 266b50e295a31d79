import { TenksError } from '../../common/errors.js';
import { KeyedMutex } from '../../common/semaphore.js';
import type { CallOptions, DomainSummary, NodeMetadata } from './hypervisor.js';
import type { NicWiring } from './nic-wiring.js';
import { setBootDevice, completeOneTimeBoot, setFirmware, type FirmwarePatch } from './node-firmware.js';
import { NodeHost, type NodeManagerOptions } from './node-host.js';
import {
  applyPower,
  deleteNode,
  ensureNode,
  type DeleteResult,
  type EnsureResult,
  type NodeRef,
} from './node-lifecycle.js';
import { compileNodeSpec, type RawNodeSpec } from './node-spec.js';
import { nodeStatus } from './node-status.js';
import type { BootDevice, NodeSpec, NodeStatus, PowerAction, PowerState } from './types.js';
import { ejectMedia, insertMedia } from './virtual-media.js';

/**
 * Proof that its holder runs as the one change of a node now; valid only while the task given to
 * {@link NodeManager.serialise} runs.
 */
export interface NodeLock {
  /** The node's name (the lock's key). */
  readonly name: string;
}

/**
 * Makes nodes exist as specified on one host: volumes, domain, NIC wiring. Every operation is
 * idempotent; what exists is read from libvirt (domain metadata, pool volumes), never from a file.
 * Each change of a node runs alone (see {@link serialise}); the work itself is done by the
 * lifecycle, firmware and virtual media modules, on the {@link NodeHost}.
 */
export class NodeManager {
  private readonly mutex = new KeyedMutex();
  /** Locks whose task is running. */
  private readonly held = new WeakSet<NodeLock>();
  private readonly host: NodeHost;

  constructor(o: NodeManagerOptions) {
    this.host = new NodeHost(o);
  }

  /** Plugs in the networking plane. */
  setWiring(wiring: NicWiring | null): void {
    this.host.wiring = wiring;
  }

  /**
   * Runs `task` as the one change of node `name` now: ensures, deletes, power actions, firmware
   * and media changes of that node (and, through the BMC manager, its BMC's ensure and removal)
   * wait for it, and it for them. Inside, work on the node through the methods that take `lock`:
   * the others take the lock themselves and would wait for `task`, which waits for them.
   */
  async serialise<T>(name: string, task: (lock: NodeLock) => Promise<T>): Promise<T> {
    return this.mutex.run(name, async () => {
      const lock: NodeLock = Object.freeze({ name });
      this.held.add(lock);
      try {
        return await task(lock);
      } finally {
        this.held.delete(lock);
      }
    });
  }

  /** Throws INTERNAL unless `lock` is held now and is node `name`'s: a caller forgot to serialise. */
  assertHeld(lock: NodeLock, name: string): void {
    if (!this.held.has(lock) || lock.name !== name)
      throw new TenksError('INTERNAL', `node '${name}' changed without holding its lock (held: '${lock.name}')`);
  }

  /** Creates or updates a node to match `raw`. */
  async ensure(raw: RawNodeSpec, o: CallOptions & { dryRun?: boolean } = {}): Promise<EnsureResult> {
    const spec = compileNodeSpec(raw);
    return this.serialise(spec.name, (lock) => this.ensureHeld(lock, spec, o));
  }

  /** {@link ensure} for a caller holding the node's lock. */
  async ensureHeld(lock: NodeLock, spec: NodeSpec, o: CallOptions & { dryRun?: boolean } = {}): Promise<EnsureResult> {
    this.assertHeld(lock, spec.name);
    return ensureNode(this.host, spec, o);
  }

  /**
   * The name `ref` points to, which keys the node's lock: its own name, or the name of the domain
   * with its UUID (null when there is none).
   */
  async lockName(ref: NodeRef, o?: CallOptions): Promise<string | null> {
    if (ref.uuid !== '') return (await this.host.hypervisor.getDomainByUuid(ref.uuid.toLowerCase(), o))?.name ?? null;
    if (ref.name === '')
      throw new TenksError('INVALID_SPEC', 'a node reference needs a name or a UUID', { field: 'node' });
    return ref.name;
  }

  /** Removes a node and everything tenks created for it. Succeeds when it is already gone. */
  async delete(ref: NodeRef, o: CallOptions = {}): Promise<DeleteResult> {
    const name = await this.lockName(ref, o);
    if (name === null) return { existed: false, removed: [] };
    return this.serialise(name, (lock) => this.deleteHeld(lock, ref, o));
  }

  /** {@link delete} for a caller holding the lock of the node `ref` names (see {@link lockName}). */
  async deleteHeld(lock: NodeLock, ref: NodeRef, o: CallOptions = {}): Promise<DeleteResult> {
    // By UUID, the lock is that of the domain's name (see lockName).
    this.assertHeld(lock, ref.uuid === '' ? ref.name : lock.name);
    return deleteNode(this.host, lock.name, ref, o);
  }

  /** Applies a power action; returns the state afterwards and whether anything was done. */
  async power(
    ref: NodeRef,
    action: PowerAction,
    o: CallOptions = {},
  ): Promise<{ powerState: PowerState; changed: boolean }> {
    // Under the node's lock, so a power-on cannot land between a delete's destroy and undefine
    // (which would leave the domain running, or fail the delete).
    return this.change(ref, o, (d) => applyPower(this.host, d, action, o));
  }

  /** Power state of a node. */
  async powerState(ref: NodeRef, o?: CallOptions): Promise<PowerState> {
    const d = await this.mustFind(ref, o);
    return d.powerState;
  }

  /** Boot device of a node's next power-on, whether it persists, and its firmware. */
  async bootDevice(ref: NodeRef, o?: CallOptions): Promise<{ device: BootDevice; persistent: boolean; uefi: boolean }> {
    const d = await this.mustFind(ref, o);
    const m = d.metadata as NodeMetadata;
    return { device: m.bootDevice, persistent: m.bootPersistent, uefi: m.spec.bootMode === 'uefi' };
  }

  /**
   * Sets the boot device of the next power-on (and of every later one when `persistent`): the
   * domain definition changes now, a running node sees it at its next cold start.
   */
  async setBootDevice(ref: NodeRef, device: BootDevice, persistent: boolean, o: CallOptions = {}): Promise<void> {
    await this.change(ref, o, (d) => setBootDevice(this.host, d, device, persistent, o));
  }

  /** After a node started with a one-time boot device, its definition goes back to the persistent one. */
  async completeOneTimeBoot(name: string, o: CallOptions = {}): Promise<boolean> {
    return this.serialise(name, () => completeOneTimeBoot(this.host, name, o));
  }

  /**
   * Changes firmware settings as a BMC would: the definition changes now, a running node sees the
   * change at its next cold start. A boot mode or Secure Boot change re-creates the NVRAM.
   */
  async setFirmware(ref: NodeRef, patch: FirmwarePatch, o: CallOptions = {}): Promise<void> {
    await this.change(ref, o, (d) => setFirmware(this.host, d, patch, o));
  }

  /**
   * Puts the image file `file` (fetched from `image`) into the node's virtual CD drive: it is copied
   * into a pool volume the node owns; a running node sees the new media at once.
   */
  async insertMedia(
    ref: NodeRef,
    media: { image: string; file: string; writeProtected: boolean },
    o: CallOptions = {},
  ): Promise<void> {
    await this.change(ref, o, (d) => insertMedia(this.host, d, media, o));
  }

  /** Empties the node's virtual CD drive and deletes the image volume. */
  async ejectMedia(ref: NodeRef, o: CallOptions = {}): Promise<boolean> {
    return this.change(ref, o, (d) => ejectMedia(this.host, d, o));
  }

  /** One node as observed. */
  async get(ref: NodeRef, o?: CallOptions): Promise<NodeStatus> {
    return nodeStatus(this.host, await this.mustFind(ref, o));
  }

  /** Every tenks node on this host (of one cluster when given). */
  async list(cluster: string, o?: CallOptions): Promise<NodeStatus[]> {
    const [domains, vols] = await Promise.all([this.host.hypervisor.listDomains(o), this.host.storage.listVolumes(o)]);
    const byName = new Map(vols.map((v) => [v.name, v]));
    const ours = domains.filter(
      (d) => d.metadata !== null && this.ours(d.metadata) && (cluster === '' || d.metadata.cluster === cluster),
    );
    const out = await Promise.all(ours.map((d) => nodeStatus(this.host, d, undefined, byName)));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** How many tenks nodes this host has. */
  async count(o?: CallOptions): Promise<number> {
    return (await this.host.hypervisor.listDomains(o)).filter((d) => d.metadata !== null && this.ours(d.metadata))
      .length;
  }

  /** Whether a domain's tenks metadata is this agent's. */
  ours(m: NodeMetadata): boolean {
    return this.host.ours(m);
  }

  /**
   * Runs `task` on the node `ref` names as one change of it (under its lock), with the node as it
   * is then: NOT_FOUND when there is none, or it was deleted before the lock was had.
   */
  private async change<T>(ref: NodeRef, o: CallOptions, task: (d: DomainSummary) => Promise<T>): Promise<T> {
    const found = await this.mustFind(ref, o);
    return this.serialise(found.name, async () => task(await this.refind(found, o)));
  }

  private async find(ref: NodeRef, o?: CallOptions): Promise<DomainSummary | null> {
    const hv = this.host.hypervisor;
    let d: DomainSummary | null;
    if (ref.uuid !== '') d = await hv.getDomainByUuid(ref.uuid.toLowerCase(), o);
    else if (ref.name !== '') d = await hv.getDomain(ref.name, o);
    else throw new TenksError('INVALID_SPEC', 'a node reference needs a name or a UUID', { field: 'node' });
    if (!d) return null;
    if (!d.metadata || !this.ours(d.metadata)) return null;
    if (ref.cluster !== '' && d.metadata.cluster !== ref.cluster) return null;
    return d;
  }

  private async mustFind(ref: NodeRef, o?: CallOptions): Promise<DomainSummary> {
    const d = await this.find(ref, o);
    if (!d)
      throw new TenksError(
        'NOT_FOUND',
        `no tenks node ${ref.uuid !== '' ? ref.uuid : `'${ref.name}'`}${ref.cluster !== '' ? ` in cluster '${ref.cluster}'` : ''} on this host`,
      );
    return d;
  }

  /**
   * The node `found` (read before its lock was taken) as it is now, under the lock: NOT_FOUND when
   * it was deleted meanwhile, even if a node of the same name took its place.
   */
  private async refind(found: DomainSummary, o?: CallOptions): Promise<DomainSummary> {
    const d = await this.find({ cluster: '', name: found.name, uuid: '' }, o);
    if (d?.uuid !== found.uuid)
      throw new TenksError('NOT_FOUND', `node '${found.name}' (${found.uuid}) was deleted meanwhile`);
    return d;
  }
}
