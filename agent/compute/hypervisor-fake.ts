import { TenksError } from '../../common/errors.js';
import type {
  CallOptions,
  DomainEvent,
  DomainPowerOp,
  DomainSpec,
  DomainSummary,
  DiskSource,
  Hypervisor,
  NodeMetadata,
} from './hypervisor.js';
import type { HostFacts, PowerState } from './types.js';

/** An in-memory hypervisor for unit tests. Mirrors libvirt's rules that tenks relies on. */
export class FakeHypervisor implements Hypervisor {
  readonly uri = 'fake:///';
  /** Defined domains by name. */
  readonly domains = new Map<
    string,
    { spec: DomainSpec; state: PowerState; metadata: NodeMetadata | null; liveCdrom?: DiskSource | null }
  >();
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
    this.domains.set(name, { spec: { name, uuid } as DomainSpec, state: 'off', metadata: null });
  }

  defineDomain(spec: DomainSpec, _o?: CallOptions): Promise<DomainSummary> {
    this.calls.push(`define:${spec.name}`);
    if (this.failNextDefine) {
      const e = this.failNextDefine;
      this.failNextDefine = null;
      return Promise.reject(e);
    }
    const existing = this.domains.get(spec.name);
    if (existing && existing.spec.uuid !== spec.uuid)
      return Promise.reject(
        new TenksError('ALREADY_EXISTS', `domain '${spec.name}' already exists with uuid ${existing.spec.uuid}`),
      );
    for (const [n, d] of this.domains)
      if (n !== spec.name && d.spec.uuid === spec.uuid)
        return Promise.reject(new TenksError('ALREADY_EXISTS', `domain '${n}' already has uuid ${spec.uuid}`));
    this.domains.set(spec.name, {
      spec: structuredClone(spec),
      state: existing?.state ?? 'off',
      metadata: structuredClone(spec.metadata),
    });
    this.emit('defined', spec);
    return Promise.resolve(this.summary(spec.name) as DomainSummary);
  }

  setMetadata(name: string, metadata: NodeMetadata): Promise<void> {
    const d = this.domains.get(name);
    if (!d) return Promise.reject(new TenksError('NOT_FOUND', `no domain '${name}'`));
    d.metadata = structuredClone(metadata);
    return Promise.resolve();
  }

  undefineDomain(name: string): Promise<void> {
    this.calls.push(`undefine:${name}`);
    const d = this.domains.get(name);
    if (!d) return Promise.resolve();
    if (d.state !== 'off') return Promise.reject(new TenksError('CONFLICT', `domain '${name}' is running`));
    this.domains.delete(name);
    this.emit('undefined', d.spec);
    return Promise.resolve();
  }

  power(name: string, op: DomainPowerOp): Promise<void> {
    this.calls.push(`${op}:${name}`);
    const d = this.domains.get(name);
    if (!d) return Promise.reject(new TenksError('NOT_FOUND', `no domain '${name}'`));
    const running = d.state !== 'off';
    switch (op) {
      case 'start':
        if (running) return Promise.reject(new TenksError('CONFLICT', 'domain is already running'));
        d.state = 'on';
        this.emit('started', d.spec);
        break;
      case 'destroy':
      case 'shutdown':
        if (!running) return Promise.reject(new TenksError('CONFLICT', 'domain is not running'));
        d.state = 'off';
        this.emit('stopped', d.spec);
        break;
      case 'reset':
      case 'nmi':
        if (!running) return Promise.reject(new TenksError('CONFLICT', 'domain is not running'));
        break;
    }
    return Promise.resolve();
  }

  powerState(name: string): Promise<PowerState> {
    const d = this.domains.get(name);
    if (!d) return Promise.reject(new TenksError('NOT_FOUND', `no domain '${name}'`));
    return Promise.resolve(d.state);
  }

  changeLiveMedia(name: string, media: DiskSource | null): Promise<boolean> {
    this.calls.push(`media:${name}:${media === null ? 'eject' : 'insert'}`);
    const d = this.domains.get(name);
    if (!d) return Promise.reject(new TenksError('NOT_FOUND', `no domain '${name}'`));
    if (d.state === 'off') return Promise.resolve(false);
    d.liveCdrom = media;
    return Promise.resolve(true);
  }

  resetNvram(name: string): Promise<void> {
    this.calls.push(`nvram-reset:${name}`);
    const d = this.domains.get(name);
    if (!d) return Promise.reject(new TenksError('NOT_FOUND', `no domain '${name}'`));
    if (d.state !== 'off') return Promise.reject(new TenksError('CONFLICT', `domain '${name}' is running`));
    return Promise.resolve();
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
