import assert from 'node:assert/strict';
import {
  aliasOf,
  clustersOf,
  externalIdsOf,
  marksFromAlias,
  marksFromExternalIds,
  type Marks,
} from '../../agent/network/marks.js';

const SWITCH_PORT: Marks = { role: 'switch-port', cluster: 'c1', node: 'n-1.a', nic: '0', physnet: 'physnet1' };
const BRIDGE: Marks = {
  role: 'bridge',
  physnet: 'physnet1',
  device: 'eth1',
  vlan: '0',
  clusters: 'a+b',
  srcdown: '0',
};

/** What `ovs-vsctl set ... external_ids:k=v` would store, as a map. */
function storedIds(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const m = /^external_ids:([^=]+)=(.*)$/.exec(a);
    assert.ok(m, `'${a}' is not an external_ids assignment`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

describe('network marks', () => {
  describe('link aliases', () => {
    it('writes tenks:k=v,k=v', () => {
      assert.equal(aliasOf(SWITCH_PORT), 'tenks:role=switch-port,cluster=c1,node=n-1.a,nic=0,physnet=physnet1');
      assert.equal(aliasOf({}), 'tenks:');
    });

    it('round-trips', () => {
      for (const m of [SWITCH_PORT, BRIDGE, { role: 'uplink', physnet: 'p' }, {}]) {
        assert.deepEqual(marksFromAlias(aliasOf(m)), m);
      }
    });

    it('reads values containing = after the first one', () => {
      assert.deepEqual(marksFromAlias('tenks:a=b=c,d=e'), { a: 'b=c', d: 'e' });
    });

    it('skips pairs without a key', () => {
      assert.deepEqual(marksFromAlias('tenks:role=bridge,,junk,=x,physnet=p'), { role: 'bridge', physnet: 'p' });
    });

    it('returns null for aliases that are not tenks', () => {
      for (const foreign of [
        null,
        undefined,
        '',
        'uplink to rack 4',
        'Tenks:role=bridge',
        ' tenks:role=bridge',
        'tenks',
      ]) {
        assert.equal(marksFromAlias(foreign), null, JSON.stringify(foreign));
      }
    });
  });

  describe('OVS external_ids', () => {
    it('writes external_ids:tenks-k=v, one per mark', () => {
      assert.deepEqual(externalIdsOf({ role: 'bridge', physnet: 'p1' }), [
        'external_ids:tenks-role=bridge',
        'external_ids:tenks-physnet=p1',
      ]);
      assert.deepEqual(externalIdsOf({}), []);
    });

    it('round-trips', () => {
      for (const m of [SWITCH_PORT, BRIDGE, { role: 'uplink', physnet: 'p' }]) {
        assert.deepEqual(marksFromExternalIds(storedIds(externalIdsOf(m))), m);
      }
    });

    it('ignores keys that are not tenks', () => {
      const ids = {
        ...storedIds(externalIdsOf(SWITCH_PORT)),
        'attached-mac': '52:54:00:12:34:56',
        'iface-id': 'f0e1d2c3',
        tenks: 'no-dash',
        'Tenks-role': 'wrong-case',
        'xtenks-role': 'prefix',
      };
      assert.deepEqual(marksFromExternalIds(ids), SWITCH_PORT);
    });

    it('returns null when no key is tenks', () => {
      assert.equal(marksFromExternalIds({}), null);
      assert.equal(marksFromExternalIds({ 'iface-id': 'x', 'attached-mac': '52:54:00:00:00:01' }), null);
    });

    it('keeps an empty tenks value', () => {
      assert.deepEqual(marksFromExternalIds({ 'tenks-clusters': '' }), { clusters: '' });
    });
  });

  describe('clustersOf', () => {
    it('splits the + list', () => {
      assert.deepEqual(clustersOf(BRIDGE), ['a', 'b']);
      assert.deepEqual(clustersOf({ clusters: 'only' }), ['only']);
    });

    it('is empty without clusters, and drops empty entries', () => {
      assert.deepEqual(clustersOf({}), []);
      assert.deepEqual(clustersOf({ clusters: '' }), []);
      assert.deepEqual(clustersOf({ clusters: '+a++b+' }), ['a', 'b']);
    });

    it('reads the clusters back from an alias and from external_ids', () => {
      const fromAlias = marksFromAlias(aliasOf(BRIDGE));
      assert.ok(fromAlias);
      assert.deepEqual(clustersOf(fromAlias), ['a', 'b']);
      const fromIds = marksFromExternalIds(storedIds(externalIdsOf(BRIDGE)));
      assert.ok(fromIds);
      assert.deepEqual(clustersOf(fromIds), ['a', 'b']);
    });
  });
});
