/**
 * A cluster that enrols (ironic_config, nova_flavors) on a coordinator with NO cloud configured: a
 * real nats-server, the coordinator in-process (its real daemon wiring, gRPC and the real CLI as a
 * child process), and a real agent on libvirt's test:///default. Apply and plan must fail before
 * any agent is asked to change anything; delete and teardown must refuse without --force (naming
 * what may be left in Ironic and Nova) and remove everything of tenks' with it.
 *
 * The agent shares the host's network namespace with whatever else runs here, so the test's port
 * answers host network calls (setup_host, teardown_host) itself and records them: the specs have
 * no physnets, so the agent would have nothing to set up for them anyway, while teardown's "every
 * tenks bridge" would reach bridges that are not the test's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Connection } from '../../agent/native/index.js';
import { nullLogger } from '../../common/index.js';
import type { AgentPort } from '../../coordinator/agents/port.js';
import { compileCoordinatorConfig } from '../../coordinator/config.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { CoordinatorDaemon } from '../../coordinator/daemon.js';
import type { OperationRecord } from '../../coordinator/state/records.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, domainNames, openLibvirt, rejectsWith, suffix, TEST_URI } from './helpers.js';
import { startNats, type TestNats } from './helpers-nats.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const TENKSCTL = join(ROOT, 'bin/tenksctl.js');

/** Agent calls, recorded; host network calls answered here (see the file's comment). */
class NoHostNetworkPort implements AgentPort {
  constructor(
    private readonly inner: AgentPort,
    readonly calls: { method: string; agent: string; target: string }[] = [],
  ) {}

  withFence(fence: string): AgentPort {
    return new NoHostNetworkPort(this.inner.withFence(fence), this.calls);
  }

  whenBack(agent: string, signal: AbortSignal): Promise<void> {
    return this.inner.whenBack(agent, signal);
  }

  hostPhysnets(agent: string, signal?: AbortSignal) {
    return this.inner.hostPhysnets(agent, signal);
  }
  listNodes(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    return this.inner.listNodes(agent, cluster, includeSecrets, signal);
  }
  nodeStatuses(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    return this.inner.nodeStatuses(agent, cluster, includeSecrets, signal);
  }
  ensureNode(agent: string, request: Parameters<AgentPort['ensureNode']>[1], signal?: AbortSignal) {
    this.calls.push({ method: 'ensureNode', agent, target: request.node.name });
    return this.inner.ensureNode(agent, request, signal);
  }
  deleteNode(agent: string, node: Parameters<AgentPort['deleteNode']>[1], signal?: AbortSignal) {
    this.calls.push({ method: 'deleteNode', agent, target: node.name });
    return this.inner.deleteNode(agent, node, signal);
  }
  setupHost(agent: string, cluster: string) {
    this.calls.push({ method: 'setupHost', agent, target: cluster });
    return Promise.resolve({ changed: false, changes: [] });
  }
  teardownHost(agent: string, cluster: string) {
    this.calls.push({ method: 'teardownHost', agent, target: cluster });
    return Promise.resolve({ changed: false, removed: [] });
  }
  setPower(agent: string, node: Parameters<AgentPort['setPower']>[1], action: Parameters<AgentPort['setPower']>[2]) {
    return this.inner.setPower(agent, node, action);
  }
}

describe('enrolling clusters with no cloud configured (real coordinator, NATS, agent on test:///default, CLI)', function () {
  this.timeout(120_000);
  const run = suffix();
  const pool = `tenks-it-cc-${run}`;
  const agentId = `cc-agent-${run}`;
  let nats: TestNats | undefined;
  let agent: TestAgent | undefined;
  let daemon: CoordinatorDaemon | undefined;
  let port: NoHostNetworkPort | undefined;
  let conn: Connection | undefined;
  let dir = '';
  const savedEnv = new Map<string, string>();

  before(async function () {
    // The coordinator reads OS_* like the OpenStack tools: none of the caller's may leak in.
    for (const [k, v] of Object.entries(process.env))
      if (k.startsWith('OS_') && v !== undefined) {
        savedEnv.set(k, v);
        Reflect.deleteProperty(process.env, k);
      }
    dir = await mkdtemp(join(tmpdir(), 'tenks-it-cc-'));
    const clouds = join(dir, 'clouds.yaml');
    await writeFile(clouds, 'clouds: {}\n');
    await writeFile(join(dir, 'tenksctl.yaml'), '');
    conn = await openLibvirt();
    nats = await startNats();
    agent = await startTestAgent({
      agent_id: agentId,
      libvirt_uri: TEST_URI,
      storage: { pool_name: pool },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
    });
    const config = compileCoordinatorConfig({
      coordinator_id: `cc-${run}`,
      listen: '127.0.0.1:0',
      insecure_loopback: true,
      nats: { servers: nats.url },
      openstack: { clouds_file: clouds, timeout_s: 5 },
      retry_backoff_s: 0.1,
      shutdown_grace_s: 2,
      log_level: 'warn',
    });
    daemon = await CoordinatorDaemon.start(config, nullLogger, {
      wrapAgentPort: (p) => (port = new NoHostNetworkPort(p)),
    });
    const c = daemon.coordinator;
    const deadline = Date.now() + 20_000;
    while (!c.agents().some((a) => a.id === agentId && a.alive)) {
      if (Date.now() > deadline) assert.fail('the agent never became alive at the coordinator');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async function () {
    await daemon?.stop(2_000);
    if (conn) await cleanupLibvirt(conn, { domainPart: run });
    await agent?.stop();
    await conn?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const [k, v] of savedEnv) process.env[k] = v;
  });

  function coordinator(): Coordinator {
    assert.ok(daemon);
    return daemon.coordinator;
  }

  function fenced(): NoHostNetworkPort {
    assert.ok(port);
    return port;
  }

  const specOf = (cluster: string, o: { enrol: boolean; flavors?: boolean; count?: number }): string =>
    stringify({
      name: cluster,
      node_types: { tiny: { memory_mb: 64, vcpus: 1, volumes: [{ capacity: '16MiB' }], boot_mode: 'bios' } },
      specs: [
        {
          type: 'tiny',
          count: o.count ?? 2,
          node_name_prefix: `${cluster}-n`,
          ...(o.enrol ? { ironic_config: { resource_class: 'baremetal' } } : {}),
        },
      ],
      ...(o.flavors === true
        ? { nova_flavors: [{ resource_class: 'baremetal', node_type: 'tiny', name: `fl-${cluster}` }] }
        : {}),
    });

  /** The operation once it has ended (the stored copy follows the runner's last write a moment later). */
  async function finished(op: OperationRecord): Promise<OperationRecord> {
    await coordinator().parts.runner.wait(op.id);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const cur = coordinator().operation(op.id);
      if (cur.state !== 'pending' && cur.state !== 'running') return cur;
      if (Date.now() > deadline) assert.fail(`operation ${op.id} is still ${cur.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The CLI against the in-process coordinator, with a clean environment. */
  function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    assert.ok(daemon && nats);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TENKS_') && k !== 'NO_COLOR') env[k] = v;
    env.TENKS_CONFIG = join(dir, 'tenksctl.yaml');
    env.HOME = dir;
    const global = ['--insecure', '--coordinator', `127.0.0.1:${daemon.port}`, '--nats', nats.url, '--timeout', '60'];
    const child = spawn(process.execPath, [TENKSCTL, ...global, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve) => {
      child.once('close', (code) => {
        resolve({ code, stdout, stderr });
      });
    });
  }

  const domains = async (cluster: string): Promise<string[]> => {
    assert.ok(conn);
    return (await domainNames(conn, `${cluster}-n`)).sort();
  };
  const changingCalls = (from: number): string[] =>
    fenced()
      .calls.slice(from)
      .map((c) => `${c.method} ${c.target}`);

  /** A cluster with two VMs whose stored spec enrols: applied without enrolment, then with it. */
  async function clusterWithVms(cluster: string): Promise<Map<string, string>> {
    const first = await finished(await coordinator().apply(specOf(cluster, { enrol: false }), 'spec.yaml'));
    assert.equal(first.state, 'succeeded', JSON.stringify(first.results));
    assert.deepEqual(await domains(cluster), [`${cluster}-n0`, `${cluster}-n1`]);
    await finished(await coordinator().apply(specOf(cluster, { enrol: true, flavors: true }), 'spec.yaml'));
    assert.match(coordinator().parts.store.cluster(cluster)?.value.specYaml ?? '', /ironic_config/);
    return new Map([...coordinator().parts.store.placementsOf(cluster)].map(([n, p]) => [n, p.uuid]));
  }

  it('apply and plan fail with INVALID_SPEC naming cloud before any agent is asked to change anything', async function () {
    const cluster = `cca${run}`;
    const text = specOf(cluster, { enrol: true });
    const plan = await rejectsWith(coordinator().plan(text, 'spec.yaml'), 'INVALID_SPEC');
    assert.equal(plan.field, 'cloud');
    assert.match(plan.message, /no cloud is configured/);
    assert.match(plan.hint ?? '', /openstack\.cloud/);

    const before = fenced().calls.length;
    const op = await finished(await coordinator().apply(text, 'spec.yaml'));
    assert.equal(op.state, 'failed');
    assert.equal(op.errorCode, 'INVALID_SPEC', op.errorMessage);
    assert.match(op.errorMessage, /no cloud is configured/);
    assert.deepEqual(op.results, [], 'no step ran');
    assert.deepEqual(changingCalls(before), [], 'no agent was asked to set up a host or create a node');
    assert.deepEqual(await domains(cluster), []);

    const p = await cli(['plan', '-f', await writeSpec(cluster, text)]);
    assert.equal(p.code, 2, p.stderr);
    assert.match(p.stderr, /no cloud is configured/);
    assert.equal(p.stdout, '', 'no plan printed for an apply that would fail');

    // Nothing was placed and no flavors are declared: nothing can be in a cloud, so none is needed.
    const del = await finished(await coordinator().deleteCluster(cluster, false));
    assert.equal(del.state, 'succeeded', `${del.errorCode}: ${del.errorMessage}`);
    assert.equal(coordinator().parts.store.cluster(cluster), undefined);
  });

  async function writeSpec(cluster: string, text: string): Promise<string> {
    const file = join(dir, `${cluster}.yaml`);
    await writeFile(file, text);
    return file;
  }

  it('delete refuses without --force, naming what may be left in Ironic and Nova; --force removes the rest', async function () {
    const cluster = `ccd${run}`;
    const uuids = await clusterWithVms(cluster);
    assert.equal(uuids.size, 2);

    const before = fenced().calls.length;
    const refused = await cli(['delete', cluster]);
    assert.equal(refused.code, 2, `INVALID_SPEC (no cloud configured) is exit 2\n${refused.stdout}${refused.stderr}`);
    const out = refused.stdout + refused.stderr;
    for (const [name, uuid] of uuids)
      assert.ok(out.includes(`${name} (${uuid})`), `names ${name} and its UUID:\n${out}`);
    assert.match(out, new RegExp(`fl-${cluster}`), 'names the flavor');
    assert.match(out, /--force/);
    assert.deepEqual(changingCalls(before), [], 'nothing deleted');
    assert.deepEqual(await domains(cluster), [`${cluster}-n0`, `${cluster}-n1`]);
    assert.equal(coordinator().parts.store.placementsOf(cluster).size, 2);

    const forced = await cli(['-o', 'json', 'delete', cluster, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const op = JSON.parse(forced.stdout) as { state: string; warnings: string[] };
    assert.equal(op.state, 'succeeded');
    const warned = op.warnings.join('\n');
    for (const [name, uuid] of uuids) {
      assert.ok(warned.includes(`${name} (${uuid})`), `the record names ${name}:\n${warned}`);
      assert.ok(forced.stderr.includes(`${name} (${uuid})`), `the CLI prints ${name}:\n${forced.stderr}`);
    }
    assert.match(warned, new RegExp(`fl-${cluster}`));
    assert.match(forced.stderr, /^warning: .*left in Ironic/m);
    assert.deepEqual(await domains(cluster), []);
    assert.equal(coordinator().parts.store.placementsOf(cluster).size, 0);
    assert.equal(coordinator().parts.store.cluster(cluster), undefined);
  });

  it('teardown refuses without --force, naming every cluster what may be left; --force removes the rest', async function () {
    const cluster = `cct${run}`;
    const uuids = await clusterWithVms(cluster);
    const before = fenced().calls.length;
    const refused = await finished(await coordinator().teardown(false));
    assert.equal(refused.state, 'failed');
    assert.equal(refused.errorCode, 'INVALID_SPEC', refused.errorMessage);
    for (const [name, uuid] of uuids)
      assert.ok(refused.errorMessage.includes(`${name} (${uuid})`), refused.errorMessage);
    assert.match(refused.errorMessage, /--force/);
    assert.deepEqual(changingCalls(before), [], 'nothing deleted, no bridge removed');
    assert.deepEqual(await domains(cluster), [`${cluster}-n0`, `${cluster}-n1`]);

    const forced = await finished(await coordinator().teardown(true));
    assert.equal(forced.state, 'succeeded', `${forced.errorCode}: ${forced.errorMessage}`);
    const warned = forced.warnings.join('\n');
    for (const [name, uuid] of uuids) assert.ok(warned.includes(`${name} (${uuid})`), warned);
    assert.deepEqual(await domains(cluster), []);
    assert.equal(coordinator().parts.store.placementsOf(cluster).size, 0);
    assert.ok(
      fenced().calls.some((c) => c.method === 'teardownHost' && c.target === '' && c.agent === agentId),
      'every tenks bridge of the agent was asked to go',
    );
  });
});
