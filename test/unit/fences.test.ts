import assert from 'node:assert/strict';
import { Fences } from '../../agent/fences.js';
import { compareFence, formatFence, nullLogger, parseFence, TenksError } from '../../common/index.js';

describe('fencing tokens', function () {
  it('orders tokens by epoch, then sequence', function () {
    assert.ok(compareFence(parseFence('100.9'), parseFence('100.10')) < 0);
    assert.ok(compareFence(parseFence('101.1'), parseFence('100.999')) > 0);
    assert.equal(compareFence(parseFence('7.7'), parseFence('7.7')), 0);
    assert.equal(formatFence(parseFence('1796470682837.11')), '1796470682837.11');
  });

  it('refuses malformed tokens, naming the metadata key', function () {
    for (const bad of ['', '1', '1.', '.1', 'a.b', '1.2.3', '-1.2', `1.${'9'.repeat(30)}`])
      assert.throws(
        () => parseFence(bad),
        (e: TenksError) => e.code === 'INVALID_SPEC' && e.field === 'tenks-fence',
        bad,
      );
  });

  it('admits the newest claim per cluster and refuses older ones', function () {
    const f = new Fences(nullLogger);
    f.admit('lab', '10.5');
    f.admit('lab', '10.5');
    f.admit('lab', '10.7');
    assert.throws(
      () => {
        f.admit('lab', '10.6');
      },
      (e: TenksError) => e.code === 'CONFLICT' && e.message.includes('newer operation claim (10.7)'),
    );
    // Other clusters and unfenced calls are not affected.
    f.admit('other', '10.1');
    f.admit('lab', null);
    // A bucket made again (later epoch) outranks every token of the old one.
    f.admit('lab', '11.1');
    assert.throws(() => {
      f.admit('lab', '10.99');
    });
  });
});
