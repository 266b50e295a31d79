import assert from 'node:assert/strict';
import { formatSize, parseSize, type SizeParse } from '../../common/sizes.js';

function bytesOf(input: string | number): number {
  const r = parseSize(input);
  assert.ok(r.ok, `expected '${String(input)}' to parse, got: ${r.ok ? '' : r.reason}`);
  return r.bytes;
}

function reasonOf(input: string | number): string {
  const r: SizeParse = parseSize(input);
  assert.ok(!r.ok, `expected '${String(input)}' to be rejected, got ${r.ok ? r.bytes : ''} bytes`);
  return r.reason;
}

describe('parseSize', () => {
  it('reads plain bytes, with or without B', () => {
    assert.equal(bytesOf('1048576'), 1048576);
    assert.equal(bytesOf('512B'), 512);
    assert.equal(bytesOf('1'), 1);
  });

  it('reads numbers as bytes', () => {
    assert.equal(bytesOf(4096), 4096);
    assert.match(reasonOf(0), /positive/);
    assert.match(reasonOf(-1), /positive/);
    assert.match(reasonOf(1.5), /whole/);
    assert.match(reasonOf(2 ** 53 + 2), /whole/);
  });

  it('reads binary units KiB/MiB/GiB/TiB', () => {
    assert.equal(bytesOf('1KiB'), 1024);
    assert.equal(bytesOf('3MiB'), 3 * 1024 ** 2);
    assert.equal(bytesOf('10GiB'), 10 * 1024 ** 3);
    assert.equal(bytesOf('2TiB'), 2 * 1024 ** 4);
  });

  it('reads short binary units K/M/G/T', () => {
    assert.equal(bytesOf('4K'), 4096);
    assert.equal(bytesOf('512M'), 512 * 1024 ** 2);
    assert.equal(bytesOf('20G'), 20 * 1024 ** 3);
    assert.equal(bytesOf('1T'), 1024 ** 4);
  });

  it('reads decimal units KB/MB/GB/TB as powers of 1000', () => {
    assert.equal(bytesOf('1KB'), 1000);
    assert.equal(bytesOf('5MB'), 5_000_000);
    assert.equal(bytesOf('10GB'), 10_000_000_000);
    assert.equal(bytesOf('1TB'), 1_000_000_000_000);
  });

  it('ignores the case of units', () => {
    assert.equal(bytesOf('10gib'), 10 * 1024 ** 3);
    assert.equal(bytesOf('10GIB'), 10 * 1024 ** 3);
    assert.equal(bytesOf('1kb'), 1000);
    assert.equal(bytesOf('1m'), 1024 ** 2);
  });

  it('allows whitespace around the number and between number and unit', () => {
    assert.equal(bytesOf(' 10GiB '), 10 * 1024 ** 3);
    assert.equal(bytesOf('10 GiB'), 10 * 1024 ** 3);
    assert.equal(bytesOf('\t2 M\n'), 2 * 1024 ** 2);
  });

  it('accepts fractions that come to whole bytes', () => {
    assert.equal(bytesOf('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(bytesOf('0.5KiB'), 512);
    assert.equal(bytesOf('2.5K'), 2560);
    assert.equal(bytesOf('1.5KB'), 1500);
  });

  it('rejects an empty or blank string', () => {
    assert.match(reasonOf(''), /not a size/);
    assert.match(reasonOf('   '), /not a size/);
  });

  it('rejects negative sizes', () => {
    assert.match(reasonOf('-1'), /not a size/);
    assert.match(reasonOf('-10GiB'), /not a size/);
  });

  it('rejects zero', () => {
    assert.match(reasonOf('0'), /positive/);
    assert.match(reasonOf('0GiB'), /positive/);
  });

  it('rejects unknown units and names them', () => {
    const reason = reasonOf('10XB');
    assert.match(reason, /unknown size unit 'XB'/);
    assert.match(reasonOf('10 bits'), /unknown size unit 'bits'/);
    assert.match(reasonOf('10 Gb/s'), /not a size/);
  });

  it('rejects sizes that are not whole bytes', () => {
    assert.match(reasonOf('1.5B'), /whole number of bytes/);
    assert.match(reasonOf('0.3K'), /whole number of bytes/);
  });

  it('rejects sizes beyond 2^53 bytes', () => {
    assert.equal(bytesOf(String(2 ** 53 - 1)), 2 ** 53 - 1);
    assert.match(reasonOf('9007199254740993'), /too large/);
    assert.match(reasonOf('8192TiB'), /too large/);
  });

  // In floating point 1.001 * 1000 = 1000.9999999999999: parseSize must scale exactly.
  it('accepts decimal fractions whose float product is not exact (1.001KB = 1001 bytes)', () => {
    assert.equal(bytesOf('1.001KB'), 1001);
    assert.equal(bytesOf('1.001MB'), 1_001_000);
  });

  it('rejects other syntax', () => {
    for (const s of ['GiB', '1e9', '1,5GiB', '.5GiB', '1.GiB', '10 G iB', '0x10']) reasonOf(s);
  });
});

describe('formatSize', () => {
  it('uses the largest binary unit that divides exactly', () => {
    assert.equal(formatSize(10 * 1024 ** 3), '10GiB');
    assert.equal(formatSize(1536 * 1024 ** 2), '1536MiB');
    assert.equal(formatSize(3 * 1024 ** 4), '3TiB');
    assert.equal(formatSize(2048), '2KiB');
  });

  it('falls back to bytes', () => {
    assert.equal(formatSize(1000), '1000B');
    assert.equal(formatSize(1025), '1025B');
    assert.equal(formatSize(0), '0B');
  });

  it('round-trips through parseSize', () => {
    for (const n of [1, 1000, 4096, 1536 * 1024 ** 2, 7 * 1024 ** 4, 123456789])
      assert.equal(bytesOf(formatSize(n)), n);
  });
});
