/**
 * The Hypervisor port's contract, run alike over the libvirt adapter on libvirt's test driver
 * (`test:///default`) and over the in-memory FakeHypervisor the unit tests use, so the fake cannot
 * drift from what libvirt does.
 *
 * The test driver stands in for QEMU where they agree. Where they do not, the case says so and
 * expects each its own answer; the fake follows QEMU there. Not covered, because the test driver
 * cannot do them: changing the CD of a running domain (no device updates) and re-creating the
 * NVRAM of a stopped UEFI domain (no NVRAM); the system tests cover both on QEMU.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '../../common/errors.js';
import { nullLogger } from '../../common/logger.js';
import { FakeHypervisor } from '../../agent/compute/hypervisor-fake.js';
import { LibvirtHypervisor } from '../../agent/compute/hypervisor-libvirt.js';
import {
  DEFAULT_FIRMWARE,
  type DomainEvent,
  type DomainSpec,
  type Hypervisor,
  type NodeMetadata,
} from '../../agent/compute/hypervisor.js';
import { compileNodeSpec, rawNodeSpec, rawVolume } from '../../agent/compute/node-spec.js';
import type { HostFacts } from '../../agent/compute/types.js';
import type { Connection } from '../../agent/native/index.js';
import { cleanupLibvirt, openLibvirt, rejectsWith, suffix } from './helpers.js';

/** One adapter under test, with what the contract needs beyond the port. */
interface Subject {
  hv: Hypervisor;
  /** Adds a domain tenks did not define (no metadata). */
  addForeign(name: string, uuid: string): Promise<void>;
  /** libvirt's test driver, where it answers otherwise than QEMU (and the fake). */
  testDriver: boolean;
  close(): Promise<void>;
}

/** What the test driver reports (one x86_64 guest, UEFI pretended), for the fake. */
const FAKE_FACTS: HostFacts = {
  hostname: 'fake',
  libvirtUri: 'fake:///',
  libvirtVersion: 9_000_000,
  hypervisorVersion: 0,
  engine: 'qemu',
  cpus: 16,
  memoryBytes: 8 * 1024 ** 3,
  freeMemoryBytes: 4 * 1024 ** 3,
  uefiAvailable: true,
  arches: ['x86_64'],
  uefiArches: ['x86_64'],
  secureBootArches: ['x86_64'],
  kvmArches: [],
};

const SUBJECTS: { name: string; open(part: string): Promise<Subject> }[] = [
  {
    name: 'LibvirtHypervisor on test:///default',
    async open(part) {
      const hv = await LibvirtHypervisor.connect({ uri: 'test:///default', log: nullLogger, kvmProbeCache: null });
      const conn: Connection = await openLibvirt();
      return {
        hv,
        testDriver: true,
        async addForeign(name, uuid) {
          await conn.defineDomain(
            `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory>` +
              '<os><type>hvm</type></os></domain>',
          );
        },
        async close() {
          await cleanupLibvirt(conn, { domainPart: part });
          await conn.close();
          await hv.close();
        },
      };
    },
  },
  {
    name: 'FakeHypervisor',
    open() {
      const hv = new FakeHypervisor(FAKE_FACTS);
      return Promise.resolve({
        hv,
        testDriver: false,
        addForeign(name, uuid) {
          hv.addForeign(name, uuid);
          return Promise.resolve();
        },
        close: () => hv.close(),
      });
    },
  },
];

/** Metadata of node `name`, with `fields` changed. */
function metadata(name: string, uuid: string, fields: Partial<NodeMetadata> = {}): NodeMetadata {
  const spec = compileNodeSpec(
    rawNodeSpec({ cluster: 'contract', name, uuid, volumes: [rawVolume({ capacity: '1GiB' })], labels: { a: 'b' } }),
  );
  return {
    version: 1,
    cluster: 'contract',
    name,
    uuid,
    agent: 'contract-agent',
    specHash: '0123456789abcdef',
    spec,
    ownedVolumes: [`${name}-vol0`],
    bootDevice: 'network',
    bootPersistent: true,
    persistentBootDevice: 'network',
    firmware: { ...DEFAULT_FIRMWARE },
    media: null,
    ...fields,
  };
}

/** A BIOS domain (the test driver has no firmware to select) named `name`. */
function domain(name: string, fields: Partial<DomainSpec> = {}): DomainSpec {
  const uuid = fields.uuid ?? randomUUID();
  return {
    name,
    uuid,
    memoryMb: 128,
    vcpus: 1,
    arch: 'x86_64',
    machine: 'pc',
    cpuMode: null,
    bootMode: 'bios',
    secureBoot: false,
    engine: 'qemu',
    disks: [{ source: { type: 'volume', pool: 'tenks', volume: `${name}-vol0` }, format: 'qcow2' }],
    cdrom: null,
    nics: [],
    bootOrder: ['network', 'disk'],
    consoleLogPath: null,
    vnc: false,
    emulator: null,
    clockOffset: 'utc',
    trustGuestRxFilters: false,
    metadata: metadata(name, uuid),
    ...fields,
  };
}

for (const subject of SUBJECTS) {
  describe(`Hypervisor contract: ${subject.name}`, function () {
    let s: Subject;
    /** Part of every domain name of this run, so cleanup finds them. */
    let part: string;
    let n = 0;
    /** A fresh domain name of this run. */
    const name = (): string => `tkc-${part}-${n++}`;

    before(async function () {
      part = suffix();
      s = await subject.open(part);
    });
    after(async function () {
      await s.close();
    });

    /** Expects the test driver's code where it differs from QEMU's (and the fake's). */
    const qemuOrTest = (qemu: ErrorCode, test: ErrorCode): ErrorCode => (s.testDriver ? test : qemu);

    it('defines a domain, found by name and by UUID and listed, with the metadata it was given', async function () {
      const spec = domain(name());
      const summary = await s.hv.defineDomain(spec);
      assert.deepEqual(summary, { name: spec.name, uuid: spec.uuid, powerState: 'off', metadata: spec.metadata });
      assert.deepEqual(await s.hv.getDomain(spec.name), summary);
      assert.deepEqual(await s.hv.getDomainByUuid(spec.uuid), summary);
      const listed = (await s.hv.listDomains()).find((d) => d.name === spec.name);
      assert.deepEqual(listed, summary);
    });

    it('keeps every metadata field as given: no agent, firmware and media state, markup and non-ASCII', async function () {
      const spec = domain(name());
      spec.metadata = {
        ...metadata(spec.name, spec.uuid),
        agent: null,
        bootDevice: 'cdrom',
        bootPersistent: false,
        persistentBootDevice: 'disk',
        ownedVolumes: [`${spec.name}-vol0`, `${spec.name}-vmedia-cd`],
        firmware: {
          bootMode: 'uefi',
          secureBoot: true,
          bios: { QuietBoot: false, NumCores: 2, Label: `<b>&'"` },
          indicatorLed: 'Blinking',
          verifyMediaCertificate: true,
          nvramReset: true,
        },
        media: {
          image: 'http://x/a.iso?b=1&c=2',
          volume: `${spec.name}-vmedia-cd`,
          inserted: true,
          writeProtected: true,
        },
      };
      spec.metadata.spec = { ...spec.metadata.spec, labels: { note: `<b>&'"]]> café ☕` } };
      await s.hv.defineDomain(spec);
      assert.deepEqual((await s.hv.getDomain(spec.name))?.metadata, spec.metadata);
    });

    it('reports a domain tenks did not define, with no metadata', async function () {
      const foreign = name();
      const uuid = randomUUID();
      await s.addForeign(foreign, uuid);
      assert.deepEqual(await s.hv.getDomain(foreign), { name: foreign, uuid, powerState: 'off', metadata: null });
      assert.equal((await s.hv.listDomains()).find((d) => d.name === foreign)?.metadata, null);
    });

    it('finds no domain that does not exist', async function () {
      assert.equal(await s.hv.getDomain(name()), null);
      assert.equal(await s.hv.getDomainByUuid(randomUUID()), null);
    });

    it('redefines a domain in place: same UUID and power state, the new definition and metadata', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      await s.hv.power(spec.name, 'start');
      const next = {
        ...spec,
        memoryMb: 256,
        metadata: metadata(spec.name, spec.uuid, { specHash: 'fedcba9876543210' }),
      };
      const summary = await s.hv.defineDomain(next);
      assert.deepEqual(summary, { name: spec.name, uuid: spec.uuid, powerState: 'on', metadata: next.metadata });
      assert.deepEqual(await s.hv.getDomain(spec.name), summary);
      await s.hv.power(spec.name, 'destroy');
    });

    it('refuses a domain of a taken name under another UUID, and a taken UUID under another name', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      // libvirt reports both as a failed operation (VIR_ERR_OPERATION_FAILED), which maps to INTERNAL.
      const sameName = await rejectsWith(s.hv.defineDomain(domain(spec.name)), 'INTERNAL');
      assert.match(sameName.message, /already exists with uuid/);
      const sameUuid = await rejectsWith(s.hv.defineDomain(domain(name(), { uuid: spec.uuid })), 'INTERNAL');
      assert.match(sameUuid.message, new RegExp(`'${spec.name}' is already defined with uuid`));
      assert.equal((await s.hv.getDomain(spec.name))?.uuid, spec.uuid);
    });

    it('refuses an architecture the host does not run (UNSUPPORTED, node.arch)', async function () {
      const spec = domain(name(), { arch: 'aarch64', machine: 'virt', bootMode: 'uefi' });
      const e = await rejectsWith(s.hv.defineDomain(spec), 'UNSUPPORTED');
      assert.equal(e.field, 'node.arch');
      assert.equal(await s.hv.getDomain(spec.name), null);
    });

    it('replaces only the metadata, of a stopped and of a running domain', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      const stopped = metadata(spec.name, spec.uuid, { bootDevice: 'disk', ownedVolumes: [] });
      await s.hv.setMetadata(spec.name, stopped);
      assert.deepEqual(await s.hv.getDomain(spec.name), {
        name: spec.name,
        uuid: spec.uuid,
        powerState: 'off',
        metadata: stopped,
      });
      await s.hv.power(spec.name, 'start');
      const running = metadata(spec.name, spec.uuid, { bootDevice: 'cdrom', bootPersistent: false });
      await s.hv.setMetadata(spec.name, running);
      assert.deepEqual((await s.hv.getDomain(spec.name))?.metadata, running);
      await s.hv.power(spec.name, 'destroy');
    });

    it('starts, resets, sends an NMI to, shuts down and destroys a domain', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      await s.hv.power(spec.name, 'start');
      assert.equal(await s.hv.powerState(spec.name), 'on');
      await s.hv.power(spec.name, 'reset');
      await s.hv.power(spec.name, 'nmi');
      assert.equal(await s.hv.powerState(spec.name), 'on');
      // The test driver (and the fake) stop at once; QEMU asks the guest (ACPI) and stops when it does.
      await s.hv.power(spec.name, 'shutdown');
      assert.equal(await s.hv.powerState(spec.name), 'off');
      await s.hv.power(spec.name, 'start');
      await s.hv.power(spec.name, 'destroy');
      assert.equal((await s.hv.getDomain(spec.name))?.powerState, 'off');
    });

    it('refuses power operations the power state does not allow, changing nothing', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      for (const op of ['destroy', 'reset', 'nmi'] as const) await rejectsWith(s.hv.power(spec.name, op), 'CONFLICT');
      // QEMU says OPERATION_INVALID (CONFLICT); the test driver reports these two as internal errors.
      await rejectsWith(s.hv.power(spec.name, 'shutdown'), qemuOrTest('CONFLICT', 'INTERNAL'));
      assert.equal(await s.hv.powerState(spec.name), 'off');
      await s.hv.power(spec.name, 'start');
      await rejectsWith(s.hv.power(spec.name, 'start'), qemuOrTest('CONFLICT', 'INTERNAL'));
      assert.equal(await s.hv.powerState(spec.name), 'on');
      await s.hv.power(spec.name, 'destroy');
    });

    it('answers NOT_FOUND for a domain that does not exist, and undefines it without complaint', async function () {
      const missing = name();
      await rejectsWith(s.hv.power(missing, 'start'), 'NOT_FOUND');
      await rejectsWith(s.hv.powerState(missing), 'NOT_FOUND');
      await rejectsWith(s.hv.setMetadata(missing, metadata(missing, randomUUID())), 'NOT_FOUND');
      await rejectsWith(s.hv.changeLiveMedia(missing, null), 'NOT_FOUND');
      await rejectsWith(s.hv.resetNvram(missing), 'NOT_FOUND');
      await s.hv.undefineDomain(missing);
    });

    it('undefines a stopped domain', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      await s.hv.undefineDomain(spec.name);
      assert.equal(await s.hv.getDomain(spec.name), null);
      assert.equal(await s.hv.getDomainByUuid(spec.uuid), null);
      assert.ok(!(await s.hv.listDomains()).some((d) => d.name === spec.name));
    });

    it('undefines a running domain as libvirt does: it runs on (transient) until it stops, then it is gone', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      await s.hv.power(spec.name, 'start');
      await s.hv.undefineDomain(spec.name);
      assert.deepEqual(await s.hv.getDomain(spec.name), {
        name: spec.name,
        uuid: spec.uuid,
        powerState: 'on',
        metadata: spec.metadata,
      });
      assert.ok((await s.hv.listDomains()).some((d) => d.name === spec.name));
      // It has no persistent definition left to keep metadata in.
      await rejectsWith(s.hv.setMetadata(spec.name, spec.metadata), 'CONFLICT');
      await s.hv.power(spec.name, 'destroy');
      assert.equal(await s.hv.getDomain(spec.name), null);
    });

    it('leaves the CD of a stopped domain to its definition (false)', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      assert.equal(await s.hv.changeLiveMedia(spec.name, { type: 'file', path: '/tmp/contract.iso' }), false);
      assert.equal(await s.hv.changeLiveMedia(spec.name, null), false);
    });

    it('re-creates no NVRAM of a running domain (CONFLICT), and has none to re-create for a BIOS domain', async function () {
      const spec = domain(name());
      await s.hv.defineDomain(spec);
      await s.hv.resetNvram(spec.name);
      await s.hv.power(spec.name, 'start');
      await rejectsWith(s.hv.resetNvram(spec.name), 'CONFLICT');
      await s.hv.power(spec.name, 'destroy');
    });

    it('reports lifecycle events: defined, started, stopped, undefined', async function () {
      const spec = domain(name());
      const warmUp = domain(name());
      const abort = new AbortController();
      const seen: DomainEvent[] = [];
      let changed: () => void = () => undefined;
      const reading = (async () => {
        for await (const e of s.hv.events(abort.signal)) {
          seen.push(e);
          changed();
        }
      })();
      /** Waits until an event of domain `d` of type `type` was seen. */
      const seenEvent = async (d: DomainSpec, type: DomainEvent['type'], timeoutMs = 10_000): Promise<void> => {
        const deadline = Date.now() + timeoutMs;
        while (!seen.some((e) => e.name === d.name && e.type === type)) {
          if (Date.now() > deadline)
            throw new Error(
              `no ${type} event of ${d.name} (seen: ${seen.map((e) => `${e.type}:${e.name}`).join(', ')})`,
            );
          await new Promise<void>((resolve) => {
            changed = resolve;
            setTimeout(resolve, 100);
          });
        }
      };
      try {
        // The libvirt adapter subscribes when the reader starts: a first domain shows when it has.
        for (;;) {
          await s.hv.defineDomain(warmUp);
          const subscribed = await seenEvent(warmUp, 'defined', 1000).then(
            () => true,
            () => false,
          );
          if (subscribed) break;
        }
        await s.hv.defineDomain(spec);
        await s.hv.power(spec.name, 'start');
        await s.hv.power(spec.name, 'destroy');
        await s.hv.undefineDomain(spec.name);
        await seenEvent(spec, 'undefined');
      } finally {
        abort.abort();
        await reading;
      }
      const ofSpec = seen.filter((e) => e.name === spec.name);
      assert.deepEqual(
        ofSpec.map((e) => e.type),
        ['defined', 'started', 'stopped', 'undefined'],
      );
      for (const e of ofSpec) assert.equal(e.uuid, spec.uuid);
    });
  });
}
