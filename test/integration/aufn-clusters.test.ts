/**
 * StackHPC's a-universe-from-nothing applies three upstream Tenks files in turn, kept apart only by
 * their state_file_path: tenks.yml (no state file: upstream's default), tenks-compute.yml
 * (state-compute.yml) and tenks-storage.yml (state-storage.yml). Here the three files, byte for byte
 * as committed in the shared directory's compat/ (bench/shared-dir.ts), are applied in that order with the real tenksctl to a real
 * coordinator, nats-server and agent, and every node of every file must survive the later ones;
 * deleting one cluster leaves the other two.
 *
 * The files are written for one real hypervisor; what a test agent lacks is made up around them:
 * - they map physnet1 to a Linux bridge `braio` and ask for Linux bridges, and bind IPMI ports
 *   6235-6240. This host has no braio, its own lab uses tb-physnet1, and tests bind port 0 only.
 *   So the agent runs in a network namespace of this test's own, with a `braio` bridge inside,
 *   reached over a veth pair (NATS listens on the pair's host address): its bridges, node ports and
 *   BMC ports stay in there. Open vSwitch is host-wide even there (the lab's tb-physnet1 is an OVS
 *   bridge, which the agent rightly refuses to take over), so the agent is shown no OVS;
 * - they enrol every node (the compute file also makes a flavor, names Glance images and waits for
 *   Placement): a fake cloud (test/helpers/fake-openstack.ts) answers as Ironic, Nova, Glance and
 *   Placement, so enrolment runs as it would, `ipmi_address: 192.168.33.4` included;
 * - they ask for 56 GiB of RAM and 200 GiB of disk, where libvirt's test driver has 3 GiB and a
 *   100 GiB pool: the agent's `test_capacity` (test driver only) reports 128 GiB and a 1 TiB pool,
 *   so the files' sizes reach the scheduler as written.
 */
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  makePki,
  run,
  Stack,
  startAgent,
  startCoordinator,
  startNats,
  tenksctl,
  waitForAgents,
  type Coordinator,
  type CtlRun,
  type Daemon,
} from '../../bench/lib-stack.js';
import { startFakeCloud, type FakeCloud } from '../helpers/fake-openstack.js';
import { sharedPath } from '../../bench/shared-dir.js';

/** Where the upstream files are (as test/system/compat-files.test.ts finds them). */
const COMPAT = process.env.TENKS_COMPAT_DIR ?? sharedPath('compat') ?? '(no shared directory)';
const FILES = {
  tenks: `${COMPAT}/stackhpc-aufn-tenks.yml`,
  compute: `${COMPAT}/stackhpc-aufn-tenks-compute.yml`,
  storage: `${COMPAT}/stackhpc-aufn-tenks-storage.yml`,
} as const;
const NODES = {
  tenks: ['compute0', 'controller0'],
  compute: ['bm0', 'bm1'],
  storage: ['storage0', 'storage1', 'storage2'],
} as const;
type ClusterName = keyof typeof NODES;

const ip = (...args: string[]): Promise<string> => run('ip', args);

describe("a-universe-from-nothing's three Tenks files, applied in turn, are three clusters (real coordinator, NATS, CLI; agent in a network namespace; a fake cloud)", function () {
  this.timeout(600_000);
  if (!Object.values(FILES).every((f) => existsSync(f))) {
    it('(no compat files)', function () {
      console.log(`      skipped: the a-universe-from-nothing files are not in ${COMPAT} (set TENKS_COMPAT_DIR)`);
      this.skip();
    });
    return;
  }
  const tag = randomUUID().slice(0, 6);
  const net = `10.${randomInt(200, 250)}.${randomInt(1, 250)}`;
  const h = {
    id: `aufn-${tag}`,
    ns: `tku${tag}`,
    vethRoot: `tkr${tag}`,
    vethNs: `tkn${tag}`,
    rootIp: `${net}.1`,
    nsIp: `${net}.2`,
  };
  let stack: Stack;
  let coord: Coordinator;
  let cloud: FakeCloud;
  let env: Record<string, string> = {};

  /** tenksctl COMMAND -f <the upstream file>. */
  const withFile = (command: string, cluster: ClusterName, more: string[] = []): Promise<CtlRun> =>
    tenksctl([command, '-f', FILES[cluster], ...more], env);
  const nodesOf = async (cluster: string): Promise<string[]> =>
    (await coord.api.getNodes(cluster)).map((n) => n.name).sort();
  const allClusters = async (): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {};
    for (const n of await coord.api.getNodes()) (out[n.cluster] ??= []).push(n.name);
    for (const k of Object.keys(out)) out[k]?.sort();
    return out;
  };
  const ironicNames = (): string[] =>
    [...cloud.nodes.values()]
      .map((n) => n.name ?? '')
      .filter((n) => n !== '')
      .sort();

  before(async function () {
    stack = await Stack.create('tenks-aufn-');
    // Registered first, so it runs last: after every process stopped. Deleting the namespace deletes
    // every link in it (the veth pair's host end with it).
    stack.onCleanup('network namespace', async () => {
      await ip('netns', 'del', h.ns).catch(() => undefined);
      await ip('link', 'del', h.vethRoot).catch(() => undefined);
    });
    await ip('netns', 'add', h.ns);
    await ip('link', 'add', h.vethRoot, 'type', 'veth', 'peer', 'name', h.vethNs);
    await ip('link', 'set', h.vethNs, 'netns', h.ns);
    await ip('addr', 'add', `${h.rootIp}/30`, 'dev', h.vethRoot);
    await ip('link', 'set', h.vethRoot, 'up');
    const inNs = (...args: string[]): Promise<string> => ip('netns', 'exec', h.ns, 'ip', ...args);
    await inNs('link', 'set', 'lo', 'up');
    await inNs('addr', 'add', `${h.nsIp}/30`, 'dev', h.vethNs);
    await inNs('link', 'set', h.vethNs, 'up');
    // The bridge the files map physnet1 to.
    await inNs('link', 'add', 'braio', 'type', 'bridge');
    await inNs('link', 'set', 'braio', 'up');
    const noOvs = join(stack.dir, 'no-ovs');
    await mkdir(noOvs);

    cloud = await startFakeCloud({ images: { 'ipa.kernel': randomUUID(), 'ipa.initramfs': randomUUID() } });
    stack.onCleanup('fake cloud', () => cloud.close());
    const clouds = join(stack.dir, 'clouds.yaml');
    await writeFile(clouds, cloud.cloudsYaml('aufn'));

    const nats = await startNats(stack, { host: h.rootIp });
    const pki = await makePki(stack, { sans: [`IP:${h.nsIp}`] });
    coord = await startCoordinator(stack, nats, pki, {
      extra: { coordinator_id: `c-${tag}`, openstack: { cloud: 'aufn', clouds_file: clouds, timeout_s: 20 } },
    });
    const agent: Daemon = await startAgent(stack, nats, pki, {
      id: h.id,
      libvirtUri: 'test:///default',
      poolName: `tenks-${h.id}`,
      ipmi: { start: 0, end: 0 },
      netns: h.ns,
      // Open vSwitch is host-wide even in a network namespace (its database is a socket on the
      // file system), and this host's lab has its tb-physnet1 there: the agent is pointed at an
      // empty run directory, so it sees no OVS (the files ask for Linux bridges anyway).
      env: { OVS_RUNDIR: noOvs },
      extra: {
        listen: `${h.nsIp}:0`,
        heartbeat_interval_s: 0.5,
        test_capacity: { memory_mb: 128 * 1024, pool_gib: 1024 },
      },
    });
    await waitForAgents(coord, [agent], [h.id]);
    const client = pki.files('client');
    const config = join(stack.dir, 'tenksctl.yaml');
    await writeFile(config, '');
    env = {
      TENKS_CONFIG: config,
      TENKS_COORDINATOR: coord.address,
      TENKS_CA: client.ca_file,
      TENKS_CERT: client.cert_file,
      TENKS_KEY: client.key_file,
      TENKS_NATS: nats.url,
    };
  });

  after(async function () {
    await stack.close();
  });

  it('the files are used exactly as committed', async function () {
    for (const f of Object.values(FILES)) {
      const text = await readFile(f, 'utf8');
      assert.match(text, /^# Source: stackhpc\/a-universe-from-nothing .* verbatim$/m);
      assert.match(text, /physnet1: braio/);
    }
  });

  const applied: ClusterName[] = [];
  for (const cluster of ['tenks', 'compute', 'storage'] as const) {
    it(`tenksctl apply -f ${FILES[cluster].slice(COMPAT.length + 1)}: cluster ${cluster}, earlier clusters untouched`, async function () {
      const plan = await withFile('plan', cluster);
      assert.equal(plan.code, 0, plan.stderr);
      assert.equal(
        plan.stdout.split('\n')[0],
        cluster === 'tenks'
          ? 'cluster tenks (the default name: the spec has no name or state_file_path)'
          : `cluster ${cluster} (from state_file_path 'state-${cluster}.yml')`,
      );
      assert.ok(!plan.stdout.includes('- delete'), plan.stdout);
      assert.ok(!plan.stderr.includes('--prune'), plan.stderr);

      const r = await withFile('apply', cluster);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${coord.daemon.tail(3000)}`);
      assert.match(r.stdout, new RegExp(`^apply ${cluster}: succeeded`, 'm'));
      applied.push(cluster);
      const want = Object.fromEntries(applied.map((c) => [c, [...NODES[c]]]));
      assert.deepEqual(await allClusters(), want);
      assert.deepEqual(ironicNames(), applied.flatMap((c) => NODES[c]).sort());
      // Applying it again changes nothing.
      const again = await withFile('plan', cluster);
      assert.match(again.stdout, new RegExp(`^no changes: cluster ${cluster} matches its spec`, 'm'));
    });
  }

  it('enrolled every node as the files say: BMC address, IPMI port ranges, flavor', function () {
    const byName = new Map([...cloud.nodes.values()].map((n) => [n.name, n]));
    const info = (name: string): Record<string, unknown> =>
      (byName.get(name)?.driver_info as Record<string, unknown> | undefined) ?? {};
    for (const name of Object.values(NODES).flat()) assert.equal(info(name).ipmi_address, '192.168.33.4', name);
    for (const name of NODES.compute) {
      const port = Number(info(name).ipmi_port);
      assert.ok(port >= 6238 && port <= 6240, `${name}: ${port}`);
    }
    for (const name of NODES.storage) {
      const port = Number(info(name).ipmi_port);
      assert.ok(port >= 6235 && port <= 6240, `${name}: ${port}`);
    }
    assert.deepEqual(
      [...cloud.flavors.values()].map((f) => f.name),
      ['test-rc'],
    );
    for (const n of cloud.nodes.values()) assert.equal(n.provision_state, 'available', String(n.name));
  });

  it('tenksctl delete compute removes that cluster only', async function () {
    const r = await tenksctl(['delete', 'compute'], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(await nodesOf('compute'), []);
    assert.deepEqual(await allClusters(), { tenks: [...NODES.tenks], storage: [...NODES.storage] });
    assert.deepEqual(ironicNames(), [...NODES.tenks, ...NODES.storage].sort());
    assert.deepEqual([...cloud.flavors.values()], [], "the compute file's flavor went with it");
    // The other two keep their nodes as their files say. (Their Ironic ports may be due an update:
    // a Linux bridge without an address of its own takes the lowest MAC of its ports, so removing
    // compute's ports can change tb-physnet1's MAC, which is each port's switch_id in Ironic.)
    for (const c of ['tenks', 'storage'] as const) {
      const plan = await withFile('plan', c);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(
        plan.stdout,
        new RegExp(
          `^(no changes: cluster ${c} matches its spec|0 to create, 0 to update, 0 to replace, 0 to delete, ${NODES[c].length} unchanged)`,
          'm',
        ),
        `${plan.stdout}\n${plan.stderr}`,
      );
      assert.ok(!/^[-+~] /m.test(plan.stdout), plan.stdout);
    }
  });
});
