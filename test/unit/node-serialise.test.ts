/**
 * One change of a node at a time, on the in-memory hypervisor: a power action that arrives while
 * the node is being deleted waits for the delete (and then finds nothing), and concurrent BMC
 * ensures of one node bind one listener.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BmcManager, type BmcSettings, type BmcTransport, type IpmiListener } from '../../agent/bmc/index.js';
import type { IpmiBmc } from '../../agent/bmc/ipmi/bmc.js';
import { HostPathPolicy } from '../../agent/compute/host-paths.js';
import { FakeHypervisor } from '../../agent/compute/hypervisor-fake.js';
import type { DomainPowerOp, DomainSpec, DomainSummary } from '../../agent/compute/hypervisor.js';
import { NodeManager, type NodeLock } from '../../agent/compute/node-manager.js';
import { NodeChanges } from '../../agent/node-changes.js';
import { rawNodeSpec } from '../../agent/compute/node-spec.js';
import { FakeStorage } from '../../agent/compute/storage-fake.js';
import type { HostFacts, PowerAction } from '../../agent/compute/types.js';
import { TenksError } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';

const facts: HostFacts = {
  hostname: 'hv1',
  libvirtUri: 'fake:///',
  libvirtVersion: 9_000_000,
  hypervisorVersion: 7_002_000,
  engine: 'qemu',
  cpus: 4,
  memoryBytes: 8 * 1024 ** 3,
  freeMemoryBytes: 4 * 1024 ** 3,
  uefiAvailable: true,
  arches: ['x86_64', 'aarch64'],
  uefiArches: ['x86_64', 'aarch64'],
  secureBootArches: ['x86_64', 'aarch64'],
  kvmArches: [],
};

/** Lets every pending callback run, `n` times over. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/**
 * The in-memory hypervisor, but every call first yields to the event loop, as calls through
 * libvirt's worker threads do, so concurrent operations interleave; and a call can be held.
 */
class SlowHypervisor extends FakeHypervisor {
  private holds = new Map<string, { reached: () => void; released: Promise<void> }>();

  /** Holds the next call named `call` (`destroy:n1`) after it took effect, until released. */
  holdAfter(call: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    this.holds.set(call, { reached, released });
    return { reached: reachedP, release };
  }

  private async after(call: string): Promise<void> {
    const h = this.holds.get(call);
    if (!h) return;
    this.holds.delete(call);
    h.reached();
    await h.released;
  }

  override async getDomain(name: string): Promise<DomainSummary | null> {
    await turns(1);
    return super.getDomain(name);
  }
  override async getDomainByUuid(uuid: string): Promise<DomainSummary | null> {
    await turns(1);
    return super.getDomainByUuid(uuid);
  }
  override async defineDomain(spec: DomainSpec): Promise<DomainSummary> {
    await turns(1);
    return super.defineDomain(spec);
  }
  override async undefineDomain(name: string): Promise<void> {
    await turns(1);
    await super.undefineDomain(name);
  }
  override async power(name: string, op: DomainPowerOp): Promise<void> {
    await turns(1);
    await super.power(name, op);
    await this.after(`${op}:${name}`);
  }
}

describe('one change of a node at a time', function () {
  let hv: SlowHypervisor;
  let nodes: NodeManager;
  const spec = rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' });
  const byName = { cluster: 'c1', name: 'n1', uuid: '' };

  /** What the node's calls were from its undefinition on. */
  const afterUndefine = (): string[] => hv.calls.slice(hv.calls.indexOf('undefine:n1') + 1);
  const codeOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'done',
      (e: unknown) => (e instanceof TenksError ? e.code : String(e)),
    );

  beforeEach(async function () {
    hv = new SlowHypervisor(facts);
    nodes = new NodeManager({
      hypervisor: hv,
      storage: new FakeStorage(),
      owner: 'agent-1',
      ownsUnmarked: true,
      hostPaths: new HostPathPolicy({ imageDirs: ['/img'], poolDir: null }),
      facts,
      logDirectory: '/log',
      log: nullLogger,
    });
    await nodes.ensure(spec);
    await nodes.power(byName, 'on');
  });

  it('a BMC power-on between the destroy and the undefine of a delete waits, then finds no node', async function () {
    const uuid = hv.domains.get('n1')?.spec.uuid ?? '';
    const held = hv.holdAfter('destroy:n1');
    const deleting = nodes.delete(byName);
    await held.reached;
    // As a BMC asks: by UUID.
    const powering = codeOf(nodes.power({ cluster: '', name: '', uuid }, 'on'));
    await turns(20);
    held.release();
    const deleted = await deleting;
    assert.equal(deleted.existed, true);
    assert.equal(await powering, 'NOT_FOUND');
    assert.equal(hv.domains.has('n1'), false, 'the domain is gone');
    assert.ok(hv.calls.includes('undefine:n1'));
    assert.deepEqual(afterUndefine(), [], 'nothing started or defined the node again');
  });

  it('leaves the domain neither running nor defined when power actions storm a delete', async function () {
    const uuid = hv.domains.get('n1')?.spec.uuid ?? '';
    const actions: PowerAction[] = ['off', 'on', 'cycle', 'reset', 'on', 'off', 'soft_off', 'on'];
    const storm = Array.from({ length: 40 }, (_, i) =>
      codeOf(nodes.power({ cluster: '', name: '', uuid }, actions[i % actions.length] ?? 'on')),
    );
    await turns(5);
    const deleting = nodes.delete(byName);
    const more = Array.from({ length: 40 }, (_, i) =>
      codeOf(nodes.power({ cluster: '', name: '', uuid }, actions[i % actions.length] ?? 'on')),
    );
    const deleted = await deleting;
    const codes = await Promise.all([...storm, ...more]);
    assert.equal(deleted.existed, true);
    assert.equal(hv.domains.has('n1'), false, 'the domain is gone');
    assert.deepEqual(afterUndefine(), [], 'nothing started or defined the node again');
    for (const code of codes) assert.ok(['done', 'NOT_FOUND', 'CONFLICT'].includes(code), code);
  });
});

/** A transport that binds nothing and counts the listeners open at once. */
class CountingTransport implements BmcTransport {
  binds = 0;
  open = 0;
  private nextPort = 40_000;
  async listenIpmi(bmc: IpmiBmc): Promise<IpmiListener> {
    this.binds++;
    // A bind takes a few event loop turns (address lookup, a port range scan).
    await turns(3);
    this.open++;
    let closed = false;
    return {
      bmc,
      port: this.nextPort++,
      close: () => {
        if (!closed) this.open--;
        closed = true;
        return Promise.resolve();
      },
    };
  }
  startRedfish(): Promise<void> {
    return Promise.resolve();
  }
}

describe('BMC plane: one listener per node', function () {
  let dir = '';
  let nodes: NodeManager;
  let transport: CountingTransport;
  let bmc: BmcManager;
  const settings: BmcSettings = {
    ipmiEnabled: true,
    redfishEnabled: false,
    username: 'admin',
    password: 'pw',
    ipmiPort: 0,
  };

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-unit-bmc-'));
    const hv = new SlowHypervisor(facts);
    nodes = new NodeManager({
      hypervisor: hv,
      storage: new FakeStorage(),
      owner: 'agent-1',
      ownsUnmarked: true,
      hostPaths: new HostPathPolicy({ imageDirs: ['/img'], poolDir: null }),
      facts,
      logDirectory: '/log',
      log: nullLogger,
    });
    transport = new CountingTransport();
    bmc = await BmcManager.create({
      listenAddress: '127.0.0.1',
      advertiseAddress: '127.0.0.1',
      ipmiPortStart: 0,
      ipmiPortEnd: 0,
      stateDir: dir,
      libvirtUri: 'fake:///',
      defaultUsername: 'admin',
      redfishPort: 0,
      redfishTls: null,
      firmware: { uefiArches: ['x86_64'], secureBootArches: ['x86_64'] },
      nodes,
      log: nullLogger,
      transport,
    });
  });

  afterEach(async function () {
    await bmc.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('binds one IPMI listener for concurrent ensures of one node', async function () {
    const node = (await nodes.ensure(rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' }))).node;
    const results = await Promise.all(Array.from({ length: 8 }, () => bmc.ensure(node, settings)));
    assert.equal(results.filter((r) => r.changed).length, 1, 'one ensure started the BMC, the others found it');
    assert.equal(transport.binds, 1, 'one bind');
    assert.equal(transport.open, 1, 'one listener open');
    assert.equal(bmc.portUsage().ipmiPortsUsed, 1);
    await bmc.remove(node.uuid);
    assert.equal(transport.open, 0, 'no listener left');
  });

  it('binds one listener for concurrent EnsureNode units of one node, and closes it with the node', async function () {
    const changes = new NodeChanges(nodes, bmc);
    const raw = rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' });
    const results = await Promise.all(Array.from({ length: 8 }, () => changes.ensure(raw, settings)));
    assert.equal(results.filter((r) => r.changed).length, 1, results.map((r) => r.changes.join('+')).join('; '));
    assert.deepEqual(results[0]?.changes, ['node created', 'BMC updated']);
    assert.equal(transport.binds, 1);
    assert.equal(transport.open, 1);
    const deleted = await changes.delete({ cluster: 'c1', name: 'n1', uuid: '' });
    assert.equal(deleted.removed[0], 'BMC');
    assert.equal(transport.open, 0);
  });

  it('never leaves a listener without its node when ensures and deletes of one node race', async function () {
    const changes = new NodeChanges(nodes, bmc);
    const raw = rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' });
    const ref = { cluster: 'c1', name: 'n1', uuid: '' };
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i + round) % 3 === 0 ? changes.delete(ref) : changes.ensure(raw, settings),
        ),
      );
      const present = (await nodes.list('c1')).length;
      assert.equal(transport.open, present, `round ${round}: ${transport.open} listeners for ${present} nodes`);
    }
  });

  it('answers a BMC power-on that races a delete with NOT_FOUND, leaving no domain', async function () {
    const changes = new NodeChanges(nodes, bmc);
    const made = await changes.ensure(rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' }), settings);
    const uuid = made.node.uuid;
    const deleting = changes.delete({ cluster: 'c1', name: 'n1', uuid: '' });
    const powering = bmc.power(uuid, 'on').then(
      () => 'done',
      (e: unknown) => (e instanceof TenksError ? e.code : String(e)),
    );
    await deleting;
    assert.ok(['done', 'NOT_FOUND'].includes(await powering));
    assert.deepEqual(await nodes.list(''), []);
    assert.equal(transport.open, 0);
  });

  it("refuses work under a lock that is no longer held, or is another node's", async function () {
    const node = (await nodes.ensure(rawNodeSpec({ cluster: 'c1', name: 'n1', bootMode: 'bios' }))).node;
    let stale: NodeLock | undefined;
    await nodes.serialise('n1', (lock) => {
      stale = lock;
      return Promise.resolve();
    });
    assert.ok(stale);
    const held = stale;
    await assert.rejects(
      bmc.ensureHeld(held, node, settings),
      (e: unknown) => e instanceof TenksError && e.code === 'INTERNAL',
    );
    await nodes.serialise('n2', async (other) => {
      await assert.rejects(
        bmc.ensureHeld(other, node, settings),
        (e: unknown) => e instanceof TenksError && e.code === 'INTERNAL',
      );
    });
    assert.equal(transport.binds, 0);
  });
});
