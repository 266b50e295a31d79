/**
 * KvMirror, the coordinator's watched copy of a JetStream KV bucket, against a real nats-server:
 * it loads what the bucket holds, follows what other connections write, reads values with the
 * bucket's schema, writes with compare-and-set, and carries on across a server restart.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { isTenksError, nullLogger, type LogFields, type Logger } from '../../common/index.js';
import { KvMirror } from '../../coordinator/state/kv-mirror.js';
import { startNats, type TestNats } from './helpers-nats.js';

/** The records of the test bucket. */
const item = z.looseObject({ version: z.literal(1), name: z.string(), size: z.number().default(0) });
type Item = z.output<typeof item>;

/** A logger that keeps its warnings. */
function warnings(): { log: Logger; lines: { message: string; fields: LogFields }[] } {
  const lines: { message: string; fields: LogFields }[] = [];
  const log: Logger = {
    ...nullLogger,
    warn: (message, fields = {}) => {
      lines.push({ message, fields });
    },
    child: () => log,
  };
  return { log, lines };
}

/** Waits until `ok()` holds, failing with `what` after `ms`. */
async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`${what} within ${ms} ms`);
    await sleep(20);
  }
}

const encode = (v: unknown): string => JSON.stringify(v);

describe('KV mirror over real NATS', function () {
  this.timeout(60_000);
  let nats: TestNats;
  /** The mirror's connection, reconnecting for good, as the coordinator's does. */
  let nc: NatsConnection;
  /** Another writer's connection. */
  let other: NatsConnection;
  let n = 0;
  const mirrors: KvMirror<Item>[] = [];

  const bucketName = (): string => `test-mirror-${String(n++)}`;

  async function mirrorOf(bucket: string, log: Logger = nullLogger): Promise<KvMirror<Item>> {
    const kv = await new Kvm(nc).create(bucket, { history: 1 });
    const m = new KvMirror<Item>(kv, item, log);
    mirrors.push(m);
    await m.ready();
    return m;
  }

  const writer = (bucket: string): Promise<KV> => new Kvm(other).create(bucket, { history: 1 });

  before(async function () {
    nats = await startNats();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    other = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  afterEach(function () {
    for (const m of mirrors.splice(0)) m.stop();
  });

  after(async function () {
    await other.close();
    await nc.close();
    await nats.stop();
  });

  it('loads what the bucket holds before it is ready, then follows puts and deletes of other writers', async function () {
    const bucket = bucketName();
    const kv = await writer(bucket);
    const revs = [];
    for (const name of ['a', 'b', 'c']) revs.push(await kv.put(name, encode({ version: 1, name, size: 1 })));
    const m = await mirrorOf(bucket);
    assert.deepEqual(
      ['a', 'b', 'c'].map((k) => m.get(k)),
      revs.map((revision, i) => ({ value: { version: 1, name: 'abc'[i], size: 1 }, revision })),
      'ready means every value is in',
    );
    const put = await kv.put('d', encode({ version: 1, name: 'd' }));
    await until('the put is seen', () => m.get('d')?.revision === put);
    assert.deepEqual(m.get('d')?.value, { version: 1, name: 'd', size: 0 }, 'read with the schema: defaults filled');
    await kv.put('a', encode({ version: 1, name: 'a', size: 2 }));
    await until('the update is seen', () => m.get('a')?.value.size === 2);
    await kv.delete('b');
    await kv.purge('c');
    await until('the delete and the purge are seen', () => m.get('b') === undefined && m.get('c') === undefined);
    assert.deepEqual(
      m
        .values()
        .map((v) => v.name)
        .sort(),
      ['a', 'd'],
    );
    assert.deepEqual(
      m.withPrefix('d').map(([k]) => k),
      ['d'],
    );
  });

  it('ignores a value that is not a record, logging its key and each bad field, and keeps the rest', async function () {
    const bucket = bucketName();
    const kv = await writer(bucket);
    await kv.put('good', encode({ version: 1, name: 'good' }));
    await kv.put('bad', encode({ version: 1, size: 'big' }));
    await kv.put('text', 'not json');
    const { log, lines } = warnings();
    const m = await mirrorOf(bucket, log);
    assert.ok(m.get('good'));
    assert.equal(m.get('bad'), undefined);
    assert.equal(m.get('text'), undefined);
    const problems = lines.filter((l) => l.message === 'ignoring an unreadable KV value').map((l) => l.fields.problem);
    assert.deepEqual(problems.sort(), [
      "'bad': name: Invalid input: expected string, received undefined; size: Invalid input: expected number, received string",
      "'text': (root): Invalid input: expected object, received null",
    ]);
    assert.equal(await m.fetch('bad'), null, 'read from the bucket itself too');
  });

  it('writes with compare-and-set: CONFLICT when the key moved on, and the copy reads back its own writes', async function () {
    const bucket = bucketName();
    const m = await mirrorOf(bucket);
    const kv = await writer(bucket);
    const first = await m.compareAndSet('k', { version: 1, name: 'k', size: 1 }, null);
    assert.equal(m.get('k')?.revision, first, 'read back at once, before the watch echoes it');
    await assert.rejects(m.compareAndSet('k', { version: 1, name: 'k', size: 9 }, null), conflict);
    const theirs = await kv.put('k', encode({ version: 1, name: 'k', size: 2 }));
    await assert.rejects(m.compareAndSet('k', { version: 1, name: 'k', size: 9 }, first), conflict);
    assert.deepEqual(await m.fetch('k'), { value: { version: 1, name: 'k', size: 2 }, revision: theirs });
    const mine = await m.compareAndSet('k', { version: 1, name: 'k', size: 3 }, theirs);
    await assert.rejects(m.delete('k', theirs), conflict);
    await m.delete('k', mine);
    assert.equal(m.get('k'), undefined);
    assert.equal((await kv.get('k'))?.operation, 'DEL');
  });

  it('measures how long a key stayed at one revision on its own clock', async function () {
    const m = await mirrorOf(bucketName());
    const rev = await m.put('k', { version: 1, name: 'k', size: 0 });
    await sleep(300);
    const held = m.unchangedForMs('k', rev);
    assert.ok(held >= 250 && held < 5_000, `${String(held)} ms`);
    assert.equal(m.unchangedForMs('k', rev + 1), 0, 'another revision');
    const next = await m.put('k', { version: 1, name: 'k', size: 1 });
    assert.ok(m.unchangedForMs('k', next) < held, 'a new revision starts again');
  });

  it('carries on across a nats-server restart: writes during it land, the watch resumes and catches up', async function () {
    const bucket = bucketName();
    const m = await mirrorOf(bucket);
    const kv = await writer(bucket);
    await m.put('before', { version: 1, name: 'before', size: 0 });
    await nats.halt();
    // A write while the server is away is tried again until it lands.
    const during = m.put('during', { version: 1, name: 'during', size: 0 });
    await sleep(500);
    await nats.restart();
    const rev = await during;
    assert.equal(m.get('during')?.revision, rev);
    // What another writer does after the restart reaches the copy through the resumed watch.
    const after = await putRetrying(kv, 'after', encode({ version: 1, name: 'after' }));
    await until(
      'the resumed watch sees a write made after the restart',
      () => m.get('after')?.revision === after,
      20_000,
    );
    await kv.delete('before');
    await until('and a delete', () => m.get('before') === undefined);
    assert.deepEqual(
      m
        .values()
        .map((v) => v.name)
        .sort(),
      ['after', 'during'],
    );
  });
});

function conflict(e: unknown): boolean {
  return isTenksError(e) && e.code === 'CONFLICT';
}

/** A put by the test's own writer, tried again while JetStream comes back after a restart. */
async function putRetrying(kv: KV, key: string, value: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await kv.put(key, value);
    } catch (e) {
      if (attempt >= 50) throw e;
      await sleep(200);
    }
  }
}
