import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { invalidSpec, TenksError, type FieldError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { KeyedMutex, throwIfAborted } from '../../common/semaphore.js';
import { formatSize } from '../../common/sizes.js';
import { access, constants } from 'node:fs/promises';
import { renderTemplate, TemplateError } from '../../common/jinja-lite.js';
import { prepareConsoleLogDir } from './console-log-dir.js';
import { secureBootMachine } from './domain-xml.js';
import { hostTemplateFacts } from './host-template-facts.js';
import {
  DEFAULT_FIRMWARE,
  type CallOptions,
  type DiskSpec,
  type DomainSpec,
  type DomainSummary,
  type FirmwareState,
  type Hypervisor,
  type NodeMetadata,
} from './hypervisor.js';
import type { HostPathPolicy } from './host-paths.js';
import { compileNodeSpec, specHash, type RawNodeSpec } from './node-spec.js';
import type { Storage } from './storage.js';
import type {
  Arch,
  BootDevice,
  BootMode,
  Engine,
  HostFacts,
  NodeFirmware,
  NodeSpec,
  NodeStatus,
  PowerAction,
  PowerState,
  VolumeInfo,
} from './types.js';

/** Identifies a node: by UUID when given, else by name (and cluster, when given, must match). */
export interface NodeRef {
  cluster: string;
  name: string;
  uuid: string;
}

/** Result of ensuring a node. */
export interface EnsureResult {
  node: NodeStatus;
  changed: boolean;
  changes: string[];
  pendingRestart: boolean;
}

/**
 * Proof that its holder runs as the one change of a node now; valid only while the task given to
 * {@link NodeManager.serialise} runs.
 */
export interface NodeLock {
  /** The node's name (the lock's key). */
  readonly name: string;
}

/** Result of deleting a node. */
export interface DeleteResult {
  existed: boolean;
  removed: string[];
}

/** Node NIC wiring, provided by the networking plane (issue: agent networking). */
export interface NicWiring {
  /** Checks every physnet of the spec is set up here; returns field errors otherwise. */
  check(spec: NodeSpec): Promise<FieldError[]>;
  /** True when every NIC's switch-side port and VM-side link exist and are wired (fast path). */
  verify(spec: NodeSpec): Promise<boolean>;
  /** Ensures the switch-side ports of a node and returns how each NIC attaches. */
  attach(spec: NodeSpec, o?: CallOptions): Promise<DomainSpec['nics']>;
  /** Reports each NIC of a node (bridge, switch port). */
  describe(spec: NodeSpec): NodeStatus['nics'];
  /** Removes the switch-side ports of a node. */
  detach(spec: NodeSpec, o?: CallOptions): Promise<string[]>;
}

/** Options of the node manager. */
export interface NodeManagerOptions {
  hypervisor: Hypervisor;
  storage: Storage;
  facts: HostFacts;
  /** Console logs go to `<logDirectory>/libvirt/<node>-console.log` (as upstream). */
  logDirectory: string;
  log: Logger;
  /** Networking plane; null while the host has none, in which case nodes with NICs are refused. */
  wiring?: NicWiring | null;
  /** Which host files volumes may use; checked before an ensure touches anything. */
  hostPaths: HostPathPolicy;
  /**
   * The agent managing these nodes (its id), recorded in each domain's metadata: of the domains on
   * the libvirt URI it manages only those it made.
   */
  owner: string;
  /** Whether domains defined before owners were recorded (no agent in their metadata) are this agent's. */
  ownsUnmarked: boolean;
}

/** What a BMC may change in a node's firmware settings (absent fields stay as they are). */
export interface FirmwarePatch {
  bootMode?: BootMode;
  secureBoot?: boolean;
  /** Merged into the current attributes; null restores the defaults. */
  bios?: Record<string, string | number | boolean> | null;
  indicatorLed?: 'Lit' | 'Off' | 'Blinking';
  /** Fetch the firmware's TLS verification choice for virtual media. */
  verifyMediaCertificate?: boolean;
  /** Re-create the UEFI variable store (default keys) now, or at the next start when running. */
  resetNvram?: boolean;
}

/** Pool volume name of a node's virtual CD. */
export function mediaVolumeName(node: string): string {
  return `${node}-vmedia-cd`;
}

/** libvirt volume name of a node's volume. */
export function volumeName(node: string, volume: string): string {
  return `${node}-${volume}`;
}

/** A random locally administered unicast MAC (0x52 first octet, as QEMU's range, with 40 random bits). */
export function generateMac(): string {
  const b = randomBytes(5);
  return ['52', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/** Guest architecture of a spec. */
function archOf(spec: NodeSpec): Arch {
  return spec.arch ?? 'x86_64';
}

/** QEMU machine type of a spec: its own, else virt for aarch64, q35 for UEFI and pc for BIOS. */
function machineOf(spec: NodeSpec): string {
  return spec.machine ?? (archOf(spec) === 'aarch64' ? 'virt' : spec.bootMode === 'uefi' ? 'q35' : 'pc');
}

/** The architecture a `qemu-system-<arch>` emulator path runs, or null for other names. */
function emulatorArch(path: string): string | null {
  return /(?:^|\/)qemu-system-([a-z0-9_]+)$/.exec(path)?.[1] ?? null;
}

function firmwareView(spec: NodeSpec, f: FirmwareState): NodeFirmware {
  const bootMode = f.bootMode ?? spec.bootMode;
  return {
    bootMode,
    secureBoot: bootMode === 'uefi' && f.secureBoot,
    bios: f.bios,
    indicatorLed: f.indicatorLed,
    verifyMediaCertificate: f.verifyMediaCertificate,
  };
}

function bootOrder(first: BootDevice): BootDevice[] {
  const rest: BootDevice[] = ['network', 'disk'].filter((d) => d !== first) as BootDevice[];
  return [first, ...rest];
}

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

/**
 * Makes nodes exist as specified on one host: volumes, domain, NIC wiring. Every operation is
 * idempotent; what exists is read from libvirt (domain metadata, pool volumes), never from a file.
 */
export class NodeManager {
  private readonly mutex = new KeyedMutex();
  /** Locks whose task is running. */
  private readonly held = new WeakSet<NodeLock>();
  private readonly hv: Hypervisor;
  private readonly storage: Storage;
  private readonly log: Logger;
  private wiring: NicWiring | null;

  constructor(private readonly o: NodeManagerOptions) {
    this.hv = o.hypervisor;
    this.storage = o.storage;
    this.log = o.log;
    this.wiring = o.wiring ?? null;
  }

  /** Plugs in the networking plane. */
  setWiring(wiring: NicWiring | null): void {
    this.wiring = wiring;
  }

  /** Console log directory of a node: its spec's, else `<log_directory>/libvirt`. */
  consoleLogDir(spec: NodeSpec): string {
    return spec.consoleLogDir ?? join(this.o.logDirectory, 'libvirt');
  }

  /** Console log path of a node. */
  consoleLogPath(spec: NodeSpec): string {
    return join(this.consoleLogDir(spec), `${spec.name}-console.log`);
  }

  /** Whether this agent drives libvirt's test driver (no QEMU, no files of its own). */
  private get testDriver(): boolean {
    return this.o.facts.libvirtUri.startsWith('test:');
  }

  /** The engine a node runs under: the one its spec forces, else KVM where the host runs its architecture under KVM. */
  private engineOf(spec: NodeSpec): Engine {
    return spec.engine ?? (this.o.facts.kvmArches.includes(archOf(spec)) ? 'kvm' : 'qemu');
  }

  /** The emulator path of a node on this host (its template rendered with this host's facts), or null for libvirt's. */
  emulatorOf(spec: NodeSpec): string | null {
    if (spec.emulator === undefined) return null;
    try {
      return renderTemplate(spec.emulator, hostTemplateFacts());
    } catch (e) {
      if (e instanceof TemplateError)
        throw new TenksError('INVALID_SPEC', `emulator: ${e.message}`, { field: 'node.emulator' });
      throw e;
    }
  }

  /** Checks everything an ensure needs before touching anything; throws INVALID_SPEC/NOT_FOUND listing all problems. */
  private async preflight(spec: NodeSpec, o?: CallOptions): Promise<void> {
    const errors: FieldError[] = [];
    const facts = this.o.facts;
    const arch = archOf(spec);
    if (!facts.arches.includes(arch))
      errors.push({
        field: 'node.arch',
        message:
          `host '${facts.hostname}' does not run ${arch} guests (it runs ${facts.arches.join(', ') || 'none'})` +
          (arch === 'aarch64' ? '; install qemu-system-arm there' : ''),
      });
    else if (spec.bootMode === 'uefi' && !facts.uefiArches.includes(arch))
      errors.push({
        field: 'node.boot_mode',
        message:
          arch === 'x86_64'
            ? 'UEFI firmware (OVMF) is not available on this host; install ovmf or use bios'
            : `UEFI firmware (AAVMF) for ${arch} is not available on host '${facts.hostname}'; install qemu-efi-aarch64`,
      });
    if (spec.engine === 'kvm' && !facts.kvmArches.includes(arch))
      errors.push({
        field: 'node.engine',
        message:
          arch === 'x86_64'
            ? `engine kvm was asked for, but host '${facts.hostname}' runs QEMU without KVM (TCG)`
            : `engine kvm was asked for, but host '${facts.hostname}' runs ${arch} guests under QEMU without KVM (TCG)`,
      });
    if (spec.cpuMode === 'host-passthrough' && this.engineOf(spec) !== 'kvm')
      errors.push({
        field: 'node.cpu_mode',
        message:
          spec.engine === 'qemu'
            ? 'host-passthrough needs KVM, and the node is forced to QEMU without KVM (TCG, libvirt_vm_engine: qemu)'
            : 'host-passthrough needs KVM, and this host runs QEMU without KVM (TCG)',
      });
    if (spec.emulator !== undefined) {
      let path: string | null = null;
      try {
        path = this.emulatorOf(spec);
      } catch (e) {
        errors.push({ field: 'node.emulator', message: (e as Error).message });
      }
      const runs = path === null ? null : emulatorArch(path);
      if (path !== null && !path.startsWith('/'))
        errors.push({ field: 'node.emulator', message: `'${path}' (rendered on this host) is not an absolute path` });
      else if (runs !== null && runs !== arch)
        errors.push({
          field: 'node.emulator',
          message: `emulator '${path}' runs ${runs} guests, and the node is ${arch}`,
        });
      else if (path !== null && !this.testDriver)
        await access(path, constants.X_OK).catch(() =>
          errors.push({
            field: 'node.emulator',
            message: `emulator '${path}' is not an executable file on host '${this.o.facts.hostname}'`,
          }),
        );
    }
    await Promise.all(
      spec.volumes.map(async (v, i) => {
        const field = `node.volumes[${i}]`;
        if (v.source.kind === 'image' || v.source.kind === 'backing') {
          const key = v.source.kind === 'image' ? 'image' : 'backing_image';
          try {
            const img = await this.storage.inspectImage(v.source.path, o);
            if (!img)
              errors.push({
                field: `${field}.${key}`,
                message: `image '${v.source.path}' does not exist on this host`,
              });
            else if (v.capacityBytes !== 0 && v.capacityBytes < img.virtualBytes)
              errors.push({
                field: `${field}.capacity`,
                message: `capacity ${formatSize(v.capacityBytes)} is smaller than image '${v.source.path}' (${formatSize(img.virtualBytes)})`,
              });
          } catch (e) {
            errors.push({ field: `${field}.${key}`, message: (e as Error).message });
          }
        } else if (v.source.kind === 'existing') {
          if (!v.source.ref.startsWith('/')) {
            const vol = await this.storage.getVolume(v.source.ref, o);
            if (!vol)
              errors.push({
                field: `${field}.existing`,
                message: `volume '${v.source.ref}' does not exist in pool '${this.storage.poolName}'`,
              });
          } else if (!(await this.storage.inspectImage(v.source.ref, o).catch(() => null))) {
            errors.push({ field: `${field}.existing`, message: `'${v.source.ref}' does not exist on this host` });
          }
        }
      }),
    );
    if (spec.nics.length > 0) {
      if (!this.wiring)
        errors.push({ field: 'node.nics', message: 'this host has no physical networks set up (SetupHost first)' });
      else errors.push(...(await this.wiring.check(spec)));
    }
    if (errors.length > 0) throw invalidSpec(errors);
  }

  private async checkOwnership(spec: NodeSpec, existing: DomainSummary | null, o?: CallOptions): Promise<void> {
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
      if (!this.ours(existing.metadata))
        throw new TenksError(
          'ALREADY_EXISTS',
          `node '${spec.name}' already exists on this host, managed by another tenks agent (${existing.metadata.agent ?? 'defined before agents marked their nodes'})`,
          { field: 'node.name', hint: 'node names must be unique per libvirt URI across agents and clusters' },
        );
      if (existing.metadata.cluster !== spec.cluster)
        throw new TenksError(
          'ALREADY_EXISTS',
          `node '${spec.name}' already exists on this host in cluster '${existing.metadata.cluster}'`,
          {
            field: 'node.name',
            hint: 'node names must be unique per host across clusters',
          },
        );
      if (spec.uuid !== null && existing.uuid !== spec.uuid)
        throw new TenksError(
          'CONFLICT',
          `node '${spec.name}' exists with UUID ${existing.uuid}, the spec asks for ${spec.uuid}`,
          {
            field: 'node.uuid',
            hint: 'delete the node first to change its UUID',
          },
        );
    } else if (spec.uuid !== null) {
      const other = await this.hv.getDomainByUuid(spec.uuid, o);
      if (other)
        throw new TenksError('ALREADY_EXISTS', `UUID ${spec.uuid} is already used by domain '${other.name}'`, {
          field: 'node.uuid',
        });
    }
  }

  /** The spec with generated values (UUID, MACs) filled in, keeping those already on the domain. */
  private resolve(spec: NodeSpec, existing: DomainSummary | null): NodeSpec {
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

  private ownedVolumeNames(spec: NodeSpec): string[] {
    return spec.volumes.filter((v) => v.source.kind !== 'existing').map((v) => volumeName(spec.name, v.name));
  }

  private disks(spec: NodeSpec): DiskSpec[] {
    return spec.volumes.map((v): DiskSpec => {
      if (v.source.kind === 'existing') {
        const ref = v.source.ref;
        if (!ref.startsWith('/'))
          return { source: this.storage.diskSource(ref), format: this.storage.diskFormat(v.format) };
        return { source: { type: ref.startsWith('/dev/') ? 'block' : 'file', path: ref }, format: v.format };
      }
      return {
        source: this.storage.diskSource(volumeName(spec.name, v.name)),
        format: this.storage.diskFormat(v.format),
      };
    });
  }

  private domainSpec(spec: NodeSpec, metadata: NodeMetadata, nics: DomainSpec['nics']): DomainSpec {
    const engine = this.engineOf(spec);
    const arch = archOf(spec);
    const bootMode = metadata.firmware.bootMode ?? spec.bootMode;
    const media = metadata.media;
    // Under TCG QEMU's default aarch64 CPU (cortex-a15) is 32-bit: 'maximum' runs 64-bit firmware.
    const defaultCpu = engine === 'kvm' ? 'host-passthrough' : arch === 'aarch64' ? 'maximum' : null;
    return {
      name: spec.name,
      uuid: metadata.uuid,
      memoryMb: spec.memoryMb,
      vcpus: spec.vcpus,
      arch,
      machine: machineOf(spec),
      // 'none' is upstream's empty cpu_mode: no <cpu> element.
      cpuMode: spec.cpuMode === 'none' ? null : (spec.cpuMode ?? defaultCpu),
      bootMode,
      secureBoot: bootMode === 'uefi' && metadata.firmware.secureBoot,
      engine,
      disks: this.disks(spec),
      cdrom: media?.inserted ? this.storage.diskSource(media.volume) : null,
      nics,
      bootOrder: bootOrder(metadata.bootDevice),
      consoleLogPath: spec.consoleLog ? this.consoleLogPath(spec) : null,
      vnc: spec.vnc,
      emulator: this.testDriver ? null : this.emulatorOf(spec),
      clockOffset: spec.clockOffset ?? 'utc',
      trustGuestRxFilters: spec.trustGuestRxFilters === true,
      metadata,
    };
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
    return this.ensureLocked(spec, o);
  }

  /** Pool volumes of a spec (owned and `existing` pool volumes), in volume order, null when missing. */
  private async specVolumes(spec: NodeSpec, o?: CallOptions): Promise<(VolumeInfo | null)[]> {
    return Promise.all(
      spec.volumes.map((v): Promise<VolumeInfo | null> => {
        if (v.source.kind !== 'existing') return this.storage.getVolume(volumeName(spec.name, v.name), o);
        return v.source.ref.startsWith('/') ? Promise.resolve(null) : this.storage.getVolume(v.source.ref, o);
      }),
    );
  }

  private async ensureLocked(spec: NodeSpec, o: CallOptions & { dryRun?: boolean }): Promise<EnsureResult> {
    throwIfAborted(o.signal);
    // Even an unchanged node: what it was allowed to use before may no longer be allowed.
    await this.o.hostPaths.check(spec);
    const existing = await this.hv.getDomain(spec.name, o);
    await this.checkOwnership(spec, existing, o);
    const hash = specHash(spec);
    const owned = this.ownedVolumeNames(spec);

    // Fast path: same spec as last applied, and every owned volume and NIC port still there.
    let rewired = false;
    if (existing?.metadata?.specHash === hash) {
      const [vols, wired] = await Promise.all([
        this.specVolumes(spec, o),
        spec.nics.length === 0 ? true : this.wiring ? this.wiring.verify(existing.metadata.spec) : false,
      ]);
      const ownedPresent = spec.volumes.every((v, i) => v.source.kind === 'existing' || vols[i] !== null);
      if (ownedPresent && wired) {
        return { node: await this.status(existing, vols), changed: false, changes: [], pendingRestart: false };
      }
      rewired = !wired;
    }

    await this.preflight(spec, o);
    const resolved = this.resolve(spec, existing);
    const oldMeta = existing?.metadata ?? null;
    const changes = oldMeta ? diffSpecs(oldMeta.spec, resolved) : ['node created'];
    if (rewired) changes.push('NIC ports re-created');
    if (o.dryRun) {
      const node = existing ? await this.status(existing) : this.plannedStatus(resolved);
      return { node, changed: changes.length > 0, changes, pendingRestart: false };
    }
    const uuid = resolved.uuid ?? randomUUID();
    const metadata = (ownedVolumes: string[]): NodeMetadata => ({
      version: 1,
      cluster: spec.cluster,
      name: spec.name,
      uuid,
      agent: this.o.owner,
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
      if (resolved.consoleLog && !this.testDriver)
        await prepareConsoleLogDir(this.consoleLogDir(resolved), resolved.consoleLogOwner);
      const nics = this.wiring && resolved.nics.length > 0 ? await this.wiring.attach(resolved, o) : [];
      if (!existing) {
        // Define first (disks name pool volumes, which need not exist yet), so that a crash from
        // here on leaves a record of the volumes to clean up.
        summary = await this.hv.defineDomain(this.domainSpec(resolved, meta, nics), o);
        definedNew = true;
      }
      for (const v of resolved.volumes) {
        if (v.source.kind === 'existing') {
          vols.push(v.source.ref.startsWith('/') ? null : await this.storage.getVolume(v.source.ref, o));
          continue;
        }
        const name = volumeName(spec.name, v.name);
        let have = await this.storage.getVolume(name, o);
        if (!have) {
          have = await this.storage.createVolume(
            { name, capacityBytes: v.capacityBytes, format: v.format, source: v.source },
            o,
          );
          created.push(name);
          if (existing) changes.push(`volume ${v.name}: created`);
        } else if (have.capacityBytes < v.capacityBytes) {
          have = await this.storage.resizeVolume(name, v.capacityBytes, o);
        } else if (have.capacityBytes > v.capacityBytes && v.capacityBytes > 0) {
          changes.push(`volume ${v.name}: kept at ${formatSize(have.capacityBytes)} (volumes never shrink)`);
        }
        vols.push(have);
      }
      if (existing) summary = await this.hv.defineDomain(this.domainSpec(resolved, meta, nics), o);
    } catch (e) {
      // Undo what this call created, so a failed ensure leaves nothing half-built behind.
      for (const n of created) await this.storage.deleteVolume(n).catch(() => undefined);
      if (definedNew) await this.hv.undefineDomain(spec.name).catch(() => undefined);
      throw e;
    }
    if (!summary) throw new TenksError('INTERNAL', `node '${spec.name}' was not defined`);
    // The domain now matches the spec; only the dropped volumes remain to go.
    if (dropped.length > 0) {
      for (const n of dropped) if (await this.storage.deleteVolume(n, o)) changes.push(`volume ${n}: deleted`);
      summary = { ...summary, metadata: metadata(owned) };
      await this.hv.setMetadata(spec.name, metadata(owned), o);
    }
    const pendingRestart = existing !== null && existing.powerState !== 'off' && changes.length > 0;
    this.log.info(existing ? 'node updated' : 'node created', {
      cluster: spec.cluster,
      node: spec.name,
      changes: changes.length,
    });
    return { node: await this.status(summary, vols), changed: true, changes, pendingRestart };
  }

  private plannedStatus(spec: NodeSpec): NodeStatus {
    return {
      cluster: spec.cluster,
      name: spec.name,
      uuid: spec.uuid ?? '',
      nodeType: spec.nodeType,
      hypervisor: this.o.facts.hostname,
      powerState: 'off',
      memoryMb: spec.memoryMb,
      vcpus: spec.vcpus,
      bootMode: spec.bootMode,
      machine: machineOf(spec),
      arch: archOf(spec),
      volumes: [],
      nics: this.wiring ? this.wiring.describe(spec) : [],
      specHash: specHash(spec),
      consoleLogPath: spec.consoleLog ? this.consoleLogPath(spec) : '',
      engine: this.engineOf(spec),
      bootDevice: 'network',
      bootPersistent: true,
      labels: spec.labels,
      firmware: firmwareView(spec, DEFAULT_FIRMWARE),
      media: null,
    };
  }

  /** NodeStatus from a domain summary (with tenks metadata). */
  private async status(
    d: DomainSummary,
    vols?: (VolumeInfo | null)[],
    byName?: Map<string, VolumeInfo>,
  ): Promise<NodeStatus> {
    const m = d.metadata;
    if (!m) throw new TenksError('INTERNAL', `domain '${d.name}' has no tenks metadata`);
    const spec = m.spec;
    let volumes: VolumeInfo[];
    if (byName) {
      volumes = spec.volumes
        .map((v) => byName.get(v.source.kind === 'existing' ? v.source.ref : volumeName(spec.name, v.name)))
        .filter((v): v is VolumeInfo => v !== undefined);
    } else if (vols) {
      volumes = vols.filter((v): v is VolumeInfo => v !== null);
    } else {
      const got = await Promise.all(
        spec.volumes.map((v): Promise<VolumeInfo | null> => {
          if (v.source.kind === 'existing')
            return v.source.ref.startsWith('/') ? Promise.resolve(null) : this.storage.getVolume(v.source.ref);
          return this.storage.getVolume(volumeName(spec.name, v.name));
        }),
      );
      volumes = got.filter((v): v is VolumeInfo => v !== null);
    }
    return {
      cluster: m.cluster,
      name: d.name,
      uuid: d.uuid,
      nodeType: spec.nodeType,
      hypervisor: this.o.facts.hostname,
      powerState: d.powerState,
      memoryMb: spec.memoryMb,
      vcpus: spec.vcpus,
      bootMode: spec.bootMode,
      machine: machineOf(spec),
      arch: archOf(spec),
      volumes,
      nics: this.wiring
        ? this.wiring.describe(spec)
        : spec.nics.map((n) => ({ physnet: n.physnet, mac: n.mac ?? '', bridge: '', bridgeMac: '', switchPort: '' })),
      specHash: m.specHash,
      consoleLogPath: spec.consoleLog ? this.consoleLogPath(spec) : '',
      engine: this.engineOf(spec),
      bootDevice: m.bootDevice,
      bootPersistent: m.bootPersistent,
      labels: spec.labels,
      firmware: firmwareView(spec, m.firmware),
      media: m.media
        ? { image: m.media.image, inserted: m.media.inserted, writeProtected: m.media.writeProtected }
        : null,
    };
  }

  private async find(ref: NodeRef, o?: CallOptions): Promise<DomainSummary | null> {
    let d: DomainSummary | null;
    if (ref.uuid !== '') d = await this.hv.getDomainByUuid(ref.uuid.toLowerCase(), o);
    else if (ref.name !== '') d = await this.hv.getDomain(ref.name, o);
    else throw new TenksError('INVALID_SPEC', 'a node reference needs a name or a UUID', { field: 'node' });
    if (!d) return null;
    if (!d.metadata || !this.ours(d.metadata)) return null;
    if (ref.cluster !== '' && d.metadata.cluster !== ref.cluster) return null;
    return d;
  }

  /** Whether a domain's tenks metadata is this agent's. */
  ours(m: NodeMetadata): boolean {
    return m.agent === null ? this.o.ownsUnmarked : m.agent === this.o.owner;
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

  /** One node as observed. */
  async get(ref: NodeRef, o?: CallOptions): Promise<NodeStatus> {
    return this.status(await this.mustFind(ref, o));
  }

  /** Every tenks node on this host (of one cluster when given). */
  async list(cluster: string, o?: CallOptions): Promise<NodeStatus[]> {
    const [domains, vols] = await Promise.all([this.hv.listDomains(o), this.storage.listVolumes(o)]);
    const byName = new Map(vols.map((v) => [v.name, v]));
    const ours = domains.filter(
      (d) => d.metadata !== null && this.ours(d.metadata) && (cluster === '' || d.metadata.cluster === cluster),
    );
    const out = await Promise.all(ours.map((d) => this.status(d, undefined, byName)));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The name `ref` points to, which keys the node's lock: its own name, or the name of the domain
   * with its UUID (null when there is none).
   */
  async lockName(ref: NodeRef, o?: CallOptions): Promise<string | null> {
    if (ref.uuid !== '') return (await this.hv.getDomainByUuid(ref.uuid.toLowerCase(), o))?.name ?? null;
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
    const d = await this.hv.getDomain(lock.name, o);
    if (!d || (ref.uuid !== '' && d.uuid !== ref.uuid.toLowerCase())) return { existed: false, removed: [] };
    if (!d.metadata)
      throw new TenksError('CONFLICT', `domain '${d.name}' was not created by tenks; refusing to delete it`, {
        field: 'node.name',
      });
    if (!this.ours(d.metadata))
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
      await this.hv.power(d.name, 'destroy', o).catch((e: unknown) => {
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
        d.metadata.ownedVolumes.map(async (v) => ((await this.storage.deleteVolume(v, o)) ? [`volume ${v}`] : [])),
      ),
      this.wiring ? this.wiring.detach(spec, o) : Promise.resolve([]),
    ]);
    await this.hv.undefineDomain(d.name, o);
    removed.push(`domain ${d.name}`, ...volumes.flat(), ...ports);
    this.log.info('node deleted', { cluster: d.metadata.cluster, node: d.name });
    return { existed: true, removed };
  }

  /** Applies a power action; returns the state afterwards and whether anything was done. */
  async power(
    ref: NodeRef,
    action: PowerAction,
    o: CallOptions = {},
  ): Promise<{ powerState: PowerState; changed: boolean }> {
    const found = await this.mustFind(ref, o);
    // Under the node's lock, so a power-on cannot land between a delete's destroy and undefine
    // (which would leave the domain running, or fail the delete).
    return this.serialise(found.name, async () => this.powerLocked(await this.refind(found, o), action, o));
  }

  private async powerLocked(
    d: DomainSummary,
    action: PowerAction,
    o: CallOptions,
  ): Promise<{ powerState: PowerState; changed: boolean }> {
    const on = d.powerState === 'on' || d.powerState === 'paused' || d.powerState === 'shutting_down';
    let changed = true;
    switch (action) {
      case 'on':
        if (on) changed = false;
        else await this.start(d, o);
        break;
      case 'off':
        if (!on) changed = false;
        else await this.hv.power(d.name, 'destroy', o);
        break;
      case 'soft_off':
        if (!on) changed = false;
        else await this.hv.power(d.name, 'shutdown', o);
        break;
      case 'reset':
      case 'nmi':
        if (!on)
          throw new TenksError(
            'CONFLICT',
            `node '${d.name}' is off; ${action === 'reset' ? 'power it on instead' : 'NMI needs a running node'}`,
          );
        await this.hv.power(d.name, action, o);
        break;
      case 'cycle':
        if (on) await this.hv.power(d.name, 'destroy', o);
        await this.start(d, o);
        break;
    }
    return { powerState: await this.hv.powerState(d.name, o), changed };
  }

  /**
   * Starts a stopped node, first re-creating its NVRAM when a firmware change asked for it. The
   * caller holds the node's lock (`d` was read under it).
   */
  private async start(d: DomainSummary, o: CallOptions): Promise<void> {
    const m = d.metadata;
    if (m?.firmware.nvramReset) {
      await this.hv.resetNvram(d.name, o);
      await this.hv.setMetadata(d.name, { ...m, firmware: { ...m.firmware, nvramReset: false } }, o);
    }
    await this.hv.power(d.name, 'start', o);
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
    const found = await this.mustFind(ref, o);
    await this.serialise(found.name, async () => {
      const d = await this.refind(found, o);
      const m = d.metadata as NodeMetadata;
      const next: NodeMetadata = {
        ...m,
        bootDevice: device,
        bootPersistent: persistent,
        persistentBootDevice: persistent ? device : m.bootPersistent ? m.bootDevice : m.persistentBootDevice,
      };
      if (
        next.bootDevice === m.bootDevice &&
        next.bootPersistent === m.bootPersistent &&
        next.persistentBootDevice === m.persistentBootDevice
      )
        return;
      await this.redefine(m.spec, next, o);
      this.log.info('boot device set', { node: d.name, device, persistent });
    });
  }

  /** After a node started with a one-time boot device, its definition goes back to the persistent one. */
  async completeOneTimeBoot(name: string, o: CallOptions = {}): Promise<boolean> {
    return this.serialise(name, async () => {
      const d = await this.hv.getDomain(name, o);
      const m = d?.metadata;
      if (!m || !this.ours(m) || m.bootPersistent) return false;
      await this.redefine(m.spec, { ...m, bootDevice: m.persistentBootDevice, bootPersistent: true }, o);
      this.log.info('one-time boot device used', { node: name, next: m.persistentBootDevice });
      return true;
    });
  }

  private async redefine(spec: NodeSpec, metadata: NodeMetadata, o: CallOptions): Promise<void> {
    const nics = this.wiring && spec.nics.length > 0 ? await this.wiring.attach(spec, o) : [];
    await this.hv.defineDomain(this.domainSpec(spec, metadata, nics), o);
  }

  /**
   * Changes firmware settings as a BMC would: the definition changes now, a running node sees the
   * change at its next cold start. A boot mode or Secure Boot change re-creates the NVRAM.
   */
  async setFirmware(ref: NodeRef, patch: FirmwarePatch, o: CallOptions = {}): Promise<void> {
    const found = await this.mustFind(ref, o);
    await this.serialise(found.name, async () => {
      const d = await this.refind(found, o);
      const m = d.metadata as NodeMetadata;
      const cur = m.firmware;
      const bootMode = patch.bootMode ?? cur.bootMode ?? m.spec.bootMode;
      const secureBoot = patch.secureBoot ?? cur.secureBoot;
      const arch = archOf(m.spec);
      const machine = machineOf(m.spec);
      if (bootMode === 'bios' && arch !== 'x86_64')
        throw new TenksError('UNSUPPORTED', `node '${d.name}' is ${arch}: its firmware is UEFI only, it has no BIOS`, {
          field: 'BootSourceOverrideMode',
        });
      if (bootMode === 'uefi' && !this.o.facts.uefiArches.includes(arch))
        throw new TenksError(
          'UNSUPPORTED',
          arch === 'x86_64'
            ? 'UEFI firmware (OVMF) is not available on this host'
            : `UEFI firmware (AAVMF) for ${arch} is not available on this host`,
          { field: 'BootSourceOverrideMode' },
        );
      if (secureBoot && bootMode !== 'uefi')
        throw new TenksError('CONFLICT', `node '${d.name}' boots in legacy BIOS mode: Secure Boot needs UEFI`, {
          field: 'SecureBootEnable',
        });
      if (secureBoot && !secureBootMachine(arch, machine))
        throw new TenksError(
          'UNSUPPORTED',
          `Secure Boot needs a ${arch === 'x86_64' ? 'q35' : 'virt'} machine; node '${d.name}' is '${machine}'`,
          {
            field: 'SecureBootEnable',
          },
        );
      if (secureBoot && !cur.secureBoot && !this.o.facts.secureBootArches.includes(arch))
        throw new TenksError('UNSUPPORTED', `this host has no ${arch} UEFI firmware with Secure Boot`, {
          field: 'SecureBootEnable',
        });
      const effectiveOld = cur.bootMode ?? m.spec.bootMode;
      const firmwareChanged = bootMode !== effectiveOld || (bootMode === 'uefi' && secureBoot !== cur.secureBoot);
      const next: FirmwareState = {
        bootMode: bootMode === m.spec.bootMode ? null : bootMode,
        secureBoot,
        bios: patch.bios === undefined ? cur.bios : patch.bios === null ? null : { ...(cur.bios ?? {}), ...patch.bios },
        indicatorLed: patch.indicatorLed ?? cur.indicatorLed,
        verifyMediaCertificate: patch.verifyMediaCertificate ?? cur.verifyMediaCertificate,
        // A stopped UEFI node gets its NVRAM re-created at the redefinition; a running one at its next start.
        nvramReset:
          cur.nvramReset ||
          ((firmwareChanged || patch.resetNvram === true) && bootMode === 'uefi' && d.powerState !== 'off'),
      };
      const resetNow = patch.resetNvram === true && bootMode === 'uefi' && d.powerState === 'off';
      if (JSON.stringify(next) === JSON.stringify(cur) && !resetNow) return;
      const meta = { ...m, firmware: next };
      if (resetNow && !firmwareChanged) {
        await this.hv.setMetadata(d.name, meta, o);
        await this.hv.resetNvram(d.name, o);
      } else if (firmwareChanged && bootMode === 'uefi' && d.powerState === 'off') {
        await this.redefine(m.spec, meta, o);
        await this.hv.resetNvram(d.name, o);
      } else if (firmwareChanged) {
        await this.redefine(m.spec, meta, o);
      } else {
        await this.hv.setMetadata(d.name, meta, o);
      }
      this.log.info('firmware settings changed', { node: d.name, bootMode, secureBoot });
    });
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
    const found = await this.mustFind(ref, o);
    await this.serialise(found.name, async () => {
      const d = await this.refind(found, o);
      const m = d.metadata as NodeMetadata;
      const volume = mediaVolumeName(d.name);
      // Out of the drive before its volume is replaced.
      if (m.media?.inserted) await this.hv.changeLiveMedia(d.name, null, o).catch(() => false);
      await this.storage.deleteVolume(volume, o);
      await this.storage.createVolume(
        { name: volume, capacityBytes: 0, format: 'raw', source: { kind: 'image', path: media.file } },
        o,
      );
      const meta: NodeMetadata = {
        ...m,
        ownedVolumes: m.ownedVolumes.includes(volume) ? m.ownedVolumes : [...m.ownedVolumes, volume],
        media: { image: media.image, volume, inserted: true, writeProtected: media.writeProtected },
      };
      await this.redefine(m.spec, meta, o);
      if (d.powerState !== 'off') await this.hv.changeLiveMedia(d.name, this.storage.diskSource(volume), o);
      this.log.info('virtual media inserted', { node: d.name, image: media.image });
    });
  }

  /** Empties the node's virtual CD drive and deletes the image volume. */
  async ejectMedia(ref: NodeRef, o: CallOptions = {}): Promise<boolean> {
    const found = await this.mustFind(ref, o);
    return this.serialise(found.name, async () => {
      const d = await this.refind(found, o);
      const m = d.metadata as NodeMetadata;
      if (!m.media) return false;
      if (d.powerState !== 'off') await this.hv.changeLiveMedia(d.name, null, o);
      const volume = m.media.volume;
      // As sushy-tools does: a node told to boot from the CD boots from its disk once the CD is gone.
      const fromCd = m.bootDevice === 'cdrom';
      const meta: NodeMetadata = {
        ...m,
        media: null,
        ownedVolumes: m.ownedVolumes.filter((v) => v !== volume),
        ...(fromCd ? { bootDevice: 'disk' as const } : {}),
        ...(m.persistentBootDevice === 'cdrom' ? { persistentBootDevice: 'disk' as const } : {}),
      };
      await this.redefine(m.spec, meta, o);
      await this.storage.deleteVolume(volume, o);
      this.log.info('virtual media ejected', { node: d.name });
      return true;
    });
  }

  /** How many tenks nodes this host has. */
  async count(o?: CallOptions): Promise<number> {
    return (await this.hv.listDomains(o)).filter((d) => d.metadata !== null && this.ours(d.metadata)).length;
  }
}
