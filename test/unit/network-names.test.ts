import assert from 'node:assert/strict';
import { hash36, IFNAME_MAX, ifName, ifNameProblem, names, nicIndexChar } from '../../agent/network/names.js';

/** Libvirt names these devices itself; a tenks name must never look like one of them. */
const LIBVIRT_RESERVED = ['vnet', 'vif', 'macvtap', 'macvlan'];
/** What every generated name is made of (no dots, colons, slashes or spaces). */
const SAFE = /^[A-Za-z0-9_-]+$/;

type Role = keyof typeof names;
/** Prefixes of the roles every tenks host has (other roles, such as trunks, are checked generically). */
const PLAIN: Partial<Record<Role, string>> = {
  bridge: 'tb',
  switchPort: 'tp',
  vmPort: 'tv',
  uplinkSource: 'ts',
  uplinkTenks: 'tu',
  uplinkVlan: 'tl',
};
const HASHED: Partial<Record<Role, string>> = {
  bridge: 'tc',
  switchPort: 'tq',
  vmPort: 'tw',
  uplinkSource: 'tt',
  uplinkTenks: 'tx',
  uplinkVlan: 'tm',
};
type KeyName = (key: string) => string;
type NicName = (node: string, nic: number) => string;
const ROLES = Object.keys(names) as Role[];
/** Roles named after one key (a physnet or a device). */
const KEY_ROLES = ROLES.filter((r) => names[r].length === 1);
/** Roles named after a node and a NIC index. */
const NIC_ROLES = ROLES.filter((r) => names[r].length === 2);
const keyName = (r: Role): KeyName => names[r] as KeyName;
const nicName = (r: Role): NicName => names[r];

const LONG_NAMES = [
  'a'.repeat(63),
  'physnet-provisioning',
  'cluster1-rack42-node0001',
  'node.with.dots',
  'UPPER_and_lower-123',
  'x1234567890', // 11 characters: one too many for the plain NIC port form
];

/** Every name tenks would give the devices of `key` (as a physnet, and as a node with 36 NICs). */
function allNamesOf(key: string): string[] {
  const out: string[] = KEY_ROLES.map((r) => keyName(r)(key));
  for (const r of NIC_ROLES) for (let i = 0; i < 36; i++) out.push(nicName(r)(key, i));
  return out;
}

function assertUsable(name: string): void {
  assert.ok(name.length >= 1 && name.length <= IFNAME_MAX, `'${name}' is ${name.length} characters`);
  assert.match(name, SAFE);
  assert.equal(ifNameProblem(name), null, `'${name}': ${ifNameProblem(name) ?? ''}`);
  for (const p of LIBVIRT_RESERVED) assert.ok(!name.startsWith(p), `'${name}' starts with libvirt's '${p}'`);
}

describe('network names', () => {
  describe('plain form', () => {
    it('is <prefix>-<name>[-<nic>] for short safe names', () => {
      assert.equal(names.bridge('physnet1'), 'tb-physnet1');
      assert.equal(names.switchPort('tk0', 0), 'tp-tk0-0');
      assert.equal(names.vmPort('tk0', 0), 'tv-tk0-0');
      assert.equal(names.switchPort('tk0', 11), 'tp-tk0-b');
      assert.equal(names.vmPort('tk0', 35), 'tv-tk0-z');
      assert.equal(names.uplinkSource('physnet1'), 'ts-physnet1');
      assert.equal(names.uplinkTenks('physnet1'), 'tu-physnet1');
      assert.equal(names.uplinkVlan('physnet1'), 'tl-physnet1');
    });

    it('is used up to exactly 15 characters', () => {
      assert.equal(names.bridge('abcdefghijkl'), 'tb-abcdefghijkl');
      assert.equal(names.switchPort('abcdefghij', 9), 'tp-abcdefghij-9');
      assert.equal(names.vmPort('abcdefghij', 9), 'tv-abcdefghij-9');
    });

    it('keeps hyphens and underscores of safe names', () => {
      assert.equal(names.bridge('ph_net-1'), 'tb-ph_net-1');
      assert.equal(names.switchPort('n-1_a', 2), 'tp-n-1_a-2');
    });
  });

  describe('hashed form', () => {
    it('is used one character past the limit, with the other prefix', () => {
      const bridge = names.bridge('abcdefghijklm');
      assert.match(bridge, /^tc-abc[0-9a-z]{7}$/);
      const sp = names.switchPort('abcdefghijk', 9);
      assert.match(sp, /^tq-abc[0-9a-z]{7}9$/);
      const vp = names.vmPort('abcdefghijk', 9);
      assert.match(vp, /^tw-abc[0-9a-z]{7}9$/);
    });

    it('uses each role its own hashed prefix, distinct from every plain prefix', () => {
      const key = 'a-rather-long-name-for-a-physnet';
      for (const [r, p] of Object.entries(HASHED) as [Role, string][]) {
        const name = names[r].length === 1 ? keyName(r)(key) : nicName(r)(key, 3);
        assert.ok(name.startsWith(`${p}-`), `${r}: ${name}`);
      }
      for (const [r, p] of Object.entries(PLAIN) as [Role, string][]) {
        const name = names[r].length === 1 ? keyName(r)('p1') : nicName(r)('n1', 3);
        assert.ok(name.startsWith(`${p}-`), `${r}: ${name}`);
      }
      // Every role, including ones not listed above: 2 prefixes each, all different.
      const prefixes = ROLES.flatMap((r) => {
        const [short, long] =
          names[r].length === 1 ? [keyName(r)('p1'), keyName(r)(key)] : [nicName(r)('n1', 0), nicName(r)(key, 0)];
        return [short.split('-')[0], long.split('-')[0]];
      });
      assert.equal(new Set(prefixes).size, prefixes.length, prefixes.join(' '));
      assert.equal(KEY_ROLES.length + NIC_ROLES.length, ROLES.length);
      assert.deepEqual([...NIC_ROLES].sort(), ['switchPort', 'vmPort']);
    });

    it('is used for names with characters outside [A-Za-z0-9_-], even short ones', () => {
      assert.match(names.switchPort('a.b', 0), /^tq-ab[0-9a-z]{7}0$/);
      assert.match(names.bridge('p.1'), /^tc-p1[0-9a-z]{7}$/);
      assert.notEqual(names.switchPort('a.b', 0), names.switchPort('ab', 0));
      assert.notEqual(names.switchPort('a.b', 0), names.switchPort('a_b', 0));
    });

    it('keeps the first three letters or digits of the name, for people reading `ip link`', () => {
      assert.ok(names.switchPort('node.with.dots', 1).startsWith('tq-nod'));
      assert.ok(names.bridge('-.-x.y.z-long-physnet').startsWith('tc-xyz'));
    });

    it('ends with the NIC character, so the NICs of one node differ only there', () => {
      const a = names.switchPort('cluster1-rack42-node0001', 0);
      const b = names.switchPort('cluster1-rack42-node0001', 35);
      assert.equal(a.slice(0, -1), b.slice(0, -1));
      assert.equal(a.at(-1), '0');
      assert.equal(b.at(-1), 'z');
    });
  });

  it('stays within 15 characters, safe, and clear of libvirt prefixes for any name', () => {
    for (const key of [...LONG_NAMES, 'p', 'physnet1', 'tk0', 'a.b', 'vnet0', 'macvtap-node', 'vif']) {
      for (const name of allNamesOf(key)) assertUsable(name);
    }
  });

  it('is deterministic', () => {
    for (const key of LONG_NAMES) assert.deepEqual(allNamesOf(key), allNamesOf(key));
    assert.equal(names.switchPort('node.with.dots', 4), names.switchPort('node.with.dots', 4));
    assert.equal(hash36('some key', 7), hash36('some key', 7));
    assert.equal(ifName('tp', 'tq', ['x'.repeat(40)], '1'), ifName('tp', 'tq', ['x'.repeat(40)], '1'));
  });

  it('never gives two devices of one key the same name', () => {
    for (const key of [...LONG_NAMES, 'physnet1', 'tk0']) {
      const all = allNamesOf(key);
      assert.equal(new Set(all).size, all.length, key);
    }
  });

  it('is distinct for 10,000 node names sharing a long common prefix', () => {
    const prefix = 'production-cluster-rack42-node-';
    const nodes = Array.from({ length: 10_000 }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
    const seen = new Map<string, string>();
    for (const node of nodes) {
      for (const nic of [0, 1, 35]) {
        for (const name of [names.switchPort(node, nic), names.vmPort(node, nic)]) {
          assert.ok(name.length <= IFNAME_MAX, name);
          const other = seen.get(name);
          assert.equal(other, undefined, `${name} is both ${other ?? ''} and ${node} NIC ${nic}`);
          seen.set(name, `${node} NIC ${nic}`);
        }
      }
    }
    assert.equal(seen.size, 10_000 * 3 * 2);
    // Switch-side and VM-side names live in different namespaces of prefixes.
    for (const name of seen.keys()) assert.match(name, /^(tq|tw)-pro[0-9a-z]{7}[01z]$/);
  });

  it('is distinct for 10,000 short node names (plain form) and never mixes switch and VM ports', () => {
    const switchPorts = new Set<string>();
    const vmPorts = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      for (const nic of [0, 1]) {
        switchPorts.add(names.switchPort(`n${i}`, nic));
        vmPorts.add(names.vmPort(`n${i}`, nic));
      }
    }
    assert.equal(switchPorts.size, 20_000);
    assert.equal(vmPorts.size, 20_000);
    for (const name of switchPorts) assert.ok(!vmPorts.has(name), name);
  });

  it('is distinct for physnets that differ only past the 15th character', () => {
    const physnets = Array.from({ length: 1000 }, (_, i) => `provisioning-network-${i}`);
    const bridges = new Set(physnets.map((p) => names.bridge(p)));
    assert.equal(bridges.size, physnets.length);
    for (const b of bridges) assertUsable(b);
  });

  describe('hash36', () => {
    it('is n lower-case base-36 characters', () => {
      for (const n of [1, 7, 20]) assert.match(hash36('key', n), new RegExp(`^[0-9a-z]{${n}}$`));
      assert.notEqual(hash36('key-a', 7), hash36('key-b', 7));
    });
  });

  describe('nicIndexChar', () => {
    it('maps 0-35 to 0-9a-z', () => {
      assert.equal(nicIndexChar(0), '0');
      assert.equal(nicIndexChar(9), '9');
      assert.equal(nicIndexChar(10), 'a');
      assert.equal(nicIndexChar(35), 'z');
      const all = Array.from({ length: 36 }, (_, i) => nicIndexChar(i));
      assert.equal(new Set(all).size, 36);
      for (const c of all) assert.match(c, /^[0-9a-z]$/);
    });

    it('refuses indices outside 0-35', () => {
      for (const bad of [-1, 36, 100, 1.5, Number.NaN, Infinity]) {
        assert.throws(() => nicIndexChar(bad), RangeError, String(bad));
      }
      assert.throws(() => names.switchPort('n1', 36), RangeError);
      assert.throws(() => names.vmPort('n1', -1), RangeError);
    });
  });

  describe('ifNameProblem', () => {
    it('accepts ordinary interface names', () => {
      for (const ok of ['eth0', 'br-ex', 'bond0.100', 'enp0s31f6', 'tb-physnet1', 'a', 'x'.repeat(15)]) {
        assert.equal(ifNameProblem(ok), null, ok);
      }
    });

    it('refuses empty and over-long names', () => {
      assert.match(ifNameProblem('') ?? '', /1-15 characters/);
      assert.match(ifNameProblem('x'.repeat(16)) ?? '', /1-15 characters/);
    });

    it('refuses characters and names Linux refuses', () => {
      for (const bad of ['.', '..', 'a b', 'a/b', 'a:b', 'tab\there', 'nl\n']) {
        assert.match(ifNameProblem(bad) ?? '', /characters Linux refuses/, JSON.stringify(bad));
      }
    });

    it("refuses libvirt's reserved prefixes", () => {
      for (const bad of ['vnet0', 'vif1.0', 'macvtap3', 'macvlan0', 'vnet']) {
        assert.match(ifNameProblem(bad) ?? '', /prefix libvirt reserves/, bad);
      }
    });
  });
});
