import assert from 'node:assert/strict';
import { archField, fruData } from '../../agent/bmc/ipmi/fru.js';

const UUID = '11111111-2222-4333-8444-555555555555';

/** Sum of the bytes, mod 256 (a zero-checksummed block sums to 0). */
function sum(b: Buffer): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xff;
  return s;
}

/** The text fields of a Product Info area, in order, up to the end marker. */
function productFields(area: Buffer): string[] {
  const out: string[] = [];
  let i = 3;
  while (area[i] !== 0xc1) {
    const tl = area[i] ?? 0;
    assert.equal(tl >> 6, 3, 'Latin-1 text');
    const len = tl & 0x3f;
    out.push(area.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return out;
}

describe('IPMI FRU inventory', () => {
  it('has a valid common header pointing at the product area, and nothing else', () => {
    const fru = fruData({ name: 'tk0', uuid: UUID, arch: 'aarch64' });
    const header = fru.subarray(0, 8);
    assert.equal(header[0], 0x01, 'format version');
    assert.deepEqual([...header.subarray(1, 4)], [0, 0, 0], 'no internal use, chassis or board area');
    assert.equal(header[4], 1, 'product area at 8 bytes');
    assert.equal(header[5], 0, 'no multi-record area');
    assert.equal(sum(header), 0, 'header checksum');
  });

  it('has a whole, zero-checksummed product area with the architecture as a custom field', () => {
    for (const arch of ['x86_64', 'aarch64'] as const) {
      const fru = fruData({ name: 'tk-12.a_b', uuid: UUID, arch });
      const area = fru.subarray(8);
      assert.equal(area[0], 0x01);
      assert.equal((area[1] ?? 0) * 8, area.length, 'length in 8-byte blocks');
      assert.equal(area.length % 8, 0);
      assert.equal(sum(area), 0, 'area checksum');
      assert.deepEqual(productFields(area), [
        'tenks',
        'virtual bare metal (libvirt/QEMU)',
        'tenks-vm',
        '',
        UUID,
        'tk-12.a_b',
        '',
        `cpu_arch=${arch}`,
      ]);
      assert.equal(archField(arch), `cpu_arch=${arch}`);
    }
  });

  it('cuts a field at 63 bytes, the most a type/length byte holds', () => {
    const name = 'n'.repeat(63);
    const fields = productFields(fruData({ name, uuid: UUID, arch: 'x86_64' }).subarray(8));
    assert.equal(fields[5], name);
  });
});
