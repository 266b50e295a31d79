/** The cloud check of apply/plan/delete (fake clients), and what a delete names when it cannot use the cloud. */
import assert from 'node:assert/strict';
import { TenksError, type ErrorCode } from '../../common/errors.js';
import { compileClusterSpec, type ClusterSpec } from '../../common/spec/index.js';
import { checkCloudAccess, cloudNeeds, wantsOpenStack } from '../../coordinator/enrolment/cloud-access.js';
import type { IronicApi, NovaApi, OpenStackClients, OpenStackConnector } from '../../coordinator/openstack/types.js';
import {
  cloudLeftovers,
  cloudRefusal,
  leftoverWarnings,
  nothingLeft,
  stuckInIronicWarning,
} from '../../coordinator/operations/cloud-leftovers.js';
import type { ObservedNode } from '../../coordinator/planner/index.js';
import type { PlacementRecord } from '../../coordinator/state/records.js';

const IRONIC_URL = 'http://ironic.test:6385';
const NOVA_URL = 'http://nova.test:8774/v2.1';

function spec(o: { enrolled?: number; plain?: number; flavors?: boolean; cloud?: string } = {}): ClusterSpec {
  return compileClusterSpec({
    name: 'lab',
    ...(o.cloud === undefined ? {} : { cloud: o.cloud }),
    node_types: { t: { memory_mb: 1024, vcpus: 1, volumes: [{ capacity: '10GiB' }] } },
    specs: [
      { type: 't', count: o.enrolled ?? 2, node_name_prefix: 'bm', ironic_config: { resource_class: 'baremetal' } },
      { type: 't', count: o.plain ?? 0, node_name_prefix: 'vm' },
    ],
    ...(o.flavors === true
      ? { nova_flavors: [{ resource_class: 'baremetal', node_type: 't', name: 'bm.small' }] }
      : {}),
  }).spec;
}

const unused = (): Promise<never> => Promise.reject(new Error('not part of the check'));

/** The calls each fake service got. */
type Calls = string[];

function fakeIronic(calls: Calls, probe: () => Promise<void> = () => Promise.resolve()): IronicApi {
  return {
    endpoint: IRONIC_URL,
    microversion: '1.82',
    probe: () => {
      calls.push('ironic.probe');
      return probe();
    },
    supports: () => true,
    listNodes: unused,
    getNode: unused,
    createNode: unused,
    patchNode: unused,
    setTraits: unused,
    setProvisionState: unused,
    waitForProvisionState: unused,
    setMaintenance: unused,
    setPowerState: unused,
    deleteNode: unused,
    listPorts: unused,
    createPort: unused,
    patchPort: unused,
    deletePort: unused,
  };
}

function fakeNova(calls: Calls, probe: () => Promise<void> = () => Promise.resolve()): NovaApi {
  return {
    endpoint: NOVA_URL,
    probe: () => {
      calls.push('nova.probe');
      return probe();
    },
    listFlavors: unused,
    createFlavor: unused,
    deleteFlavor: unused,
    setExtraSpecs: unused,
    deleteExtraSpec: unused,
  };
}

function cloud(o: Partial<OpenStackClients>): OpenStackClients {
  return { cloud: 'lab-cloud', ironic: null, nova: null, placement: null, glance: null, ...o };
}

const connector =
  (os: OpenStackClients | null, seen: (string | null)[] = []): OpenStackConnector =>
  (name) => {
    seen.push(name);
    return Promise.resolve(os);
  };

async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** A promise that settles only when `signal` aborts (as a request honouring it would). */
function hangs(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal?.addEventListener('abort', () => {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    });
  });
}

describe('cloud access check', () => {
  it('knows what a spec needs: Ironic for enrolled nodes, Nova for flavors', () => {
    assert.deepEqual(cloudNeeds(spec()), { ironic: true, nova: false });
    assert.deepEqual(cloudNeeds(spec({ enrolled: 0, plain: 1, flavors: true })), { ironic: false, nova: true });
    assert.equal(wantsOpenStack(spec({ enrolled: 0, plain: 2 })), false);
  });

  it('no cloud configured: INVALID_SPEC naming cloud, with where to configure one', async () => {
    for (const connect of [undefined, connector(null)]) {
      const e = await rejects(checkCloudAccess(connect, spec({ flavors: true }), 1000), 'INVALID_SPEC');
      assert.equal(e.field, 'cloud');
      assert.match(
        e.message,
        /^cluster lab enrols nodes \(ironic_config\) and wants flavors \(nova_flavors\) but no cloud/,
      );
      assert.match(e.hint ?? '', /openstack\.cloud/);
    }
  });

  it("asks for the spec's cloud, probes only the services it needs, and returns the clients", async () => {
    const calls: Calls = [];
    const seen: (string | null)[] = [];
    const os = cloud({ ironic: fakeIronic(calls), nova: fakeNova(calls) });
    assert.equal(await checkCloudAccess(connector(os, seen), spec({ cloud: 'east' }), 1000), os);
    assert.deepEqual(seen, ['east']);
    assert.deepEqual(calls, ['ironic.probe'], 'no flavors: Nova is not asked');
    calls.length = 0;
    await checkCloudAccess(connector(os), spec({ enrolled: 0, flavors: true }), 1000);
    assert.deepEqual(calls, ['nova.probe'], 'no enrolled nodes: Ironic is not asked');
  });

  it('a needed service missing from the cloud: INVALID_SPEC naming cloud and the service', async () => {
    const calls: Calls = [];
    const noIronic = await rejects(
      checkCloudAccess(connector(cloud({ nova: fakeNova(calls) })), spec(), 1000),
      'INVALID_SPEC',
    );
    assert.equal(noIronic.field, 'cloud');
    assert.match(noIronic.message, /cloud lab-cloud has no baremetal \(Ironic\) endpoint/);
    const noNova = await rejects(
      checkCloudAccess(connector(cloud({ ironic: fakeIronic(calls) })), spec({ flavors: true }), 1000),
      'INVALID_SPEC',
    );
    assert.match(noNova.message, /cloud lab-cloud has no compute \(Nova\) endpoint/);
  });

  it("passes the services' own errors on: refused credentials, too old", async () => {
    const calls: Calls = [];
    const denied = new TenksError(
      'PERMISSION',
      `ironic at ${IRONIC_URL}: authentication required (GET /v1/nodes: 401)`,
    );
    const e = await rejects(
      checkCloudAccess(connector(cloud({ ironic: fakeIronic(calls, () => Promise.reject(denied)) })), spec(), 1000),
      'PERMISSION',
    );
    assert.equal(e, denied);
    const old = new TenksError('UNSUPPORTED', `nova at ${NOVA_URL} offers compute API versions up to 2.0`);
    await rejects(
      checkCloudAccess(
        connector(cloud({ ironic: fakeIronic(calls), nova: fakeNova(calls, () => Promise.reject(old)) })),
        spec({ flavors: true }),
        1000,
      ),
      'UNSUPPORTED',
    );
  });

  it('one deadline for everything: UNAVAILABLE naming what did not answer', async () => {
    const calls: Calls = [];
    let probeSignal: AbortSignal | undefined;
    const slowIronic = fakeIronic(calls);
    slowIronic.probe = (signal) => {
      probeSignal = signal;
      return hangs(signal);
    };
    const t0 = Date.now();
    const e = await rejects(checkCloudAccess(connector(cloud({ ironic: slowIronic })), spec(), 50), 'UNAVAILABLE');
    assert.match(e.message, new RegExp(`^no answer from ironic at ${IRONIC_URL} within 0\\.05 s`));
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(probeSignal?.aborted, true, 'the probe was told to stop');

    const neverConnects: OpenStackConnector = () => new Promise(() => undefined);
    const c = await rejects(checkCloudAccess(neverConnects, spec({ cloud: 'east' }), 50), 'UNAVAILABLE');
    assert.match(c.message, /^no answer from cloud east within 0\.05 s/);
  });

  it("the caller's cancel wins: CANCELLED", async () => {
    const ac = new AbortController();
    const calls: Calls = [];
    const slowIronic = fakeIronic(calls);
    slowIronic.probe = hangs;
    const p = checkCloudAccess(connector(cloud({ ironic: slowIronic })), spec(), 10_000, ac.signal);
    ac.abort(new TenksError('CANCELLED', 'cancelled'));
    await rejects(p, 'CANCELLED');
  });
});

function placement(node: string, uuid: string): PlacementRecord {
  return {
    version: 1,
    cluster: 'lab',
    node,
    agent: 'hv1',
    uuid,
    macs: [],
    ipmiPort: 0,
    nodeType: 't',
    memoryMb: 1024,
    vcpus: 1,
    diskBytes: 0,
    createdMs: 0,
  };
}

function observed(name: string, uuid: string): ObservedNode {
  return {
    agent: 'hv1',
    cluster: 'lab',
    name,
    uuid,
    nodeType: 't',
    powerState: 'off',
    memoryMb: 1024,
    vcpus: 1,
    bootMode: 'uefi',
    machine: 'q35',
    consoleLog: false,
    volumes: [],
    nics: [],
    labels: {},
    bmc: { ipmi: null, redfish: null },
  };
}

describe('what a delete leaves in a cloud it cannot use', () => {
  const unreachable = new TenksError('UNAVAILABLE', `ironic at ${IRONIC_URL}: GET /: connect ECONNREFUSED`, {
    hint: 'is ironic running?',
  });

  it('names placed and reported nodes the spec enrols, with their UUIDs, and the declared flavors', () => {
    const s = spec({ enrolled: 2, plain: 1, flavors: true });
    const l = cloudLeftovers(
      s,
      new Map([
        ['bm1', placement('bm1', 'u-1')],
        ['vm0', placement('vm0', 'u-v')],
      ]),
      [observed('bm0', 'u-0'), observed('old3', 'u-3')],
    );
    assert.deepEqual(l.ironicNodes, [
      { name: 'bm0', uuid: 'u-0' },
      { name: 'bm1', uuid: 'u-1' },
      { name: 'old3', uuid: 'u-3' },
    ]);
    assert.deepEqual(l.flavors, ['bm.small']);
    assert.equal(nothingLeft(l), false);
    assert.equal(nothingLeft(cloudLeftovers(s, new Map(), [])), false, 'the flavors may be there');
    assert.equal(nothingLeft(cloudLeftovers(spec(), new Map(), [])), true);
  });

  it('refuses with the cause code, each node and flavor, and --force; warns the same with --force', () => {
    const s = spec({ flavors: true });
    const leftovers = cloudLeftovers(s, new Map([['bm0', placement('bm0', 'u-0')]]), []);
    const e = cloudRefusal([{ leftovers, cause: unreachable }], 'delete');
    assert.equal(e.code, 'UNAVAILABLE');
    assert.equal(e.cause, unreachable);
    assert.match(
      e.message,
      /^cluster lab: its cloud cannot be used \(UNAVAILABLE: ironic at http:\/\/ironic\.test:6385/,
    );
    assert.match(e.message, /may be left in Ironic: node bm0 \(u-0\); in Nova: flavor bm\.small\./);
    assert.match(e.message, /Nothing was deleted.*delete with --force/);
    const t = cloudRefusal([{ leftovers, cause: unreachable }], 'teardown');
    assert.match(t.message, /teardown with --force/);

    const w = leftoverWarnings({ leftovers, cause: unreachable });
    assert.deepEqual(w, [
      `cluster lab: its cloud could not be used (UNAVAILABLE: ${unreachable.message}); left in Ironic, not deleted there: node bm0 (u-0)`,
      `cluster lab: its cloud could not be used (UNAVAILABLE: ${unreachable.message}); left in Nova, not deleted there: flavor bm.small`,
    ]);
  });

  it('names the nodes a reachable Ironic kept when --force deleted their VMs', () => {
    assert.equal(
      stuckInIronicWarning('lab', [{ name: 'bm0', uuid: 'u-0' }]),
      'cluster lab: left in Ironic, not deleted there (see the failed unenrol steps), their VMs deleted anyway (--force): node bm0 (u-0)',
    );
  });

  it('counts beyond a hundred names and says how to find the rest', () => {
    const s = spec({ enrolled: 150 });
    const placements = new Map(
      Array.from({ length: 150 }, (_, i) => [`bm${i}`, placement(`bm${i}`, `u-${i}`)] as const),
    );
    const [line] = leftoverWarnings({ leftovers: cloudLeftovers(s, placements, []), cause: unreachable });
    assert.match(line ?? '', /and 50 more \(Ironic nodes with extra\.tenks_cluster = lab\)$/);
    assert.equal((line ?? '').match(/\(u-\d+\)/g)?.length, 100);
  });
});
