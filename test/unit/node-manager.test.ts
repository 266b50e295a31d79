import assert from 'node:assert/strict';
import { TenksError, type ErrorCode } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';
import type { CallOptions } from '../../agent/compute/hypervisor.js';
import { HostPathPolicy } from '../../agent/compute/host-paths.js';
import { FakeHypervisor } from '../../agent/compute/hypervisor-fake.js';
import type { NicWiring } from '../../agent/compute/nic-wiring.js';
import { NodeManager } from '../../agent/compute/node-manager.js';
import { rawNodeSpec, rawVolume, type RawNodeSpec } from '../../agent/compute/node-spec.js';
import type { VolumeCreate } from '../../agent/compute/storage.js';
import { FakeStorage } from '../../agent/compute/storage-fake.js';
import type { HostFacts, NodeSpec, VolumeInfo } from '../../agent/compute/types.js';

const GiB = 1024 ** 3;
const UUID = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
const OTHER_UUID = 'ffffffff-eeee-4ddd-8ccc-bbbbbbbbbbbb';

function hostFacts(fields: Partial<HostFacts> = {}): HostFacts {
  return {
    hostname: 'hv1',
    libvirtUri: 'fake:///',
    libvirtVersion: 10_000_000,
    hypervisorVersion: 8_002_000,
    engine: 'qemu',
    cpus: 8,
    memoryBytes: 32 * GiB,
    freeMemoryBytes: 16 * GiB,
    uefiAvailable: true,
    arches: ['x86_64', 'aarch64'],
    uefiArches: ['x86_64', 'aarch64'],
    secureBootArches: ['x86_64', 'aarch64'],
    kvmArches: [],
    ...fields,
  };
}

/** FakeStorage that records volume creations and can fail deletions. */
class RecordingStorage extends FakeStorage {
  readonly created: string[] = [];
  readonly inspected: string[] = [];
  readonly failDelete = new Set<string>();

  override inspectImage(path: string): ReturnType<FakeStorage['inspectImage']> {
    this.inspected.push(path);
    return super.inspectImage(path);
  }

  override createVolume(v: VolumeCreate): Promise<VolumeInfo> {
    this.created.push(v.name);
    return super.createVolume(v);
  }

  override deleteVolume(name: string): Promise<boolean> {
    if (this.failDelete.has(name)) return Promise.reject(new TenksError('UNAVAILABLE', `cannot delete '${name}'`));
    return super.deleteVolume(name);
  }
}

/** Minimal networking plane: every physnet is a Linux bridge `br-<physnet>`. */
class FakeWiring implements NicWiring {
  /** Node names whose ports are wired (verify's answer). */
  readonly wired = new Set<string>();
  check(): Promise<[]> {
    return Promise.resolve([]);
  }
  verify(spec: NodeSpec): Promise<boolean> {
    return Promise.resolve(this.wired.has(spec.name));
  }
  attach(spec: NodeSpec, _o?: CallOptions): ReturnType<NicWiring['attach']> {
    this.wired.add(spec.name);
    return Promise.resolve(
      spec.nics.map((n, i) => ({
        mac: n.mac ?? '',
        attach: { type: 'bridge' as const, bridge: `br-${n.physnet}`, openvswitch: false },
        alias: `${spec.name}-${i}`,
      })),
    );
  }
  describe(spec: NodeSpec): ReturnType<NicWiring['describe']> {
    return spec.nics.map((n) => ({
      physnet: n.physnet,
      mac: n.mac ?? '',
      bridge: `br-${n.physnet}`,
      bridgeMac: '',
      switchPort: '',
    }));
  }
  detach(spec: NodeSpec): Promise<string[]> {
    this.wired.delete(spec.name);
    return Promise.resolve([]);
  }
}

function setup(facts: Partial<HostFacts> = {}, wiring: NicWiring | null = null) {
  const f = hostFacts(facts);
  const hv = new FakeHypervisor(f);
  const storage = new RecordingStorage();
  const nm = new NodeManager({
    hypervisor: hv,
    storage,
    facts: f,
    logDirectory: '/var/log/tenks',
    log: nullLogger,
    wiring,
    owner: 'agent-1',
    ownsUnmarked: true,
    hostPaths: new HostPathPolicy({ imageDirs: ['/img', '/srv', '/dev'], poolDir: null }),
  });
  return { hv, storage, nm };
}

function spec(fields: Partial<RawNodeSpec> = {}): RawNodeSpec {
  return rawNodeSpec({ cluster: 'c1', name: 'n1', volumes: [rawVolume({ capacity: '10GiB' })], ...fields });
}

function ref(name: string, cluster = '', uuid = ''): { cluster: string; name: string; uuid: string } {
  return { cluster, name, uuid };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, field?: string): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

function defines(hv: FakeHypervisor): string[] {
  return hv.calls.filter((c) => c.startsWith('define:'));
}

describe('NodeManager', () => {
  describe('ensure', () => {
    it('creates the domain and its volumes', async () => {
      const { hv, storage, nm } = setup();
      const r = await nm.ensure(
        spec({ volumes: [rawVolume({ capacity: '10GiB' }), rawVolume({ capacity: '1GiB', format: 'raw' })] }),
      );
      assert.equal(r.changed, true);
      assert.deepEqual(r.changes, ['node created']);
      assert.equal(r.pendingRestart, false);
      assert.deepEqual([...hv.domains.keys()], ['n1']);
      assert.deepEqual([...storage.volumes.keys()].sort(), ['n1-vol0', 'n1-vol1']);
      assert.equal(storage.volumes.get('n1-vol0')!.capacityBytes, 10 * GiB);
      assert.equal(storage.volumes.get('n1-vol1')!.format, 'raw');

      const d = hv.domains.get('n1')!;
      assert.match(d.spec.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(
        d.spec.disks.map((x) => x.source),
        [
          { type: 'volume', pool: 'tenks', volume: 'n1-vol0' },
          { type: 'volume', pool: 'tenks', volume: 'n1-vol1' },
        ],
      );
      assert.equal(d.state, 'off');
      assert.equal(d.spec.machine, 'q35');
      assert.equal(d.spec.cpuMode, null, 'no cpu mode on TCG by default');
      assert.deepEqual(d.spec.bootOrder, ['network', 'disk']);
      assert.ok(d.metadata);
      assert.deepEqual(d.metadata.ownedVolumes, ['n1-vol0', 'n1-vol1']);
      assert.equal(d.metadata.cluster, 'c1');

      assert.equal(r.node.uuid, d.spec.uuid);
      assert.equal(r.node.cluster, 'c1');
      assert.equal(r.node.hypervisor, 'hv1');
      assert.equal(r.node.powerState, 'off');
      assert.deepEqual(
        r.node.volumes.map((v) => v.name),
        ['n1-vol0', 'n1-vol1'],
      );
    });

    it('keeps a given UUID and sets the console log path and bios machine', async () => {
      const { hv, nm } = setup();
      const r = await nm.ensure(spec({ uuid: UUID.toUpperCase(), consoleLogEnabled: true, bootMode: 'bios' }));
      const d = hv.domains.get('n1')!;
      assert.equal(d.spec.uuid, UUID);
      assert.equal(r.node.uuid, UUID);
      assert.equal(d.spec.consoleLogPath, '/var/log/tenks/libvirt/n1-console.log');
      assert.equal(r.node.consoleLogPath, '/var/log/tenks/libvirt/n1-console.log');
      assert.equal(d.spec.machine, 'pc');
      assert.equal(d.spec.bootMode, 'bios');
    });

    it('does nothing when the spec is unchanged', async () => {
      const { hv, storage, nm } = setup();
      const first = await nm.ensure(spec());
      const callsBefore = hv.calls.length;
      const r = await nm.ensure(spec());
      assert.equal(r.changed, false);
      assert.deepEqual(r.changes, []);
      assert.equal(r.pendingRestart, false);
      assert.equal(hv.calls.length, callsBefore, `unexpected calls: ${hv.calls.slice(callsBefore).join(', ')}`);
      assert.deepEqual(storage.created, ['n1-vol0']);
      assert.equal(r.node.uuid, first.node.uuid);
      assert.equal(r.node.specHash, first.node.specHash);
    });

    it('recreates a volume that disappeared', async () => {
      const { storage, nm } = setup();
      await nm.ensure(spec());
      storage.volumes.delete('n1-vol0');
      const r = await nm.ensure(spec());
      assert.equal(r.changed, true);
      assert.ok(r.changes.includes('volume vol0: created'), r.changes.join('; '));
      assert.ok(storage.volumes.has('n1-vol0'));
    });

    it('updates memory in place, keeping the UUID', async () => {
      const { hv, nm } = setup();
      const first = await nm.ensure(spec({ memoryMb: 1024 }));
      const r = await nm.ensure(spec({ memoryMb: 2048 }));
      assert.equal(r.changed, true);
      assert.ok(
        r.changes.some((c) => c.includes('memory_mb') && c.includes('1024') && c.includes('2048')),
        r.changes.join('; '),
      );
      assert.equal(r.node.uuid, first.node.uuid);
      assert.equal(r.node.memoryMb, 2048);
      const d = hv.domains.get('n1')!;
      assert.equal(d.spec.uuid, first.node.uuid);
      assert.equal(d.spec.memoryMb, 2048);
      assert.equal(d.metadata?.spec.memoryMb, 2048);
      assert.equal(r.pendingRestart, false, 'node is off');
      // And it is stable from then on.
      assert.equal((await nm.ensure(spec({ memoryMb: 2048 }))).changed, false);
    });

    it('reports a pending restart when a running node changes', async () => {
      const { nm } = setup();
      await nm.ensure(spec());
      await nm.power(ref('n1'), 'on');
      const r = await nm.ensure(spec({ vcpus: 4 }));
      assert.equal(r.pendingRestart, true);
      assert.equal(r.node.powerState, 'on');
    });

    it('creates an added volume', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec());
      const r = await nm.ensure(
        spec({ volumes: [rawVolume({ capacity: '10GiB' }), rawVolume({ name: 'data', capacity: '2GiB' })] }),
      );
      assert.equal(r.changed, true);
      assert.ok(r.changes.includes('volume data: added (2GiB)'), r.changes.join('; '));
      assert.ok(r.changes.includes('volume data: created'), r.changes.join('; '));
      assert.equal(storage.volumes.get('n1-data')?.capacityBytes, 2 * GiB);
      assert.deepEqual(hv.domains.get('n1')!.metadata?.ownedVolumes, ['n1-vol0', 'n1-data']);
      assert.equal(hv.domains.get('n1')!.spec.disks.length, 2);
    });

    it('grows a volume whose capacity increased and never shrinks one', async () => {
      const { storage, nm } = setup();
      await nm.ensure(spec());
      await nm.ensure(spec({ volumes: [rawVolume({ capacity: '20GiB' })] }));
      assert.equal(storage.volumes.get('n1-vol0')?.capacityBytes, 20 * GiB);
      const r = await nm.ensure(spec({ volumes: [rawVolume({ capacity: '5GiB' })] }));
      assert.equal(storage.volumes.get('n1-vol0')?.capacityBytes, 20 * GiB);
      assert.ok(
        r.changes.some((c) => c.startsWith('volume vol0: kept at 20GiB')),
        r.changes.join('; '),
      );
    });

    it('deletes a removed volume', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ capacity: '1GiB' })] }));
      assert.ok(storage.volumes.has('n1-vol1'));
      const r = await nm.ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' })] }));
      assert.equal(r.changed, true);
      assert.ok(r.changes.includes('volume vol1: removed'), r.changes.join('; '));
      assert.ok(r.changes.includes('volume n1-vol1: deleted'), r.changes.join('; '));
      assert.deepEqual([...storage.volumes.keys()], ['n1-vol0']);
      assert.deepEqual(hv.domains.get('n1')!.metadata?.ownedVolumes, ['n1-vol0']);
      assert.equal(hv.domains.get('n1')!.spec.disks.length, 1);
    });

    it('attaches existing volumes without owning them', async () => {
      const { hv, storage, nm } = setup();
      await storage.createVolume({ name: 'shared', capacityBytes: GiB, format: 'raw', source: { kind: 'blank' } });
      storage.images.set('/srv/disk.img', { format: 'raw', virtualBytes: GiB });
      storage.images.set('/dev/sdb', { format: 'raw', virtualBytes: GiB });
      storage.created.length = 0;
      await nm.ensure(
        spec({
          volumes: [
            rawVolume({ capacity: '1GiB' }),
            rawVolume({ existing: 'shared', format: 'raw' }),
            rawVolume({ existing: '/srv/disk.img', format: 'raw' }),
            rawVolume({ existing: '/dev/sdb', format: 'raw' }),
          ],
        }),
      );
      assert.deepEqual(storage.created, ['n1-vol0']);
      const d = hv.domains.get('n1')!;
      assert.deepEqual(d.metadata?.ownedVolumes, ['n1-vol0']);
      assert.deepEqual(
        d.spec.disks.map((x) => x.source),
        [
          { type: 'volume', pool: 'tenks', volume: 'n1-vol0' },
          { type: 'volume', pool: 'tenks', volume: 'shared' },
          { type: 'file', path: '/srv/disk.img' },
          { type: 'block', path: '/dev/sdb' },
        ],
      );
      const del = await nm.delete(ref('n1'));
      assert.equal(del.existed, true);
      assert.deepEqual([...storage.volumes.keys()], ['shared']);
    });

    it('refuses an existing volume that is not there', async () => {
      const { hv, storage, nm } = setup();
      await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ existing: 'nope' })] })),
        'INVALID_SPEC',
        'node.volumes[0].existing',
      );
      await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ existing: '/srv/nope' })] })),
        'INVALID_SPEC',
        'node.volumes[0].existing',
      );
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0);
    });

    it('keeps generated MACs across updates', async () => {
      const { hv, nm } = setup({}, new FakeWiring());
      const nics = [
        { physnet: 'p1', mac: '' },
        { physnet: 'p2', mac: '52:54:00:12:34:56' },
      ];
      const first = await nm.ensure(spec({ nics }));
      const mac = first.node.nics[0]!.mac;
      assert.match(mac, /^52(:[0-9a-f]{2}){5}$/);
      assert.equal(first.node.nics[1]!.mac, '52:54:00:12:34:56');
      assert.deepEqual(
        hv.domains.get('n1')!.spec.nics.map((n) => [n.mac, n.attach]),
        [
          [mac, { type: 'bridge', bridge: 'br-p1', openvswitch: false }],
          ['52:54:00:12:34:56', { type: 'bridge', bridge: 'br-p2', openvswitch: false }],
        ],
      );
      const second = await nm.ensure(spec({ nics, memoryMb: 2048 }));
      assert.equal(second.node.nics[0]!.mac, mac);
    });
  });

  describe('ensure refusals', () => {
    it('refuses to take over a domain tenks did not create', async () => {
      const { hv, storage, nm } = setup();
      hv.addForeign('n1', OTHER_UUID);
      const e = await rejectsWith(nm.ensure(spec()), 'ALREADY_EXISTS', 'node.name');
      assert.match(e.message, /not created by tenks/);
      assert.deepEqual(defines(hv), []);
      assert.equal(storage.volumes.size, 0);
      assert.equal(hv.domains.get('n1')!.metadata, null);
    });

    it('refuses the same node name in another cluster', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ cluster: 'c1' }));
      const before = hv.calls.length;
      const e = await rejectsWith(nm.ensure(spec({ cluster: 'c2', memoryMb: 4096 })), 'ALREADY_EXISTS', 'node.name');
      assert.match(e.message, /cluster 'c1'/);
      assert.equal(hv.calls.length, before);
      assert.equal(hv.domains.get('n1')!.metadata?.cluster, 'c1');
      assert.equal(hv.domains.get('n1')!.spec.memoryMb, 1024);
      assert.deepEqual([...storage.volumes.keys()], ['n1-vol0']);
    });

    it('refuses to change the UUID of a node', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ uuid: UUID }));
      await rejectsWith(nm.ensure(spec({ uuid: OTHER_UUID })), 'CONFLICT', 'node.uuid');
      assert.equal(hv.domains.get('n1')!.spec.uuid, UUID);
    });

    it('refuses a UUID another domain uses', async () => {
      const { hv, storage, nm } = setup();
      hv.addForeign('other', UUID);
      await rejectsWith(nm.ensure(spec({ uuid: UUID })), 'ALREADY_EXISTS', 'node.uuid');
      await nm.ensure(spec({ name: 'n2', uuid: OTHER_UUID }));
      await rejectsWith(nm.ensure(spec({ name: 'n3', uuid: OTHER_UUID.toUpperCase() })), 'ALREADY_EXISTS', 'node.uuid');
      assert.deepEqual([...hv.domains.keys()].sort(), ['n2', 'other']);
      assert.deepEqual([...storage.volumes.keys()], ['n2-vol0']);
    });

    it('refuses host paths outside the allowed directories (PERMISSION) before looking at anything', async () => {
      const { hv, storage, nm } = setup();
      storage.images.set('/etc/shadow', { format: 'raw', virtualBytes: 4096 });
      const e = await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ image: '/etc/shadow' }), rawVolume({ capacity: '1GiB' })] })),
        'PERMISSION',
        'node.volumes[0].image',
      );
      assert.match(e.message, /allowed_image_dirs: \/img, \/srv, \/dev/);
      await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ existing: '/srv/../etc/passwd', format: 'raw' })] }), { dryRun: true }),
        'PERMISSION',
        'node.volumes[0].existing',
      );
      assert.deepEqual(hv.calls, []);
      assert.deepEqual(storage.inspected, [], 'not even whether the file exists');
      assert.deepEqual(storage.created, []);
    });

    it('refuses an image that does not exist, creating nothing', async () => {
      const { hv, storage, nm } = setup();
      const e = await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ image: '/img/missing.qcow2' }), rawVolume({ capacity: '1GiB' })] })),
        'INVALID_SPEC',
        'node.volumes[0].image',
      );
      assert.deepEqual(
        e.details.map((d) => d.field),
        ['node.volumes[0].image'],
      );
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0);
      assert.deepEqual(hv.calls, []);
      assert.deepEqual(storage.created, []);
    });

    it('refuses a missing backing image and a capacity below the image size', async () => {
      const { hv, nm } = setup();
      await rejectsWith(
        nm.ensure(spec({ volumes: [rawVolume({ backingImage: '/img/none' })] })),
        'INVALID_SPEC',
        'node.volumes[0].backing_image',
      );
      const { storage: s2, nm: nm2 } = setup();
      s2.images.set('/img/big.qcow2', { format: 'qcow2', virtualBytes: 20 * GiB });
      await rejectsWith(
        nm2.ensure(spec({ volumes: [rawVolume({ image: '/img/big.qcow2', capacity: '10GiB' })] })),
        'INVALID_SPEC',
        'node.volumes[0].capacity',
      );
      assert.equal(hv.domains.size, 0);
      assert.equal(s2.volumes.size, 0);
    });

    it('creates volumes from an image that exists', async () => {
      const { storage, nm } = setup();
      storage.images.set('/img/base.qcow2', { format: 'qcow2', virtualBytes: 4 * GiB });
      await nm.ensure(
        spec({
          volumes: [
            rawVolume({ image: '/img/base.qcow2' }),
            rawVolume({ backingImage: '/img/base.qcow2', capacity: '8GiB' }),
          ],
        }),
      );
      assert.equal(storage.volumes.get('n1-vol0')?.capacityBytes, 4 * GiB);
      assert.equal(storage.volumes.get('n1-vol1')?.capacityBytes, 8 * GiB);
    });

    it('rolls back when a volume cannot be created', async () => {
      const { hv, storage, nm } = setup();
      storage.failCreate.add('n1-vol1');
      await rejectsWith(
        nm.ensure(
          spec({
            volumes: [
              rawVolume({ capacity: '1GiB' }),
              rawVolume({ capacity: '1GiB' }),
              rawVolume({ capacity: '1GiB' }),
            ],
          }),
        ),
        'INTERNAL',
      );
      assert.deepEqual(storage.created, ['n1-vol0', 'n1-vol1']);
      assert.equal(storage.volumes.size, 0, `left behind: ${[...storage.volumes.keys()].join(', ')}`);
      assert.equal(hv.domains.size, 0);
      assert.ok(hv.calls.includes('undefine:n1'));
      // Once the failure is gone the node can be created.
      storage.failCreate.clear();
      assert.equal((await nm.ensure(spec())).changed, true);
    });

    it('rolls back when the domain cannot be defined', async () => {
      const { hv, storage, nm } = setup();
      hv.failNextDefine = new TenksError('UNAVAILABLE', 'libvirtd went away');
      await rejectsWith(nm.ensure(spec()), 'UNAVAILABLE');
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0);
    });

    it('refuses uefi on a host without OVMF', async () => {
      const { hv, nm } = setup({ uefiAvailable: false, uefiArches: ['aarch64'] });
      const e = await rejectsWith(nm.ensure(spec()), 'INVALID_SPEC', 'node.boot_mode');
      assert.match(e.message, /OVMF/);
      assert.equal(hv.domains.size, 0);
      await nm.ensure(spec({ bootMode: 'bios' }));
      assert.equal(hv.domains.size, 1);
    });

    it('refuses host-passthrough without KVM', async () => {
      const { hv, nm } = setup({ engine: 'qemu' });
      await rejectsWith(nm.ensure(spec({ cpuMode: 'host-passthrough' })), 'INVALID_SPEC', 'node.cpu_mode');
      assert.equal(hv.domains.size, 0);
      const kvm = setup({ engine: 'kvm', kvmArches: ['x86_64'] });
      await kvm.nm.ensure(spec({ cpuMode: 'host-passthrough' }));
      await kvm.nm.ensure(spec({ name: 'n2' }));
      assert.equal(kvm.hv.domains.get('n1')!.spec.cpuMode, 'host-passthrough');
      assert.equal(kvm.hv.domains.get('n2')!.spec.cpuMode, 'host-passthrough', 'KVM default');
    });

    it('refuses NICs on a host without networking', async () => {
      const { hv, nm } = setup();
      await rejectsWith(nm.ensure(spec({ nics: [{ physnet: 'p1', mac: '' }] })), 'INVALID_SPEC', 'node.nics');
      assert.equal(hv.domains.size, 0);
    });

    it('reports every preflight problem at once', async () => {
      const { nm } = setup({ uefiAvailable: false, uefiArches: ['aarch64'] });
      const e = await rejectsWith(
        nm.ensure(
          spec({
            cpuMode: 'host-passthrough',
            volumes: [rawVolume({ image: '/img/nope' })],
            nics: [{ physnet: 'p', mac: '' }],
          }),
        ),
        'INVALID_SPEC',
      );
      assert.deepEqual(e.details.map((d) => d.field).sort(), [
        'node.boot_mode',
        'node.cpu_mode',
        'node.nics',
        'node.volumes[0].image',
      ]);
    });

    it('rejects an invalid spec before touching the hypervisor', async () => {
      const { hv, nm } = setup();
      await rejectsWith(nm.ensure(spec({ name: 'a/b' })), 'INVALID_SPEC', 'node.name');
      assert.deepEqual(hv.calls, []);
    });

    it('stops when the signal is already aborted', async () => {
      const { hv, nm } = setup();
      await rejectsWith(nm.ensure(spec(), { signal: AbortSignal.abort() }), 'CANCELLED');
      assert.equal(hv.domains.size, 0);
    });
  });

  describe('dry run', () => {
    it('plans a new node without creating anything', async () => {
      const { hv, storage, nm } = setup();
      const r = await nm.ensure(spec({ uuid: UUID }), { dryRun: true });
      assert.equal(r.changed, true);
      assert.deepEqual(r.changes, ['node created']);
      assert.equal(r.node.name, 'n1');
      assert.equal(r.node.uuid, UUID);
      assert.equal(r.node.powerState, 'off');
      assert.deepEqual(hv.calls, []);
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0);
    });

    it('reports changes to an existing node without applying them', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec());
      const calls = hv.calls.length;
      const r = await nm.ensure(
        spec({ memoryMb: 4096, volumes: [rawVolume({ capacity: '10GiB' }), rawVolume({ capacity: '1GiB' })] }),
        {
          dryRun: true,
        },
      );
      assert.equal(r.changed, true);
      assert.ok(r.changes.some((c) => c.startsWith('memory_mb')));
      assert.ok(r.changes.includes('volume vol1: added (1GiB)'));
      assert.equal(hv.calls.length, calls);
      assert.equal(hv.domains.get('n1')!.spec.memoryMb, 1024);
      assert.deepEqual([...storage.volumes.keys()], ['n1-vol0']);
    });

    it('still validates', async () => {
      const { nm } = setup({ uefiAvailable: false, uefiArches: ['aarch64'] });
      await rejectsWith(nm.ensure(spec(), { dryRun: true }), 'INVALID_SPEC', 'node.boot_mode');
    });
  });

  describe('delete', () => {
    it('removes the domain and its owned volumes, then reports it gone', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ capacity: '1GiB' })] }));
      const r = await nm.delete(ref('n1', 'c1'));
      assert.equal(r.existed, true);
      assert.deepEqual(r.removed, ['domain n1', 'volume n1-vol0', 'volume n1-vol1']);
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0);
      assert.deepEqual(await nm.delete(ref('n1', 'c1')), { existed: false, removed: [] });
    });

    it('keeps the domain until its volumes are gone, so an interrupted delete leaves nothing unreachable', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ capacity: '1GiB' })] }));
      // The agent dies (here: the call fails) while the volumes are being deleted.
      storage.failDelete.add('n1-vol1');
      await rejectsWith(nm.delete(ref('n1', 'c1')), 'UNAVAILABLE');
      assert.ok(hv.domains.has('n1'), 'the domain, the record of what to clean, is still there');
      storage.failDelete.clear();
      const again = await nm.delete(ref('n1', 'c1'));
      assert.equal(again.existed, true);
      assert.equal(hv.domains.size, 0);
      assert.equal(storage.volumes.size, 0, `left: ${[...storage.volumes.keys()].join(', ')}`);
    });

    it('powers a running node off first', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec());
      await nm.power(ref('n1'), 'on');
      const r = await nm.delete(ref('n1'));
      assert.deepEqual(r.removed.slice(0, 2), ['powered off', 'domain n1']);
      assert.ok(hv.calls.indexOf('destroy:n1') < hv.calls.indexOf('undefine:n1'));
      assert.equal(hv.domains.size, 0);
    });

    it('deletes by UUID', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ uuid: UUID }));
      assert.equal((await nm.delete(ref('', '', UUID.toUpperCase()))).existed, true);
      assert.equal(hv.domains.size, 0);
    });

    it('refuses to delete a foreign domain or a node of another cluster', async () => {
      const { hv, storage, nm } = setup();
      hv.addForeign('foreign', OTHER_UUID);
      await rejectsWith(nm.delete(ref('foreign')), 'CONFLICT');
      await nm.ensure(spec());
      await rejectsWith(nm.delete(ref('n1', 'c2')), 'CONFLICT', 'node.cluster');
      assert.deepEqual([...hv.domains.keys()].sort(), ['foreign', 'n1']);
      assert.deepEqual([...storage.volumes.keys()], ['n1-vol0']);
    });
  });

  describe('power', () => {
    it('turns a node on, and on again is a no-op', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec());
      assert.deepEqual(await nm.power(ref('n1'), 'on'), { powerState: 'on', changed: true });
      const starts = hv.calls.filter((c) => c === 'start:n1').length;
      assert.deepEqual(await nm.power(ref('n1'), 'on'), { powerState: 'on', changed: false });
      assert.equal(hv.calls.filter((c) => c === 'start:n1').length, starts);
      assert.equal(await nm.powerState(ref('n1')), 'on');
    });

    it('turns a node off, and off again is a no-op', async () => {
      const { nm } = setup();
      await nm.ensure(spec());
      assert.deepEqual(await nm.power(ref('n1'), 'off'), { powerState: 'off', changed: false });
      await nm.power(ref('n1'), 'on');
      assert.deepEqual(await nm.power(ref('n1'), 'off'), { powerState: 'off', changed: true });
      await nm.power(ref('n1'), 'on');
      assert.deepEqual(await nm.power(ref('n1'), 'soft_off'), { powerState: 'off', changed: true });
      assert.deepEqual(await nm.power(ref('n1'), 'soft_off'), { powerState: 'off', changed: false });
    });

    it('refuses reset and NMI on an off node', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec());
      await rejectsWith(nm.power(ref('n1'), 'reset'), 'CONFLICT');
      await rejectsWith(nm.power(ref('n1'), 'nmi'), 'CONFLICT');
      assert.ok(!hv.calls.some((c) => c.startsWith('reset:') || c.startsWith('nmi:')));
      assert.equal(await nm.powerState(ref('n1')), 'off');
    });

    it('resets and sends NMI to a running node', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec());
      await nm.power(ref('n1'), 'on');
      assert.deepEqual(await nm.power(ref('n1'), 'reset'), { powerState: 'on', changed: true });
      assert.deepEqual(await nm.power(ref('n1'), 'nmi'), { powerState: 'on', changed: true });
      assert.deepEqual(hv.calls.slice(-2), ['reset:n1', 'nmi:n1']);
    });

    it('cycles: off then on when running, just on when off', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec());
      assert.deepEqual(await nm.power(ref('n1'), 'cycle'), { powerState: 'on', changed: true });
      assert.deepEqual(hv.calls.slice(-1), ['start:n1']);
      assert.deepEqual(await nm.power(ref('n1'), 'cycle'), { powerState: 'on', changed: true });
      assert.deepEqual(hv.calls.slice(-2), ['destroy:n1', 'start:n1']);
    });

    it('finds nodes by UUID and refuses unknown, foreign and other-cluster nodes', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ uuid: UUID }));
      hv.addForeign('foreign', OTHER_UUID);
      assert.equal((await nm.power(ref('', '', UUID), 'on')).powerState, 'on');
      await rejectsWith(nm.power(ref('nope'), 'on'), 'NOT_FOUND');
      await rejectsWith(nm.power(ref('foreign'), 'on'), 'NOT_FOUND');
      await rejectsWith(nm.power(ref('n1', 'c2'), 'off'), 'NOT_FOUND');
      await rejectsWith(nm.power(ref(''), 'on'), 'INVALID_SPEC');
      assert.equal(hv.domains.get('foreign')!.state, 'off');
    });
  });

  describe('list and get', () => {
    it('lists tenks nodes by cluster, sorted, without foreign domains', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ cluster: 'a', name: 'n2' }));
      await nm.ensure(spec({ cluster: 'a', name: 'n1' }));
      await nm.ensure(spec({ cluster: 'b', name: 'n3' }));
      hv.addForeign('foreign', OTHER_UUID);
      assert.deepEqual(
        (await nm.list('a')).map((n) => n.name),
        ['n1', 'n2'],
      );
      assert.deepEqual(
        (await nm.list('b')).map((n) => n.name),
        ['n3'],
      );
      assert.deepEqual(
        (await nm.list('')).map((n) => n.name),
        ['n1', 'n2', 'n3'],
      );
      assert.deepEqual(await nm.list('c'), []);
      assert.equal(await nm.count(), 3);
      const [first] = await nm.list('a');
      assert.deepEqual(
        first?.volumes.map((v) => v.name),
        ['n1-vol0'],
      );
    });

    it('gets a node by name or UUID, and not from another cluster', async () => {
      const { nm } = setup();
      await nm.ensure(spec({ uuid: UUID, labels: { role: 'x' }, nodeType: 't0' }));
      const byName = await nm.get(ref('n1', 'c1'));
      assert.equal(byName.uuid, UUID);
      assert.deepEqual(byName.labels, { role: 'x' });
      assert.equal(byName.nodeType, 't0');
      assert.equal(byName.engine, 'qemu');
      assert.equal((await nm.get(ref('', '', UUID))).name, 'n1');
      await rejectsWith(nm.get(ref('n1', 'c2')), 'NOT_FOUND');
    });
  });

  describe('agents sharing one libvirt URI', () => {
    function second(hv: FakeHypervisor, storage: RecordingStorage, ownsUnmarked = true): NodeManager {
      return new NodeManager({
        hypervisor: hv,
        storage,
        facts: hostFacts(),
        logDirectory: '/var/log/tenks',
        log: nullLogger,
        owner: 'agent-2',
        ownsUnmarked,
        hostPaths: new HostPathPolicy({ imageDirs: ['/img'], poolDir: null }),
      });
    }

    it("lists, counts, reads and deletes only the agent's own nodes", async () => {
      const { hv, storage, nm } = setup();
      const other = second(hv, storage);
      await nm.ensure(spec({ name: 'mine' }));
      await other.ensure(spec({ name: 'theirs' }));
      assert.deepEqual(
        (await nm.list('')).map((n) => n.name),
        ['mine'],
      );
      assert.deepEqual(
        (await other.list('c1')).map((n) => n.name),
        ['theirs'],
      );
      assert.equal(await nm.count(), 1);
      await assert.rejects(nm.get(ref('theirs')), (e: TenksError) => e.code === 'NOT_FOUND');
      await assert.rejects(nm.power(ref('theirs'), 'on'), (e: TenksError) => e.code === 'NOT_FOUND');
      await assert.rejects(
        nm.delete(ref('theirs', 'c1')),
        (e: TenksError) => e.code === 'CONFLICT' && e.message.includes('agent-2'),
      );
      assert.ok(await hv.getDomain('theirs'), 'the other agent keeps its node');
    });

    it("refuses to take over another agent's node of the same name", async () => {
      const { hv, storage, nm } = setup();
      await second(hv, storage).ensure(spec({ name: 'n1' }));
      await assert.rejects(
        nm.ensure(spec({ name: 'n1' })),
        (e: TenksError) => e.code === 'ALREADY_EXISTS' && e.field === 'node.name' && e.message.includes('agent-2'),
      );
    });

    it('leaves nodes made before owners were recorded to the agent that owns those, which marks them when it changes them', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ name: 'old' }));
      const d = await hv.getDomain('old');
      assert.ok(d?.metadata);
      await hv.setMetadata('old', { ...d.metadata, agent: null });
      const bystander = second(hv, storage, false);
      assert.deepEqual(await bystander.list(''), []);
      await assert.rejects(bystander.delete(ref('old')), (e: TenksError) => e.code === 'CONFLICT');
      const other = second(hv, storage);
      assert.deepEqual(
        (await other.list('')).map((n) => n.name),
        ['old'],
      );
      await other.ensure(spec({ name: 'old', memoryMb: 2048 }));
      assert.equal((await hv.getDomain('old'))?.metadata?.agent, 'agent-2');
      assert.deepEqual(await nm.list(''), []);
    });
  });

  describe('concurrency', () => {
    it('serialises concurrent ensures of one node', async () => {
      const { hv, storage, nm } = setup();
      const results = await Promise.all(Array.from({ length: 5 }, () => nm.ensure(spec())));
      assert.equal(hv.domains.size, 1);
      assert.deepEqual(storage.created, ['n1-vol0']);
      assert.equal(results.filter((r) => r.changed).length, 1);
      assert.equal(new Set(results.map((r) => r.node.uuid)).size, 1);
      // The creating call defines once (before its volumes); the others take the fast path.
      assert.deepEqual(defines(hv), ['define:n1']);
    });

    it('runs ensures of different nodes side by side', async () => {
      const { hv, storage, nm } = setup();
      await Promise.all(['a', 'b', 'c'].map((name) => nm.ensure(spec({ name }))));
      assert.deepEqual([...hv.domains.keys()].sort(), ['a', 'b', 'c']);
      assert.deepEqual([...storage.volumes.keys()].sort(), ['a-vol0', 'b-vol0', 'c-vol0']);
    });
  });

  describe('regressions', () => {
    // The fast path once built the status from owned volumes only, dropping `existing` pool volumes.
    it('reports the same volumes whether or not the spec changed', async () => {
      const { storage, nm } = setup();
      await storage.createVolume({ name: 'shared', capacityBytes: GiB, format: 'raw', source: { kind: 'blank' } });
      const s = spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ existing: 'shared' })] });
      const first = await nm.ensure(s);
      const second = await nm.ensure(s);
      assert.deepEqual(
        first.node.volumes.map((v) => v.name),
        ['n1-vol0', 'shared'],
      );
      assert.deepEqual(
        second.node.volumes.map((v) => v.name),
        ['n1-vol0', 'shared'],
      );
    });

    // A failure deleting a dropped volume after the final define must neither delete volumes the
    // redefined domain uses nor forget the dropped volume (it stays owned, to be deleted later).
    it('leaves a consistent node when deleting a removed volume fails', async () => {
      const { hv, storage, nm } = setup();
      await nm.ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ capacity: '1GiB' })] }));
      storage.failDelete.add('n1-vol1');
      await nm
        .ensure(spec({ volumes: [rawVolume({ capacity: '1GiB' }), rawVolume({ name: 'x', capacity: '1GiB' })] }))
        .catch(() => undefined);
      const d = hv.domains.get('n1')!;
      for (const disk of d.spec.disks) {
        if (disk.source.type === 'volume')
          assert.ok(storage.volumes.has(disk.source.volume), `disk ${disk.source.volume} has no volume`);
      }
      for (const v of storage.volumes.keys())
        assert.ok(d.metadata?.ownedVolumes.includes(v), `volume ${v} is not recorded`);
    });
  });

  describe('aarch64 nodes', () => {
    it('makes a virt machine under TCG with the maximum CPU, booting UEFI', async () => {
      const { hv, nm } = setup();
      const r = await nm.ensure(spec({ arch: 'aarch64', consoleLogEnabled: true }));
      const d = hv.domains.get('n1')!.spec;
      assert.equal(d.arch, 'aarch64');
      assert.equal(d.machine, 'virt');
      assert.equal(d.engine, 'qemu');
      assert.equal(d.cpuMode, 'maximum');
      assert.equal(d.bootMode, 'uefi');
      assert.equal(d.emulator, null, "libvirt's emulator for the arch");
      assert.equal(r.node.arch, 'aarch64');
      assert.equal(r.node.machine, 'virt');
      assert.equal((await nm.get(ref('n1'))).arch, 'aarch64');
      const x86 = await nm.ensure(spec({ name: 'n2' }));
      assert.equal(x86.node.arch, 'x86_64');
      assert.equal(hv.domains.get('n2')!.spec.machine, 'q35');
    });

    it("keeps a given machine and CPU mode, and upstream's empty cpu_mode (none) means no <cpu>", async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ arch: 'aarch64', machine: 'virt-7.2', cpuMode: 'none' }));
      assert.equal(hv.domains.get('n1')!.spec.machine, 'virt-7.2');
      assert.equal(hv.domains.get('n1')!.spec.cpuMode, null);
    });

    it('runs under KVM only where the host offers KVM for aarch64', async () => {
      const { hv, nm } = setup({ engine: 'kvm', kvmArches: ['x86_64'] });
      await nm.ensure(spec({ arch: 'aarch64' }));
      assert.equal(hv.domains.get('n1')!.spec.engine, 'qemu');
      assert.equal(hv.domains.get('n1')!.spec.cpuMode, 'maximum');
      const e = await rejectsWith(nm.ensure(spec({ name: 'n2', arch: 'aarch64', engine: 'kvm' })), 'INVALID_SPEC');
      assert.deepEqual(
        e.details.map((d) => d.field),
        ['node.engine'],
      );
      assert.match(e.message, /aarch64 guests under QEMU without KVM/);
      const arm = setup({ engine: 'qemu', kvmArches: ['aarch64'] });
      await arm.nm.ensure(spec({ arch: 'aarch64' }));
      assert.equal(arm.hv.domains.get('n1')!.spec.engine, 'kvm');
      assert.equal(arm.hv.domains.get('n1')!.spec.cpuMode, 'host-passthrough');
    });

    it('refuses, naming the host, an architecture the host does not run', async () => {
      const { hv, nm } = setup({ arches: ['i686', 'x86_64'], uefiArches: ['x86_64'] });
      const e = await rejectsWith(nm.ensure(spec({ arch: 'aarch64' })), 'INVALID_SPEC', 'node.arch');
      assert.match(e.message, /host 'hv1' does not run aarch64 guests \(it runs i686, x86_64\)/);
      assert.equal(hv.domains.size, 0);
    });

    it('refuses UEFI without AAVMF, and BIOS always', async () => {
      const { hv, nm } = setup({ uefiArches: ['x86_64'] });
      const e = await rejectsWith(nm.ensure(spec({ arch: 'aarch64' })), 'INVALID_SPEC', 'node.boot_mode');
      assert.match(e.message, /AAVMF.*qemu-efi-aarch64/);
      await rejectsWith(nm.ensure(spec({ arch: 'aarch64', bootMode: 'bios' })), 'INVALID_SPEC', 'node.boot_mode');
      assert.equal(hv.domains.size, 0);
    });

    it('refuses an emulator of another architecture', async () => {
      const { nm } = setup({ libvirtUri: 'test:///default' });
      const e = await rejectsWith(
        nm.ensure(spec({ arch: 'aarch64', emulator: '/usr/bin/qemu-system-x86_64' })),
        'INVALID_SPEC',
        'node.emulator',
      );
      assert.match(e.message, /runs x86_64 guests, and the node is aarch64/);
    });

    it('reports an architecture change, and leaves x86_64 nodes made before architectures unchanged', async () => {
      const { nm } = setup();
      const first = await nm.ensure(spec());
      assert.equal((await nm.ensure(spec({ arch: 'x86_64' }))).changed, false);
      const r = await nm.ensure(spec({ arch: 'aarch64' }));
      assert.ok(r.changes.includes('arch: "x86_64" -> "aarch64"'), r.changes.join('; '));
      assert.notEqual(r.node.specHash, first.node.specHash);
    });

    it('refuses BIOS and Secure Boot on other machines through the BMC; Secure Boot on virt is fine', async () => {
      const { hv, nm } = setup();
      await nm.ensure(spec({ arch: 'aarch64' }));
      await rejectsWith(nm.setFirmware(ref('n1'), { bootMode: 'bios' }), 'UNSUPPORTED', 'BootSourceOverrideMode');
      await nm.setFirmware(ref('n1'), { secureBoot: true });
      assert.equal(hv.domains.get('n1')!.spec.secureBoot, true);
      const other = setup({ secureBootArches: ['x86_64'] });
      await other.nm.ensure(spec({ arch: 'aarch64' }));
      await rejectsWith(other.nm.setFirmware(ref('n1'), { secureBoot: true }), 'UNSUPPORTED', 'SecureBootEnable');
      await other.nm.ensure(spec({ name: 'n2', arch: 'aarch64', machine: 'sbsa-ref' }));
      await rejectsWith(other.nm.setFirmware(ref('n2'), { secureBoot: true }), 'UNSUPPORTED', 'SecureBootEnable');
    });
  });
});
