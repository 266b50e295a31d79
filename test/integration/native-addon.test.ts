/**
 * The libvirt addon against libvirt's in-process test driver (`test:///default`, no daemon).
 *
 * Every `test:///default` connection in a process shares one driver state, so the tests use
 * unique object names and clean up what they create.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

import { Connection } from '../../agent/native/libvirt.js';
import {
  loadNative,
  type Native,
  type NativeConnection,
  type NativeDomain,
  type NativeLifecycleEvent,
  type NativeLibvirtErrorFields,
} from '../../agent/native/native.js';
import { Changes } from '../helpers/changes.js';

const URI = 'test:///default';
const META_URI = 'https://tenks.dev/xmlns/node/1';
const METADATA_ELEMENT = 2;
const VIR_ERR_NO_DOMAIN = 42;
const VIR_FROM_TEST = 12;
const EVENT = { defined: 0, undefined: 1, started: 2, stopped: 5 } as const;

function domainXml(name: string): string {
  return `<domain type='test'><name>${name}</name><memory>1024</memory><os><type>hvm</type></os></domain>`;
}

function volumeXml(name: string): string {
  return `<volume><name>${name}</name><capacity unit='M'>1</capacity></volume>`;
}

/** An assert.rejects / assert.throws validator for the addon's error fields. */
function libvirtError(expected: Partial<NativeLibvirtErrorFields>, type: ErrorConstructor = Error) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${String(err)}`);
    const fields = err as unknown as NativeLibvirtErrorFields;
    for (const key of ['code', 'domain', 'level', 'op', 'message'] as const) {
      assert.ok(Object.hasOwn(err, key), `error lacks own property ${key}`);
    }
    assert.equal(typeof fields.code, 'number');
    assert.equal(typeof fields.domain, 'number');
    assert.equal(typeof fields.level, 'number');
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(fields[key as keyof NativeLibvirtErrorFields], value, `error.${key}`);
    }
    return true;
  };
}

/** Collects lifecycle events and lets a test await one that matches. */
class EventLog {
  readonly events: NativeLifecycleEvent[] = [];
  private waiters: { match: (e: NativeLifecycleEvent) => boolean; resolve: (e: NativeLifecycleEvent) => void }[] = [];

  readonly push = (event: NativeLifecycleEvent): void => {
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(event)) return true;
      w.resolve(event);
      return false;
    });
  };

  next(name: string, event: number, timeoutMs = 5000): Promise<NativeLifecycleEvent> {
    const match = (e: NativeLifecycleEvent): boolean => e.name === name && e.event === event;
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no event ${event} for ${name}`));
      }, timeoutMs);
      this.waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

describe('native libvirt addon (test:///default)', function () {
  this.timeout(20000);

  let native: Native;
  let conn: NativeConnection;

  before(async () => {
    native = loadNative();
    conn = await native.connectOpen(URI);
  });

  after(async () => {
    await native.connectClose(conn);
  });

  describe('host', () => {
    it('reports versions', async () => {
      const lib = native.getVersion();
      assert.ok(Number.isInteger(lib) && lib >= 9_000_000, `getVersion ${lib}`);
      assert.equal(await native.connectGetLibVersion(conn), lib);
      assert.equal(typeof (await native.connectGetVersion(conn)), 'number');
    });

    it('eventLoopStart is idempotent', () => {
      native.eventLoopStart();
      native.eventLoopStart();
    });

    it('reports the connection', async () => {
      assert.equal(await native.connectGetUri(conn), URI);
      assert.equal(await native.connectIsAlive(conn), true);
      const hostname = await native.connectGetHostname(conn);
      assert.equal(typeof hostname, 'string');
      assert.ok(hostname.length > 0);
      assert.match(await native.connectGetCapabilities(conn), /<capabilities>/);
    });

    it('reports node info and free memory', async () => {
      const info = await native.nodeGetInfo(conn);
      assert.deepEqual(Object.keys(info).sort(), [
        'cores',
        'cpus',
        'memoryKiB',
        'mhz',
        'model',
        'nodes',
        'sockets',
        'threads',
      ]);
      assert.equal(typeof info.model, 'string');
      assert.ok(info.memoryKiB > 0);
      assert.ok(info.cpus > 0);
      const free = await native.nodeGetFreeMemory(conn);
      assert.equal(typeof free, 'number');
      assert.ok(free > 0);
    });

    it('rejects calls the driver does not support with libvirt fields', async () => {
      await assert.rejects(
        native.connectGetDomainCapabilities(conn, null, null, null, null),
        libvirtError({ op: 'connectGetDomainCapabilities', level: 2 }),
      );
    });

    it('runs many calls concurrently on one connection', async () => {
      const results = await Promise.all(Array.from({ length: 32 }, () => native.connectGetUri(conn)));
      assert.deepEqual(new Set(results), new Set([URI]));
    });
  });

  describe('domains', () => {
    const name = `tenks-native-${process.pid}`;
    const log = new EventLog();
    let callbackId: number;
    let dom: NativeDomain;

    before(async () => {
      callbackId = await native.domainEventRegisterLifecycle(conn, log.push);
      assert.equal(typeof callbackId, 'number');
    });

    after(async () => {
      await native.domainEventDeregister(conn, callbackId);
    });

    it('lists the predefined domain', async () => {
      const domains = await native.connectListAllDomains(conn, 0);
      assert.ok(Array.isArray(domains));
      assert.ok(domains.map((d) => native.domainGetName(d)).includes('test'));
    });

    it('defines a domain and looks it up by name and UUID', async () => {
      dom = await native.domainDefineXml(conn, domainXml(name), 0);
      assert.equal(native.domainGetName(dom), name);
      const uuid = native.domainGetUuid(dom);
      assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

      const byName = await native.domainLookupByName(conn, name);
      assert.equal(native.domainGetUuid(byName), uuid);
      const byUuid = await native.domainLookupByUuid(conn, uuid.toUpperCase());
      assert.equal(native.domainGetName(byUuid), name);

      const defined = await log.next(name, EVENT.defined);
      assert.equal(defined.uuid, uuid);
      assert.equal(await native.domainIsActive(dom), false);
      assert.match(await native.domainGetXmlDesc(dom, 0), new RegExp(`<name>${name}</name>`));
      assert.ok((await native.connectListAllDomains(conn, 0)).some((d) => native.domainGetName(d) === name));
    });

    it('sets, reads and removes metadata', async () => {
      assert.equal(await native.domainGetMetadata(dom, METADATA_ELEMENT, META_URI, 0), null);
      await native.domainSetMetadata(dom, METADATA_ELEMENT, '<node id="n1"/>', 'tenks', META_URI, 0);
      const xml = await native.domainGetMetadata(dom, METADATA_ELEMENT, META_URI, 0);
      assert.ok(xml !== null);
      assert.match(xml, /<node id="n1"\/>/);
      await native.domainSetMetadata(dom, METADATA_ELEMENT, null, null, META_URI, 0);
      assert.equal(await native.domainGetMetadata(dom, METADATA_ELEMENT, META_URI, 0), null);
    });

    it('starts, resets and destroys the domain, with lifecycle events', async () => {
      const started = log.next(name, EVENT.started);
      await native.domainCreate(dom);
      const startedEvent = await started;
      assert.equal(startedEvent.uuid, native.domainGetUuid(dom));
      assert.equal(typeof startedEvent.detail, 'number');
      assert.deepEqual(await native.domainGetState(dom), { state: 1, reason: 1 });
      assert.equal(await native.domainIsActive(dom), true);

      await native.domainReset(dom);

      const stopped = log.next(name, EVENT.stopped);
      await native.domainDestroy(dom, 0);
      await stopped;
      assert.equal((await native.domainGetState(dom)).state, 5);
      assert.equal(await native.domainIsActive(dom), false);
    });

    it('undefines the domain', async () => {
      await native.domainUndefine(dom, 0);
      await log.next(name, EVENT.undefined);
      await assert.rejects(native.domainLookupByName(conn, name), libvirtError({ code: VIR_ERR_NO_DOMAIN }));
    });

    it('rejects a lookup of a missing domain with libvirt error fields', async () => {
      await assert.rejects(
        native.domainLookupByName(conn, 'tenks-no-such-domain'),
        libvirtError({ code: VIR_ERR_NO_DOMAIN, domain: VIR_FROM_TEST, level: 2, op: 'domainLookupByName' }),
      );
      await assert.rejects(
        native.domainLookupByUuid(conn, '00000000-0000-0000-0000-00000000abcd'),
        libvirtError({ code: VIR_ERR_NO_DOMAIN, op: 'domainLookupByUuid' }),
      );
    });

    it('throws TypeError (code -1) for bad arguments', () => {
      const bad = native as unknown as Record<string, (...args: unknown[]) => unknown>;
      const typeError = (op: string) => libvirtError({ code: -1, domain: -1, op }, TypeError);
      assert.throws(() => bad.domainGetName!(conn), typeError('domainGetName'));
      assert.throws(() => bad.domainCreate!({}), typeError('domainCreate'));
      assert.throws(() => bad.connectGetUri!(undefined), typeError('connectGetUri'));
      assert.throws(() => bad.domainLookupByName!(conn, 42), typeError('domainLookupByName'));
      assert.throws(() => bad.connectListAllDomains!(conn, -1), typeError('connectListAllDomains'));
      assert.throws(() => bad.connectListAllDomains!(conn, 1.5), typeError('connectListAllDomains'));
      assert.throws(() => bad.domainEventRegisterLifecycle!(conn, 'nope'), typeError('domainEventRegisterLifecycle'));
      // A handle constructed from JS is not a real handle.
      const Fake = (conn as unknown as { constructor: new () => unknown }).constructor;
      assert.throws(() => bad.connectGetUri!(new Fake()), typeError('connectGetUri'));
    });
  });

  describe('storage', () => {
    const suffix = process.pid;

    it('lists and inspects the default pool', async () => {
      const pools = await native.connectListAllStoragePools(conn, 0);
      assert.ok(pools.map((p) => native.storagePoolGetName(p)).includes('default-pool'));
      const pool = await native.storagePoolLookupByName(conn, 'default-pool');
      assert.equal(native.storagePoolGetName(pool), 'default-pool');
      assert.equal(await native.storagePoolIsActive(pool), true);
      const info = await native.storagePoolGetInfo(pool);
      assert.equal(info.state, 2);
      assert.ok(info.capacityBytes > 0);
      assert.equal(typeof info.allocationBytes, 'number');
      assert.equal(typeof info.availableBytes, 'number');
      assert.match(await native.storagePoolGetXmlDesc(pool, 0), /<name>default-pool<\/name>/);
      await native.storagePoolRefresh(pool, 0);
    });

    it('creates, clones, inspects and deletes volumes', async () => {
      const pool = await native.storagePoolLookupByName(conn, 'default-pool');
      const name = `tenks-${suffix}.img`;
      const cloneName = `tenks-${suffix}-clone.img`;
      const vol = await native.storageVolCreateXml(pool, volumeXml(name), 0);
      assert.equal(native.storageVolGetName(vol), name);
      const clone = await native.storageVolCreateXmlFrom(pool, volumeXml(cloneName), vol, 0);
      assert.equal(native.storageVolGetName(clone), cloneName);

      const info = await native.storageVolGetInfo(clone);
      assert.deepEqual(Object.keys(info).sort(), ['allocationBytes', 'capacityBytes', 'type']);
      assert.equal(info.type, 0);
      assert.equal(info.capacityBytes, 1024 * 1024);
      assert.equal(await native.storageVolGetPath(vol), `/default-pool/${name}`);
      assert.match(await native.storageVolGetXmlDesc(vol, 0), new RegExp(`<name>${name}</name>`));

      const names = (await native.storagePoolListAllVolumes(pool, 0)).map((v) => native.storageVolGetName(v));
      assert.ok(names.includes(name) && names.includes(cloneName), names.join(','));
      const looked = await native.storageVolLookupByName(pool, cloneName);
      assert.equal(native.storageVolGetName(looked), cloneName);

      await native.storageVolDelete(clone, 0);
      await native.storageVolDelete(vol, 0);
      const after = (await native.storagePoolListAllVolumes(pool, 0)).map((v) => native.storageVolGetName(v));
      assert.ok(!after.includes(name) && !after.includes(cloneName));
      await assert.rejects(native.storageVolLookupByName(pool, name), libvirtError({ op: 'storageVolLookupByName' }));
    });

    it('defines, starts, stops and undefines a pool', async () => {
      const name = `tenks-pool-${suffix}`;
      const xml = `<pool type='dir'><name>${name}</name><target><path>/${name}</path></target></pool>`;
      const pool = await native.storagePoolDefineXml(conn, xml, 0);
      assert.equal(native.storagePoolGetName(pool), name);
      await native.storagePoolBuild(pool, 0);
      await native.storagePoolSetAutostart(pool, false);
      await native.storagePoolCreate(pool, 0);
      assert.equal(await native.storagePoolIsActive(pool), true);
      await native.storagePoolDestroy(pool);
      assert.equal(await native.storagePoolIsActive(pool), false);
      await native.storagePoolUndefine(pool);
      await assert.rejects(native.storagePoolLookupByName(conn, name), libvirtError({ op: 'storagePoolLookupByName' }));
    });
  });

  describe('connection lifecycle', () => {
    it('rejects calls on a closed connection; closing twice is a no-op', async () => {
      const other = await native.connectOpen(URI);
      const pool = await native.storagePoolLookupByName(other, 'default-pool');
      await native.connectClose(other);
      await native.connectClose(other);
      await assert.rejects(native.connectGetUri(other), libvirtError({ code: -1, domain: -1, op: 'connectGetUri' }));
      await assert.rejects(
        native.connectListAllDomains(other, 0),
        libvirtError({ code: -1, op: 'connectListAllDomains' }),
      );
      // Objects obtained before the close keep their own reference to libvirt's connection.
      assert.equal(await native.storagePoolIsActive(pool), true);
    });

    it('rejects connectOpen of a bad URI', async () => {
      await assert.rejects(native.connectOpen('nosuchdriver:///x'), libvirtError({ op: 'connectOpen', level: 2 }));
    });

    it('lets a process with an open connection and event callback exit on its own', () => {
      const addon = createRequire(import.meta.url).resolve('../../agent/native/build/Release/tenks_libvirt.node');
      const script = `
        const n = require(${JSON.stringify(addon)});
        (async () => {
          const conn = await n.connectOpen('test:///default');
          await n.domainEventRegisterLifecycle(conn, () => {});
          await n.connectListAllDomains(conn, 0);
          console.log('done');
        })();
      `;
      const child = spawnSync(process.execPath, ['-e', script], { timeout: 10000, encoding: 'utf8' });
      assert.equal(child.error, undefined, `child failed: ${String(child.error)}`);
      assert.equal(child.signal, null, 'child had to be killed (hung)');
      assert.equal(child.status, 0, child.stderr);
      assert.equal(child.stdout.trim(), 'done');
    });
  });
});

describe('Connection wrapper events (test driver)', () => {
  it('delivers every lifecycle event to several subscribers of one connection', async () => {
    const conn = await Connection.open(URI);
    const name = `tenks-it-fanout-${process.pid}`;
    const probe = `${name}-probe`;
    const changes = new Changes();
    const ac = new AbortController();
    const seen: string[][] = [[], []];
    const probed = [false, false];
    const subscribe = async (i: number): Promise<void> => {
      for await (const e of conn.lifecycleEvents(ac.signal)) {
        if (e.name === name) seen[i]!.push(String(e.event));
        if (e.name === probe) probed[i] = true;
        changes.changed();
      }
    };
    /**
     * Subscriptions register asynchronously, and nothing tells when: defines a probe domain until
     * every subscriber saw it (its events are not counted).
     */
    const untilSubscribed = async (subscribers: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      for (;;) {
        await (await conn.defineDomain(domainXml(probe))).undefine();
        try {
          await changes.until(subscribers, what, 500);
          return;
        } catch (e) {
          if (Date.now() > deadline) throw e;
        }
      }
    };
    try {
      const loops = [subscribe(0), subscribe(1)];
      await untilSubscribed(() => probed.every(Boolean), 'both subscribers to see the probe domain');
      const d = await conn.defineDomain(domainXml(name));
      await d.create();
      await d.destroy();
      await d.undefine();
      await changes
        .until(() => seen.every((s) => s.length >= 4), 'four events at each subscriber')
        .catch(() => {
          // The assertion below shows what came.
        });
      assert.deepEqual(seen, [
        ['0', '2', '5', '1'],
        ['0', '2', '5', '1'],
      ]);
      ac.abort();
      await Promise.all(loops);
      // Once both left, a new subscriber registers again.
      const again = new AbortController();
      const late: string[] = [];
      let lateProbed = false;
      const loop = (async () => {
        for await (const e of conn.lifecycleEvents(again.signal)) {
          if (e.name === name) late.push(String(e.event));
          if (e.name === probe) lateProbed = true;
          changes.changed();
        }
      })();
      await untilSubscribed(() => lateProbed, 'the new subscriber to see the probe domain');
      await (await conn.defineDomain(domainXml(name))).undefine();
      await changes
        .until(() => late.length >= 2, 'two events at the new subscriber')
        .catch(() => {
          // The assertion below shows what came.
        });
      assert.deepEqual(late, ['0', '1']);
      again.abort();
      await loop;
    } finally {
      ac.abort();
      await conn.close();
    }
  });
});
