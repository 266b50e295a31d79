import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { nullLogger, TenksError } from '../../common/index.js';
import { KvMirror } from '../../coordinator/state/kv-mirror.js';
import { FakeWatch } from '../helpers/fake-kv-watch.js';

/** What nats.js throws when no JetStream server took a request (a cluster node still joining). */
function undelivered(): Error {
  const e = new Error('jetstream is not enabled');
  e.name = 'JetStreamNotEnabled';
  return e;
}

function timedOut(): Error {
  const e = new Error('timeout');
  e.name = 'TimeoutError';
  return e;
}

/** A bucket whose `create` fails with each given error in turn, then succeeds at revision 7. */
function failingKv(errors: Error[]): { kv: KV; calls: () => number } {
  let calls = 0;
  const kv = {
    status: () => Promise.resolve({ bucket: 'b', values: 0 }),
    // An empty bucket: the watch delivers nothing and stays open until stopped.
    watch: () => Promise.resolve(new FakeWatch([])),
    create: () => {
      const e = errors[calls++];
      return e === undefined ? Promise.resolve(7) : Promise.reject(e);
    },
  } as unknown as KV;
  return { kv, calls: () => calls };
}

describe('KV mirror compare-and-set', function () {
  it('sends a create again when no JetStream server took it', async function () {
    const { kv, calls } = failingKv([undelivered(), undelivered()]);
    const m = new KvMirror(kv, z.object({ a: z.number() }), nullLogger);
    assert.equal(await m.compareAndSet('k', { a: 1 }, null), 7);
    assert.equal(calls(), 3);
    assert.deepEqual(m.get('k'), { value: { a: 1 }, revision: 7 });
    m.stop();
  });

  it('does not send it again after a timeout (the write may have happened)', async function () {
    const { kv, calls } = failingKv([timedOut()]);
    const m = new KvMirror(kv, z.object({ a: z.number() }), nullLogger);
    await assert.rejects(
      m.compareAndSet('k', { a: 1 }, null),
      (e: unknown) => e instanceof TenksError && e.code === 'UNAVAILABLE' && e.message.includes("writing 'k'"),
    );
    assert.equal(calls(), 1);
    m.stop();
  });
});
