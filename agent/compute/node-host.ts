import { join } from 'node:path';
import { TenksError } from '../../common/errors.js';
import { renderTemplate, TemplateError } from '../../common/jinja-lite.js';
import type { Logger } from '../../common/logger.js';
import { hostTemplateFacts } from './host-template-facts.js';
import type { HostPathPolicy } from './host-paths.js';
import type { Hypervisor, NodeMetadata } from './hypervisor.js';
import type { NicWiring } from './nic-wiring.js';
import { archOf } from './node-spec.js';
import type { Storage } from './storage.js';
import type { Engine, HostFacts, NodeSpec } from './types.js';

/** Options of the node manager: the host it makes nodes on. */
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

/**
 * The host nodes are made on, as every part of the node manager sees it: its ports (hypervisor,
 * storage, NIC wiring), its facts and settings, and what follows from them for a node's spec.
 */
export class NodeHost {
  readonly hypervisor: Hypervisor;
  readonly storage: Storage;
  readonly facts: HostFacts;
  readonly log: Logger;
  readonly hostPaths: HostPathPolicy;
  /** The agent managing these nodes (its id). */
  readonly owner: string;
  /** Networking plane; null while the host has none. */
  wiring: NicWiring | null;

  constructor(private readonly o: NodeManagerOptions) {
    this.hypervisor = o.hypervisor;
    this.storage = o.storage;
    this.facts = o.facts;
    this.log = o.log;
    this.hostPaths = o.hostPaths;
    this.owner = o.owner;
    this.wiring = o.wiring ?? null;
  }

  /** Whether this agent drives libvirt's test driver (no QEMU, no files of its own). */
  get testDriver(): boolean {
    return this.facts.libvirtUri.startsWith('test:');
  }

  /** Whether a domain's tenks metadata is this agent's. */
  ours(m: NodeMetadata): boolean {
    return m.agent === null ? this.o.ownsUnmarked : m.agent === this.owner;
  }

  /** The engine a node runs under: the one its spec forces, else KVM where the host runs its architecture under KVM. */
  engineOf(spec: NodeSpec): Engine {
    return spec.engine ?? (this.facts.kvmArches.includes(archOf(spec)) ? 'kvm' : 'qemu');
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

  /** Console log directory of a node: its spec's, else `<log_directory>/libvirt`. */
  consoleLogDir(spec: NodeSpec): string {
    return spec.consoleLogDir ?? join(this.o.logDirectory, 'libvirt');
  }

  /** Console log path of a node. */
  consoleLogPath(spec: NodeSpec): string {
    return join(this.consoleLogDir(spec), `${spec.name}-console.log`);
  }
}
