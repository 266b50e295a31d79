/**
 * The coordinator driving two real agents through a real nats-server, checked against the agents
 * and libvirt themselves:
 * - agent A on qemu:///system in the root namespace, its physnet on a Linux bridge the test makes;
 * - agent B on test:///default inside a network namespace the test makes, with its own bridge,
 *   reaching NATS (and reached by the coordinator) over a veth pair into that namespace.
 * Every daemon is a child process (so faults are real kills), talking mTLS.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { AgentWire, CoordinatorWire, TenksError } from '../../common/index.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { startNats, type TestNats } from '../integration/helpers-nats.js';
import {
  AgentProcess,
  cleanupLibvirt,
  clientCredentials,
  domainNames,
  run,
  type LogLine,
  suffix,
  virsh,
  waitUntil,
} from './helpers.js';
import { clusterMarksOnHost } from './cluster-marks.js';

const ip = (...args: string[]): Promise<string> => run('ip', args);

describe('coordinator with two agents (qemu:///system, and test:///default in a netns) over real NATS', function () {
  const tag = suffix().slice(0, 6);
  const cluster = `co-${tag}`;
  const prefix = `co${tag}-`;
  const ns = `tkc${tag}`;
  const vethRoot = `tkr${tag}`;
  const vethNs = `tkn${tag}`;
  const bridgeA = `tka${tag}`;
  const bridgeB = `tkb${tag}`;
  // Unique per run: a physnet's tenks bridge (tb-<physnet>) is host-wide.
  const physnet = `pn${tag}`;
  const upnet = `up${tag}`;
  const net = `10.${randomInt(200, 250)}.${randomInt(1, 250)}`;
  const rootIp = `${net}.1`;
  const nsIp = `${net}.2`;
  const agentA = `a-${tag}`;
  const agentB = `b-${tag}`;
  const pool = `tenks-co-${tag}`;
  let dir: string;
  let nats: TestNats;
  let a: AgentProcess;
  let b: AgentProcess;
  let coord: AgentProcess;
  let api: CoordinatorWire;
  let apiB: AgentWire | undefined;
  let bAddress = '';
  let creds: ChannelCredentials;
  let coordPort = 0;

  const spec = (count: number, memoryMb = 128): string =>
    stringify({
      name: cluster,
      bridge_type: 'linuxbridge',
      hypervisors: {
        [agentA]: { physnet_mappings: { [physnet]: bridgeA } },
        [agentB]: { physnet_mappings: { [physnet]: bridgeB } },
      },
      node_types: {
        small: { memory_mb: memoryMb, vcpus: 1, volumes: [{ capacity: '64MiB' }], physical_networks: [physnet] },
      },
      specs: [{ type: 'small', count, node_name_prefix: prefix, ironic_config: undefined }],
      default_boot_mode: 'bios',
      ipmi_username: 'admin',
      ipmi_password: 'secret-pw',
      scheduler: { strategy: 'spread' },
    });

  const agentConfig = (id: string, listen: string, uri: string, poolPath: string): Record<string, unknown> => ({
    agent_id: id,
    listen,
    tls: {
      ca_file: join(dir, 'pki/ca.pem'),
      cert_file: join(dir, 'pki/agent.pem'),
      key_file: join(dir, 'pki/agent-key.pem'),
    },
    libvirt_uri: uri,
    storage: { pool_name: pool, pool_path: poolPath },
    log_directory: join(dir, `log-${id}`),
    state_dir: join(dir, `state-${id}`),
    bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
    nats: { servers: nats.url },
    heartbeat_interval_s: 0.5,
    // Node creations are counted from the agents' own log lines.
    log_level: 'info',
  });
  const startA = async (): Promise<AgentProcess> => {
    const p = await AgentProcess.spawn(
      join(dir, 'a.yaml'),
      agentConfig(agentA, '127.0.0.1:0', 'qemu:///system', join(dir, 'pool-a')),
    );
    return p;
  };
  /** Starts agent B on port 0 of its namespace's address, and points `apiB` at the port it bound. */
  const startB = async (): Promise<AgentProcess> => {
    const p = await AgentProcess.spawn(
      join(dir, 'b.yaml'),
      // log_level info: its "grpc listening" line says which port it bound.
      { ...agentConfig(agentB, `${nsIp}:0`, 'test:///default', join(dir, 'pool-b')), log_level: 'info' },
      { netns: ns },
    );
    const listening = await p.waitForLine((l) => l.message === 'grpc listening', 60_000);
    bAddress = `${nsIp}:${String(listening.port)}`;
    apiB?.close();
    apiB = new AgentWire(bAddress, creds, {}, 60_000);
    return p;
  };
  const startCoordinator = (): Promise<AgentProcess> =>
    AgentProcess.spawn(
      join(dir, 'coordinator.yaml'),
      {
        coordinator_id: `c-${tag}`,
        listen: `127.0.0.1:${coordPort}`,
        tls: {
          ca_file: join(dir, 'pki/ca.pem'),
          cert_file: join(dir, 'pki/coordinator.pem'),
          key_file: join(dir, 'pki/coordinator-key.pem'),
        },
        nats: { servers: nats.url },
        // In the test's directory, so the restarted coordinator opens what the first one sealed.
        secrets_key_file: join(dir, 'coordinator-secrets.key'),
        agent_timeout_s: 3,
        retry_backoff_s: 0.3,
        operation_lease_s: 3,
        log_level: 'info',
      },
      { bin: 'bin/tenks-coordinator.js' },
    );

  /** Waits for an operation to end and returns it. */
  async function finish(op: Operation, timeoutMs = 120_000): Promise<Operation> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await api.getOperation(op.id).catch((e: unknown) => {
        // A restarting coordinator is briefly away.
        if (e instanceof TenksError && e.code === 'UNAVAILABLE') return null;
        throw e;
      });
      if (o && o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const applied = async (count: number, memoryMb = 128): Promise<Operation> => {
    const op = await finish(await api.apply(spec(count, memoryMb), 'spec.yaml'));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results.filter((r) => !r.ok)));
    return op;
  };
  /** What each agent has of the cluster, from the agents themselves. */
  const onA = async (): Promise<string[]> => (await domainNames()).filter((n) => n.startsWith(prefix)).sort();
  const onB = async (): Promise<string[]> => (await apiB!.listNodes(cluster)).nodes.map((n) => n.name).sort();
  const aliveAgents = async (): Promise<string[]> =>
    (await api.getAgents())
      .filter((x) => x.alive && (x.id === agentA || x.id === agentB))
      .map((x) => x.id)
      .sort();

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-co-'));
    await run('chmod', ['711', dir]);
    await ip('netns', 'add', ns);
    await ip('link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethNs);
    await ip('link', 'set', vethNs, 'netns', ns);
    await ip('addr', 'add', `${rootIp}/30`, 'dev', vethRoot);
    await ip('link', 'set', vethRoot, 'up');
    await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', vethNs);
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', vethNs, 'up');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    await ip('link', 'add', bridgeA, 'type', 'bridge');
    await ip('link', 'set', bridgeA, 'up');
    await ip('netns', 'exec', ns, 'ip', 'link', 'add', bridgeB, 'type', 'bridge');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', bridgeB, 'up');
    // The same device name on both hosts, for an upstream-style file with one global physnet_mappings.
    await ip('netns', 'exec', ns, 'ip', 'link', 'add', bridgeA, 'type', 'bridge');
    await ip('netns', 'exec', ns, 'ip', 'link', 'set', bridgeA, 'up');
    await run('env', [
      `TENKS_SANS=IP:${nsIp},IP:${rootIp}`,
      'bash',
      join(process.cwd(), 'deploy/make-certs.sh'),
      join(dir, 'pki'),
      'agent',
      'coordinator',
      'client',
    ]);
    creds = await clientCredentials(join(dir, 'pki'));
    nats = await startNats({ host: rootIp });
    a = await startA();
    b = await startB();
    // The first start binds port 0; restarts take the same port back, so clients keep their address.
    coord = await startCoordinator();
    coordPort = await coord.listeningPort();
    api = new CoordinatorWire(`127.0.0.1:${coordPort}`, creds, {}, 60_000);
    await waitUntil(
      'both agents alive at the coordinator',
      async () => (await aliveAgents().catch(() => [])).length === 2,
      90_000,
    );
  });

  after(async function () {
    api.close();
    apiB?.close();
    await coord.kill().catch(() => undefined);
    await a.kill().catch(() => undefined);
    await b.kill().catch(() => undefined);
    await nats.stop().catch(() => undefined);
    await cleanupLibvirt({ domainPart: prefix, pool });
    await cleanupLibvirt({ domainPart: `up${tag}-` });
    await ip('link', 'del', bridgeA).catch(() => undefined);
    await ip('link', 'del', vethRoot).catch(() => undefined);
    await ip('netns', 'del', ns).catch(() => undefined);
    // What agent A made for the cluster in the root namespace (if teardown did not run).
    for (const l of (await ip('-o', 'link').catch(() => '')).split('\n')) {
      const name = /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '';
      if (name.includes(tag) && /^t[a-z]-/.test(name)) await ip('link', 'del', name).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('knows both agents from their heartbeats', async function () {
    const agents = (await api.getAgents()).filter((x) => x.id === agentA || x.id === agentB);
    assert.equal(agents.length, 2);
    const b0 = agents.find((x) => x.id === agentB);
    assert.ok(b0 !== undefined, 'agent B is listed');
    assert.equal(b0.address, bAddress);
    assert.ok(b0.host !== undefined && b0.host.cpus > 0, JSON.stringify(b0.host));
    assert.equal(agents.find((x) => x.id === agentA)?.host?.libvirtUri, 'qemu:///system');
  });

  it('applies a cluster spread over both agents; the agents and libvirt have the nodes', async function () {
    const plan = await api.plan(spec(4), 'spec.yaml');
    assert.equal(plan.actions.filter((x) => x.kind === 'create').length, 4);
    assert.deepEqual(
      plan.actions
        .filter((x) => x.kind === 'setup_host')
        .map((x) => x.hypervisor)
        .sort(),
      [agentA, agentB].sort(),
    );
    const op = await applied(4);
    assert.equal(op.results.filter((r) => r.action === 'create').length, 4);
    const [onAgentA, onAgentB] = [await onA(), await onB()];
    // Spread weighs free capacity: both hosts get nodes (the test driver's bigger host gets more).
    assert.ok(onAgentA.length >= 1, `spread: ${onAgentA.join()}`);
    assert.ok(onAgentB.length >= 1, `spread: ${onAgentB.join()}`);
    assert.deepEqual(
      [...onAgentA, ...onAgentB].sort(),
      [0, 1, 2, 3].map((i) => `${prefix}${i}`),
    );
    // Each node's switch port exists on its own host: A's in the root namespace, B's in the netns.
    const nodes = await api.getNodes(cluster);
    assert.equal(nodes.length, 4);
    for (const n of nodes) {
      const port = n.nics[0]?.switchPort ?? '';
      assert.ok(port !== '', `${n.name} has a switch port`);
      if (n.hypervisor === agentA) await ip('link', 'show', port);
      else await ip('netns', 'exec', ns, 'ip', 'link', 'show', port);
      assert.ok(n.bmc?.ipmi, `${n.name} has an IPMI endpoint`);
    }
  });

  it('finds nothing to do on a re-apply', async function () {
    const plan = await api.plan(spec(4), 'spec.yaml');
    assert.deepEqual(plan.actions, []);
    assert.equal(plan.unchanged, 4);
    const op = await applied(4);
    assert.equal(op.actionsTotal, 0);
  });

  it('scales up by adding only the new nodes; existing nodes keep UUIDs and MACs', async function () {
    const before = new Map((await api.getNodes(cluster)).map((n) => [n.name, `${n.uuid}/${n.nics[0]?.mac ?? ''}`]));
    const op = await applied(6);
    assert.deepEqual(op.results.map((r) => r.action).sort(), ['create', 'create']);
    const after = new Map((await api.getNodes(cluster)).map((n) => [n.name, `${n.uuid}/${n.nics[0]?.mac ?? ''}`]));
    assert.equal(after.size, 6);
    for (const [name, id] of before) assert.equal(after.get(name), id, `${name} kept its identity`);
    assert.equal((await onA()).length + (await onB()).length, 6);
  });

  it('updates every node in place when the node type changes', async function () {
    const uuids = (await api.getNodes(cluster)).map((n) => n.uuid).sort();
    const op = await applied(6, 256);
    assert.deepEqual([...new Set(op.results.map((r) => r.action))], ['update']);
    assert.deepEqual((await api.getNodes(cluster)).map((n) => n.uuid).sort(), uuids);
    const one = (await onA())[0] ?? '';
    assert.match(await virsh('dominfo', one), /Max memory:\s+262144 KiB/);
    for (const n of (await apiB!.listNodes(cluster)).nodes) assert.equal(n.memoryMb, 256);
  });

  it('scales down by removing the highest-numbered nodes from their agents', async function () {
    const op = await applied(3, 256);
    assert.deepEqual(op.results.map((r) => r.node).sort(), [`${prefix}3`, `${prefix}4`, `${prefix}5`]);
    assert.deepEqual(
      [...(await onA()), ...(await onB())].sort(),
      [0, 1, 2].map((i) => `${prefix}${i}`),
    );
  });

  it('refuses a second apply of the same cluster while one runs (CONFLICT naming it)', async function () {
    const first = api.apply(spec(5, 256), 'spec.yaml');
    const second = api.apply(spec(5, 256), 'spec.yaml');
    const results = await Promise.allSettled([first, second]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1, 'exactly one apply starts');
    assert.equal(bad.length, 1);
    const e = bad[0]?.reason as TenksError;
    assert.equal(e.code, 'CONFLICT');
    const winner = (ok[0] as PromiseFulfilledResult<Operation>).value;
    assert.match(e.message, new RegExp(winner.id));
    assert.equal((await finish(winner)).state, OperationState.OPERATION_STATE_SUCCEEDED);
  });

  it('converges after an agent is killed mid-apply and restarted, leaking nothing', async function () {
    const op = await api.apply(spec(8, 256), 'spec.yaml');
    await b.stop('SIGKILL', 10_000);
    b = await startB();
    await finish(op);
    await waitUntil('agent B alive again', async () => (await aliveAgents()).length === 2, 60_000);
    await applied(8, 256);
    const names = [...(await onA()), ...(await onB())].sort();
    assert.deepEqual(names, [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${prefix}${i}`).sort());
    assert.equal((await api.plan(spec(8, 256), 'spec.yaml')).actions.length, 0);
  });

  it('resumes the same operation when the coordinator is killed mid-apply; no node is created twice', async function () {
    /** Per node of the cluster: how often the agents logged its creation and its update, from line `from`. */
    const agentLog = (p: AgentProcess, from: number): LogLine[] => p.lines.slice(from);
    const [fromA, fromB] = [a.lines.length, b.lines.length];
    const counts = (): Map<string, { created: number; updated: number }> => {
      const out = new Map<string, { created: number; updated: number }>();
      for (const l of [...agentLog(a, fromA), ...agentLog(b, fromB)]) {
        if (l.cluster !== cluster || typeof l.node !== 'string') continue;
        const c = out.get(l.node) ?? { created: 0, updated: 0 };
        if (l.message === 'node created') c.created++;
        if (l.message === 'node updated') c.updated++;
        out.set(l.node, c);
      }
      return out;
    };
    const op = await api.apply(spec(12, 256), 'spec.yaml');
    // Mid-apply: some of the four new nodes exist, not all of them yet.
    await waitUntil('a first node created', async () => Promise.resolve(counts().size > 0), 60_000);
    await coord.stop('SIGKILL', 10_000);
    coord = await startCoordinator();
    const end = await finish(op, 120_000);
    assert.equal(
      end.state,
      OperationState.OPERATION_STATE_SUCCEEDED,
      `${end.errorMessage} ${JSON.stringify(end.results.filter((r) => !r.ok))}`,
    );
    assert.ok(
      end.warnings.some((w) => w.startsWith(`resumed by c-${tag}`)),
      `the restarted coordinator resumed it: ${end.warnings.join('; ')}`,
    );
    const added = [8, 9, 10, 11].map((i) => `${prefix}${i}`);
    const seen = counts();
    assert.deepEqual([...seen.keys()].sort(), [...added].sort(), 'only the new nodes were touched');
    for (const name of added) assert.deepEqual(seen.get(name), { created: 1, updated: 0 }, `${name} was created once`);
    assert.equal((await onA()).length + (await onB()).length, 12);
    assert.equal((await api.plan(spec(12, 256), 'spec.yaml')).actions.length, 0);
  });

  it('reconnects agents and the coordinator after NATS restarts', async function () {
    await nats.restart();
    await waitUntil(
      'both agents alive again after the NATS restart',
      async () => (await aliveAgents().catch(() => [])).length === 2,
      60_000,
    );
    // JetStream may take a few seconds after the restart: until then an apply is UNAVAILABLE, never wrong.
    let op: Operation | null = null;
    await waitUntil(
      'the coordinator to write its state again',
      async () => {
        try {
          // 12 nodes down to 4 deletes most of the cluster: meant here, so --prune.
          op = await api.apply(spec(4, 256), 'spec.yaml', { prune: true });
          return true;
        } catch (e) {
          if (e instanceof TenksError && e.code === 'UNAVAILABLE') return false;
          throw e;
        }
      },
      60_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\ncoordinator:${coord.output()}`);
    });
    assert.ok(op);
    assert.equal((await finish(op)).state, OperationState.OPERATION_STATE_SUCCEEDED);
    assert.deepEqual(
      [...(await onA()), ...(await onB())].sort(),
      [0, 1, 2, 3].map((i) => `${prefix}${i}`),
    );
  });

  it('applies an upstream Tenks override file unchanged, then deletes it', async function () {
    // Only upstream variables: no name (the cluster is "tenks"), one global physnet mapping. (A
    // physnet is one per host: the test's first physnet is the other cluster's there, on another device.)
    // "tenks" is also every user's default cluster name, and the tenks mark names a cluster, not the
    // agent that made it: agent A (qemu:///system) would report a user's "tenks" domains as this
    // cluster's nodes, and either agent's host teardown removes OVS rows marked "tenks" (OVS is
    // host-wide, netns or not). So where a cluster of that name exists, this test must not run.
    const taken = await clusterMarksOnHost('tenks');
    if (taken.length > 0) {
      console.log(
        `    skipped: a cluster named "tenks" exists on this host (${taken.join(', ')}); applying and deleting one here would remove it`,
      );
      this.skip();
    }
    const upstream = [
      'node_types:',
      '  type0:',
      '    memory_mb: 128',
      '    vcpus: 1',
      '    volumes:',
      '      - capacity: 64MiB',
      '    physical_networks:',
      `      - ${upnet}`,
      'specs:',
      '  - type: type0',
      '    count: 2',
      `node_name_prefix: up${tag}-`,
      'physnet_mappings:',
      `  ${upnet}: ${bridgeA}`,
      'bridge_type: linuxbridge',
      'default_boot_mode: bios',
      'ipmi_username: admin',
      'ipmi_password: password',
      '',
    ].join('\n');
    const op = await finish(await api.apply(upstream, 'override.yml'));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results.filter((r) => !r.ok)));
    const nodes = await api.getNodes('tenks');
    assert.deepEqual(nodes.map((n) => n.name).sort(), [`up${tag}-0`, `up${tag}-1`]);
    assert.equal((await api.plan(upstream, 'override.yml')).actions.length, 0);
    const del = await finish(await api.deleteCluster('tenks'));
    assert.equal(del.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(del.results.filter((r) => !r.ok)));
    assert.deepEqual(await api.getNodes('tenks'), []);
  });

  it('deletes the cluster: nothing of it is left on either agent, in libvirt or in the state', async function () {
    const op = await finish(await api.deleteCluster(cluster));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results.filter((r) => !r.ok)));
    assert.deepEqual(await onA(), []);
    assert.deepEqual(await onB(), []);
    assert.deepEqual(await api.getNodes(cluster), []);
    assert.ok(!(await api.getClusters()).some((c) => c.name === cluster));
    // The tenks bridges of the cluster are gone on both hosts; the test's own bridges remain.
    const rootLinks = await ip('-o', 'link');
    assert.ok(!rootLinks.includes(`tb-${physnet}`), rootLinks);
    assert.ok(!rootLinks.includes(`tb-${upnet}`), rootLinks);
    const nsLinks = await ip('netns', 'exec', ns, 'ip', '-o', 'link');
    assert.ok(!nsLinks.includes(`tb-${physnet}`), nsLinks);
    assert.ok(nsLinks.includes(bridgeB));
  });
});
