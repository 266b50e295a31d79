/** The enrolment stage of an apply, over fake OpenStack clients. */
import assert from 'node:assert/strict';
import { nullLogger, TenksError } from '../../common/index.js';
import { compileClusterSpec, type ClusterSpec } from '../../common/spec/index.js';
import { enrolCluster, type StageProgress } from '../../coordinator/enrolment/index.js';
import type { NovaApi, NovaFlavor, OpenStackClients } from '../../coordinator/openstack/types.js';

/** A cluster that enrols no node but wants a flavor, and (by default) waits for Placement. */
function spec(): ClusterSpec {
  return compileClusterSpec({
    name: 'lab',
    node_types: { t: { memory_mb: 1024, vcpus: 1, volumes: [{ capacity: '1GiB' }] } },
    specs: [{ type: 't', count: 1 }],
    nova_flavors: [{ resource_class: 'baremetal', node_type: 't' }],
  }).spec;
}

/** A Nova that creates whatever it is asked to. */
function fakeNova(): NovaApi {
  const flavors: NovaFlavor[] = [];
  return {
    endpoint: 'http://nova',
    probe: () => Promise.resolve(),
    listFlavors: () => Promise.resolve([...flavors]),
    createFlavor: (f) => {
      const made = { ...f, id: `f${String(flavors.length)}`, extraSpecs: {} };
      flavors.push(made);
      return Promise.resolve(made);
    },
    deleteFlavor: () => Promise.resolve(),
    setExtraSpecs: () => Promise.resolve(),
    deleteExtraSpec: () => Promise.resolve(),
  };
}

const progress: StageProgress = {
  started: () => undefined,
  failed: () => undefined,
  done: () => undefined,
  warn: () => undefined,
};

describe('enrolment stage', function () {
  it('stops waiting for Placement as soon as it is cancelled', async function () {
    const abort = new AbortController();
    let asked = 0;
    const os: OpenStackClients = {
      cloud: 'lab',
      ironic: null,
      nova: fakeNova(),
      glance: null,
      // No provider ever has the inventory; a cancelled request fails, as a real one does.
      placement: {
        hasInventory: (_rc, signal) => {
          asked++;
          return signal?.aborted === true
            ? Promise.reject(new TenksError('CANCELLED', 'request cancelled'))
            : Promise.resolve(false);
        },
      },
    };
    const stage = enrolCluster(spec(), [], new Map(), os, progress, nullLogger, abort.signal);
    while (asked === 0) await new Promise((r) => setImmediate(r));
    const cancelledAt = Date.now();
    abort.abort(new TenksError('CANCELLED', 'cancelled'));
    await assert.rejects(stage, (e: unknown) => e instanceof TenksError && e.code === 'CANCELLED');
    const took = Date.now() - cancelledAt;
    assert.ok(took < 1_000, `the stage went on for ${String(took)} ms after it was cancelled`);
    assert.equal(asked, 1, 'Placement is not asked again after the cancellation');
  });
});
