import assert from 'node:assert/strict';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { nullLogger } from '../../common/index.js';
import { followBucket } from '../../coordinator/state/kv-watch.js';
import { FakeWatch } from '../helpers/fake-kv-watch.js';

function entry(key: string, revision: number, delta: number, isUpdate = false): KvWatchEntry {
  return {
    bucket: 'b',
    key,
    value: new TextEncoder().encode(JSON.stringify({ key })),
    created: new Date(),
    revision,
    delta,
    operation: 'PUT',
    length: 0,
    isUpdate,
    rawHeaders: undefined,
    string: () => '',
    json: () => ({}),
  } as unknown as KvWatchEntry;
}

/** A bucket whose successive watches deliver the given entry lists. */
function fakeKv(values: number, watches: KvWatchEntry[][]): { kv: KV; started: () => number } {
  let n = 0;
  const kv = {
    status: () => Promise.resolve({ bucket: 'b', values }),
    watch: () => {
      const list = watches[Math.min(n, watches.length - 1)] ?? [];
      n++;
      return Promise.resolve(new FakeWatch(list));
    },
  } as unknown as KV;
  return { kv, started: () => n };
}

describe('following a KV bucket', function () {
  it('is ready once the initial values arrived (the last one has delta 0)', async function () {
    const seen: string[] = [];
    const { kv } = fakeKv(2, [[entry('a', 1, 1), entry('b', 2, 0)]]);
    const f = followBucket(kv, { apply: (e) => seen.push(e.key), what: 'test watch', log: nullLogger, stallMs: 200 });
    await f.ready;
    assert.deepEqual(seen, ['a', 'b']);
    f.stop();
  });

  it('is ready at once for an empty bucket', async function () {
    const { kv } = fakeKv(0, [[]]);
    const f = followBucket(kv, { apply: () => undefined, what: 'test watch', log: nullLogger, stallMs: 200 });
    await f.ready;
    f.stop();
  });

  it('never declares itself ready without the initial values: a stalled first watch is started again', async function () {
    const seen = new Set<string>();
    // The first watch loses its last initial value (it expired between status and watch), so its
    // end never shows; the second delivers everything.
    const { kv, started } = fakeKv(3, [
      [entry('a', 1, 2), entry('b', 2, 1)],
      [entry('a', 1, 2), entry('b', 2, 1), entry('c', 3, 0)],
    ]);
    const f = followBucket(kv, { apply: (e) => seen.add(e.key), what: 'test watch', log: nullLogger, stallMs: 100 });
    await f.ready;
    assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);
    assert.equal(started(), 2);
    f.stop();
  });

  it('counts a first entry that is already an update as the end of the initial values', async function () {
    const seen: string[] = [];
    const { kv } = fakeKv(1, [[entry('x', 9, 0, true)]]);
    const f = followBucket(kv, { apply: (e) => seen.push(e.key), what: 'test watch', log: nullLogger, stallMs: 200 });
    await f.ready;
    assert.deepEqual(seen, ['x']);
    f.stop();
  });
});
