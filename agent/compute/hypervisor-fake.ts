import { TenksError } from '../../common/errors.js';
import type {
  DiskSource,
  DomainEvent,
  DomainPowerOp,
  DomainSpec,
  DomainSummary,
  Hypervisor,
  NodeMetadata,
} from './hypervisor.js';
import type { HostFacts, PowerState } from './types.js';

/** `op`'s outcome as a promise, as an adapter call's would be: a throw becomes a rejection. */
function settle<T>(op: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(op());
  });
}

/** A domain of the fake hypervisor. */
interface FakeDomain {
  spec: DomainSpec;
  state: PowerState;
  metadata: NodeMetadata | null;
  /** False once undefined while running: libvirt keeps such a domain until it stops. */
  persistent: boolean;
  liveCdrom?: DiskSource | null;
}

/**
 * An in-memory hypervisor for unit tests. It follows libvirt (QEMU driver) where tenks relies on
 * it, and test/integration/hypervisor-contract.test.ts holds it to the libvirt adapter.
 */
export class FakeHypervisor implements Hypervisor {
  readonly uri = 'fake:///';
  /** Defined domains by name. */
  readonly domains = new Map<string, FakeDomain>();
  /** Every call, for assertions (`define:n1`, `start:n1`). */
  readonly calls: string[] = [];
  private readonly listeners = new Set<(e: DomainEvent) => void>();
  /** When set, the next defineDomain fails with it. */
  failNextDefine: Error | null = null;

  constructor(readonly hostFacts: HostFacts) {}

  facts(): Promise<HostFacts> {
    return Promise.resolve(this.hostFacts);
  }

  private summary(name: string): DomainSummary | null {
    const d = this.domains.get(name);
    if (!d) return null;
    return {
      name,
      uuid: d.spec.uuid,
      powerState: d.state,
      metadata: d.metadata === null ? null : structuredClone(d.metadata),
    };
  }

  /** The domain `name`, or NOT_FOUND as libvirt's lookup fails. */
  private domain(name: string): FakeDomain {
    const d = this.domains.get(name);
    if (!d) throw new TenksError('NOT_FOUND', `looking up domain '${name}': Domain not found`);
    return d;
  }

  private emit(type: DomainEvent['type'], d: DomainSpec): void {
    for (const l of this.listeners) l({ type, name: d.name, uuid: d.uuid, timeMs: Date.now() });
  }

  listDomains(): Promise<DomainSummary[]> {
    return Promise.resolve(
      [...this.domains.keys()].map((n) => this.summary(n)).filter((d): d is DomainSummary => d !== null),
    );
  }

  getDomain(name: string): Promise<DomainSummary | null> {
    return Promise.resolve(this.summary(name));
  }

  getDomainByUuid(uuid: string): Promise<DomainSummary | null> {
    for (const [name, d] of this.domains) if (d.spec.uuid === uuid) return Promise.resolve(this.summary(name));
    return Promise.resolve(null);
  }

  /** Adds a domain tenks did not create. */
  addForeign(name: string, uuid: string): void {
    this.domains.set(name, { spec: { name, uuid } as DomainSpec, state: 'off', metadata: null, persistent: true });
  }

  defineDomain(spec: DomainSpec): Promise<DomainSummary> {
    return settle(() => {
      this.calls.push(`define:${spec.name}`);
      if (this.failNextDefine) {
        const e = this.failNextDefine;
        this.failNextDefine = null;
        throw e;
      }
      if (!this.hostFacts.arches.includes(spec.arch))
        throw new TenksError('UNSUPPORTED', `node '${spec.name}' is ${spec.arch}, which ${this.uri} does not run`, {
          field: 'node.arch',
        });
      if (spec.bootMode === 'uefi' && !this.hostFacts.uefiArches.includes(spec.arch))
        throw new TenksError('UNSUPPORTED', `node '${spec.name}' wants UEFI, which ${this.uri} lacks`, {
          field: 'node.boot_mode',
        });
      // libvirt refuses both as a failed operation, which the adapter reports as INTERNAL.
      const existing = this.domains.get(spec.name);
      if (existing && existing.spec.uuid !== spec.uuid)
        throw new TenksError(
          'INTERNAL',
          `defining domain '${spec.name}': operation failed: domain '${spec.name}' already exists with uuid ${existing.spec.uuid}`,
        );
      for (const [n, d] of this.domains)
        if (n !== spec.name && d.spec.uuid === spec.uuid)
          throw new TenksError(
            'INTERNAL',
            `defining domain '${spec.name}': operation failed: domain '${n}' is already defined with uuid ${spec.uuid}`,
          );
      this.domains.set(spec.name, {
        spec: structuredClone(spec),
        state: existing?.state ?? 'off',
        metadata: structuredClone(spec.metadata),
        persistent: true,
      });
      this.emit('defined', spec);
      return this.summary(spec.name) as DomainSummary;
    });
  }

  setMetadata(name: string, metadata: NodeMetadata): Promise<void> {
    return settle(() => {
      const d = this.domain(name);
      // The adapter sets the persistent definition's metadata, which a transient domain has not.
      if (!d.persistent)
        throw new TenksError(
          'CONFLICT',
          `setting metadata of '${name}': transient domains do not have any persistent config`,
        );
      d.metadata = structuredClone(metadata);
    });
  }

  /** Like libvirt, undefining a running domain leaves it running (transient) until it stops. */
  undefineDomain(name: string): Promise<void> {
    return settle(() => {
      this.calls.push(`undefine:${name}`);
      const d = this.domains.get(name);
      if (!d?.persistent) return;
      if (d.state === 'off') this.domains.delete(name);
      else d.persistent = false;
      this.emit('undefined', d.spec);
    });
  }

  power(name: string, op: DomainPowerOp): Promise<void> {
    return settle(() => {
      this.calls.push(`${op}:${name}`);
      const d = this.domain(name);
      const running = d.state !== 'off';
      // As QEMU: OPERATION_INVALID (CONFLICT), where libvirt's test driver says INTERNAL for start and shutdown.
      if (running === (op === 'start'))
        throw new TenksError('CONFLICT', `${op} of domain '${name}': domain is ${running ? 'already' : 'not'} running`);
      if (op === 'start') {
        d.state = 'on';
        this.emit('started', d.spec);
      } else if (op === 'destroy' || op === 'shutdown') {
        d.state = 'off';
        if (!d.persistent) this.domains.delete(name);
        this.emit('stopped', d.spec);
      }
    });
  }

  powerState(name: string): Promise<PowerState> {
    return settle(() => this.domain(name).state);
  }

  changeLiveMedia(name: string, media: DiskSource | null): Promise<boolean> {
    return settle(() => {
      this.calls.push(`media:${name}:${media === null ? 'eject' : 'insert'}`);
      const d = this.domain(name);
      if (d.state === 'off') return false;
      d.liveCdrom = media;
      return true;
    });
  }

  resetNvram(name: string): Promise<void> {
    return settle(() => {
      this.calls.push(`nvram-reset:${name}`);
      if (this.domain(name).state !== 'off')
        throw new TenksError('CONFLICT', `node '${name}' is running: its NVRAM is re-created at its next start`);
    });
  }

  async *events(signal: AbortSignal): AsyncIterable<DomainEvent> {
    const queue: DomainEvent[] = [];
    let wake: (() => void) | null = null;
    const listener = (e: DomainEvent): void => {
      queue.push(e);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.listeners.add(listener);
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
