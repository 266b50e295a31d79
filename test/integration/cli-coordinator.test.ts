/**
 * tenksctl against a fake coordinator: a scripted CoordinatorService on a real grpc-js server
 * (127.0.0.1:0) that publishes operation events on a real nats-server, and the real CLI run as a
 * child process. Checks progress, summaries, exit statuses, Ctrl-C cancelling, the polling
 * fallback without NATS, offline validation and secrets in node output.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type handleUnaryCall,
} from '@grpc/grpc-js';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { TenksError } from '../../common/errors.js';
import { toWireError } from '../../common/grpc/errors.js';
import { encodeJson, opEventsSubject, type OpEvent } from '../../common/nats/index.js';
import { describeNameSource, expandNodes, parseClusterSpec } from '../../common/spec/index.js';
import {
  Agent,
  Cluster,
  CoordinatorServiceService,
  NodeResult,
  Operation,
  OperationState,
  Plan,
  PlanAction,
  type CoordinatorServiceServer,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { NodeStatus, PowerState } from '../../proto/gen/tenks/v1/types.pb.js';
import { startNats, type TestNats } from './helpers-nats.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const TENKSCTL = join(ROOT, 'bin/tenksctl.js');
const PREFIX = 'tenks.ops';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How the fake runs an operation, chosen by the cluster name (`prune*`: refused without prune, then ok). */
type Scenario = 'ok' | 'fail' | 'slow' | 'prune';

function scenarioOf(cluster: string): Scenario {
  if (cluster.startsWith('fail')) return 'fail';
  if (cluster.startsWith('slow')) return 'slow';
  if (cluster.startsWith('prune')) return 'prune';
  return 'ok';
}

/** A CoordinatorService that runs scripted operations and publishes their events on NATS. */
class FakeCoordinator {
  readonly calls: { method: string; request: unknown }[] = [];
  readonly ops = new Map<string, Operation>();
  readonly nodes: NodeStatus[] = [];
  private readonly cancelled = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private server: Server | null = null;
  address = '';

  constructor(
    private readonly nc: NatsConnection,
    private readonly natsUrl: string,
  ) {}

  async start(): Promise<void> {
    const s = new Server();
    const impl: CoordinatorServiceServer = {
      getInfo: this.unary('getInfo', () => ({
        coordinatorId: 'fake',
        version: '0.1.0',
        natsUrls: [this.natsUrl],
        eventsSubjectPrefix: PREFIX,
      })),
      plan: this.unary('plan', (r: { specYaml: string; source: string; prune: boolean }) => ({
        plan: Plan.fromPartial({
          cluster: parseClusterSpec(r.specYaml, r.source).spec.name,
          nameSource: describeNameSource(parseClusterSpec(r.specYaml, r.source).spec),
          // As the coordinator says of an apply that would delete most of a cluster (clusters `prune*` here).
          pruneRequired:
            scenarioOf(parseClusterSpec(r.specYaml, r.source).spec.name) === 'prune' && !r.prune
              ? "apply would delete 2 of the 2 nodes of cluster 'prunes': tk0, tk1; apply refuses this without --prune"
              : '',
          unchanged: 1,
          warnings: ['hypervisors: none listed; using every live agent'],
          actions: [
            PlanAction.fromPartial({ kind: 'create', node: 'tk1', hypervisor: 'hv1', nodeType: 'small' }),
            PlanAction.fromPartial({
              kind: 'update',
              node: 'tk0',
              hypervisor: 'hv1',
              nodeType: 'small',
              changes: ['memory_mb: 256 -> 512'],
            }),
          ],
        }),
      })),
      apply: this.unary('apply', (r: { specYaml: string; source: string; prune: boolean }) => {
        const { spec } = parseClusterSpec(r.specYaml, r.source);
        if (scenarioOf(spec.name) === 'prune' && !r.prune)
          throw new TenksError('CONFLICT', `apply would delete 2 of the 2 nodes of cluster '${spec.name}': tk0, tk1`, {
            hint: 'run the apply again with --prune',
          });
        return {
          operation: this.startOperation(
            spec.name,
            'apply',
            expandNodes(spec).map((n) => n.name),
          ),
        };
      }),
      deleteCluster: this.unary('deleteCluster', (r: { cluster: string }) => ({
        operation: this.startOperation(r.cluster, 'delete', ['tk0']),
      })),
      teardown: this.unary('teardown', () => ({ operation: this.startOperation('', 'teardown', []) })),
      getClusters: this.unary('getClusters', (r: { includeSecrets: boolean }) => ({
        clusters: [
          Cluster.fromPartial({
            name: 'lab1',
            nodeCount: 2,
            agents: ['hv1'],
            specYaml: `name: lab1\nipmi_password: ${r.includeSecrets ? 's3cret-spec' : '<redacted>'}\n`,
          }),
        ],
      })),
      getNodes: this.unary('getNodes', (r: { cluster: string; name: string; includeSecrets: boolean }) => ({
        nodes: this.nodes
          .filter((n) => (r.cluster === '' || n.cluster === r.cluster) && (r.name === '' || n.name === r.name))
          .map((n) => (r.includeSecrets ? n : hidePasswords(n))),
      })),
      getAgents: this.unary('getAgents', () => ({
        agents: [
          Agent.fromPartial({
            id: 'hv1',
            address: '192.0.2.1:7443',
            alive: true,
            lastSeenUnixMs: Date.now() - 3_000,
            host: {
              engine: 'kvm',
              cpus: 8,
              memoryBytes: 32 * 1024 ** 3,
              freeMemoryBytes: 16 * 1024 ** 3,
              nodeCount: 2,
              pool: { name: 'tenks', availableBytes: 100 * 1024 ** 3 },
            },
          }),
        ],
      })),
      getOperation: this.unary('getOperation', (r: { id: string }) => ({ operation: this.op(r.id) })),
      cancelOperation: this.unary('cancelOperation', (r: { id: string }) => {
        const o = this.op(r.id);
        this.cancelled.add(r.id);
        return { operation: o };
      }),
      setNodePower: this.unary('setNodePower', () => ({ powerState: PowerState.POWER_STATE_ON, changed: true })),
    };
    s.addService(CoordinatorServiceService, impl);
    const port = await new Promise<number>((resolve, reject) => {
      s.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => {
        if (e) reject(e);
        else resolve(p);
      });
    });
    this.server = s;
    this.address = `127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const id of this.ops.keys()) this.cancelled.add(id);
    await Promise.all([...this.running]);
    const s = this.server;
    if (s)
      await new Promise<void>((resolve) => {
        s.tryShutdown(() => {
          resolve();
        });
      });
  }

  called(method: string): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.request);
  }

  private op(id: string): Operation {
    const o = this.ops.get(id);
    if (!o) throw new TenksError('NOT_FOUND', `operation ${id} not found`);
    return o;
  }

  private unary<Req, Res>(method: string, f: (req: Req) => Res): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
      this.calls.push({ method, request: call.request });
      try {
        cb(null, f(call.request));
      } catch (e) {
        cb(toWireError(e));
      }
    };
  }

  private startOperation(cluster: string, kind: string, nodes: string[]): Operation {
    const id = randomUUID();
    const o = Operation.fromPartial({
      id,
      cluster,
      kind,
      state: OperationState.OPERATION_STATE_RUNNING,
      startedUnixMs: Date.now(),
      eventsSubject: opEventsSubject(id, PREFIX),
      actionsTotal: nodes.length,
      owner: 'fake',
    });
    this.ops.set(id, o);
    const run = this.run(o, nodes, scenarioOf(cluster)).finally(() => this.running.delete(run));
    this.running.add(run);
    return o;
  }

  private publish(o: Operation, ev: Record<string, unknown>): void {
    this.nc.publish(o.eventsSubject, encodeJson({ op: o.id, cluster: o.cluster, timeMs: Date.now(), ...ev }));
  }

  /** Runs nodes one after another: the first ones before any client can have subscribed. */
  private async run(o: Operation, nodes: string[], scenario: Scenario): Promise<void> {
    this.publish(o, { type: 'operation_started', kind: o.kind, actions: nodes.length });
    for (const [i, node] of nodes.entries()) {
      if (this.cancelled.has(o.id)) break;
      this.publish(o, { type: 'step_started', node, hypervisor: 'hv1', action: 'ensure' });
      if (scenario === 'slow' && i > 0) {
        while (!this.cancelled.has(o.id)) await sleep(20);
        await sleep(200);
        o.results.push(
          NodeResult.fromPartial({
            node,
            action: 'ensure',
            ok: false,
            hypervisor: 'hv1',
            errorCode: 'CANCELLED',
            errorMessage: 'cancelled',
          }),
        );
        this.publish(o, {
          type: 'step_failed',
          node,
          hypervisor: 'hv1',
          action: 'ensure',
          code: 'CANCELLED',
          message: 'cancelled',
          retrying: false,
        });
        break;
      }
      await sleep(i === 0 ? 0 : 150);
      const fails = scenario === 'fail' && i === 1;
      o.results.push(
        NodeResult.fromPartial({
          node,
          action: 'ensure',
          ok: !fails,
          hypervisor: 'hv1',
          changes: fails ? [] : ['created'],
          ...(fails ? { errorCode: 'CAPACITY', errorMessage: 'no hypervisor has 256 MiB free' } : {}),
        }),
      );
      o.actionsDone++;
      this.publish(
        o,
        fails
          ? {
              type: 'step_failed',
              node,
              hypervisor: 'hv1',
              action: 'ensure',
              code: 'CAPACITY',
              message: 'no hypervisor has 256 MiB free',
              retrying: false,
            }
          : { type: 'step_finished', node, hypervisor: 'hv1', action: 'ensure', changes: ['created'] },
      );
    }
    const failed = o.results.filter((r) => !r.ok).length;
    const state = this.cancelled.has(o.id) ? 'cancelled' : failed > 0 ? 'failed' : 'succeeded';
    o.state =
      state === 'cancelled'
        ? OperationState.OPERATION_STATE_CANCELLED
        : state === 'failed'
          ? OperationState.OPERATION_STATE_FAILED
          : OperationState.OPERATION_STATE_SUCCEEDED;
    o.finishedUnixMs = Date.now();
    if (state === 'cancelled') {
      o.errorCode = 'CANCELLED';
      o.errorMessage = 'cancelled by request';
    }
    this.publish(o, {
      type: 'operation_done',
      state,
      succeeded: o.results.length - failed,
      failed,
      ...(state === 'cancelled' ? { code: 'CANCELLED', message: 'cancelled by request' } : {}),
    } satisfies Partial<OpEvent>);
  }
}

function hidePasswords(n: NodeStatus): NodeStatus {
  return NodeStatus.fromPartial({
    ...n,
    bmc: {
      ipmi: n.bmc?.ipmi ? { ...n.bmc.ipmi, password: '' } : undefined,
      redfish: n.bmc?.redfish ? { ...n.bmc.redfish, password: '' } : undefined,
    },
  });
}

function fakeNode(cluster: string, name: string): NodeStatus {
  return NodeStatus.fromPartial({
    cluster,
    name,
    uuid: randomUUID(),
    nodeType: 'small',
    hypervisor: 'hv1',
    powerState: PowerState.POWER_STATE_OFF,
    memoryMb: 256,
    vcpus: 1,
    nics: [
      {
        physnet: 'physnet1',
        mac: '52:54:00:12:34:56',
        bridge: 'tb-physnet1',
        bridgeMac: 'aa:bb:cc:dd:ee:ff',
        switchPort: `tp-${name}-0`,
      },
    ],
    bmc: {
      ipmi: { address: '192.0.2.1', port: 6230, username: 'admin', password: 's3cret-ipmi' },
      redfish: {
        url: 'http://192.0.2.1:8000',
        systemId: '/redfish/v1/Systems/x',
        username: 'admin',
        password: 's3cret-rf',
      },
    },
    consoleLogPath: `/var/log/tenks/libvirt/${name}-console.log`,
  });
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  await new Promise<void>((r) => {
    s.close(() => {
      r();
    });
  });
  return port;
}

interface CliRun {
  child: ChildProcess;
  /** Resolves when stderr has matched `re`. */
  waitStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

describe('tenksctl with a coordinator (fake coordinator, real NATS, CLI as a child process)', function () {
  let nats: TestNats | undefined;
  let nc: NatsConnection | undefined;
  let fake: FakeCoordinator | undefined;
  let dir = '';
  const children = new Set<ChildProcess>();

  before(async function () {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    fake = new FakeCoordinator(nc, nats.url);
    await fake.start();
    fake.nodes.push(fakeNode('lab1', 'tk0'), fakeNode('lab1', 'tk1'), fakeNode('a', 'dup'), fakeNode('b', 'dup'));
    dir = await mkdtemp(join(tmpdir(), 'tenks-cli-it-'));
    await writeFile(join(dir, 'tenksctl.yaml'), '');
  });

  afterEach(async function () {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(
      [...children].map((c) =>
        c.exitCode === null && c.signalCode === null
          ? new Promise<void>((r) => {
              c.once('exit', () => {
                r();
              });
            })
          : Promise.resolve(),
      ),
    );
    children.clear();
  });

  after(async function () {
    await fake?.stop();
    await nc?.drain();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function coord(): FakeCoordinator {
    assert.ok(fake, 'the fake coordinator runs');
    return fake;
  }

  /** The CLI with a clean environment: no TENKS_* from the caller, an empty config file, no colour. */
  function cli(args: string[], o: { coordinator?: string; nats?: string | null } = {}): CliRun {
    assert.ok(fake && nats);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TENKS_') && k !== 'NO_COLOR') env[k] = v;
    env.TENKS_CONFIG = join(dir, 'tenksctl.yaml');
    env.HOME = dir;
    const global = ['--insecure', '--coordinator', o.coordinator ?? fake.address, '--timeout', '20'];
    if (o.nats !== null) global.push('--nats', o.nats ?? nats.url);
    const child = spawn(process.execPath, [TENKSCTL, ...global, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const w of [...waiters])
        if (w.re.test(stderr)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    });
    const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
      (resolve) => {
        child.once('close', (code, signal) => {
          resolve({ code, signal, stdout, stderr });
        });
      },
    );
    return {
      child,
      done,
      waitStderr: (re, timeoutMs = 20_000) =>
        new Promise<void>((resolve, reject) => {
          if (re.test(stderr)) {
            resolve();
            return;
          }
          const t = setTimeout(() => {
            reject(new Error(`stderr never matched ${String(re)}:\n${stderr}`));
          }, timeoutMs);
          waiters.push({
            re,
            resolve: () => {
              clearTimeout(t);
              resolve();
            },
          });
          void done.then(() => {
            clearTimeout(t);
            if (!re.test(stderr)) reject(new Error(`exited before stderr matched ${String(re)}:\n${stderr}`));
          });
        }),
    };
  }

  async function specFile(name: string, count: number): Promise<string> {
    const path = join(dir, `${name}.yaml`);
    await writeFile(
      path,
      [
        `name: ${name}`,
        'physnet_mappings: { physnet1: eth1 }',
        'node_types:',
        '  small: { memory_mb: 256, vcpus: 1, volumes: [{ capacity: 1GiB }], physical_networks: [physnet1] }',
        'specs:',
        `  - { type: small, count: ${count} }`,
      ].join('\n') + '\n',
    );
    return path;
  }

  it('apply renders progress, sums up every node and exits 0', async () => {
    const file = await specFile('okone', 3);
    const r = await cli(['apply', '-f', file]).done;
    assert.equal(r.code, 0, r.stderr);
    for (const n of ['tk0', 'tk1', 'tk2']) assert.match(r.stderr, new RegExp(`^${n} ensure ok \\(hv1\\)$`, 'm'));
    assert.match(r.stderr, /apply okone: operation [0-9a-f-]+ started \(3 actions\)/);
    assert.ok(!r.stderr.includes('\x1b['), 'no escape codes without a terminal');
    assert.match(r.stdout, /^apply okone: succeeded in \d+s \(3 ok, 0 failed\)/);
    assert.match(r.stdout, /^tk2\s+ensure\s+ok\s+hv1\s+created$/m);
  });

  it('a failing node: non-zero exit with its code and the summary', async () => {
    const file = await specFile('failone', 3);
    const r = await cli(['apply', '-f', file]).done;
    assert.equal(r.code, 7, `CAPACITY is exit 7\n${r.stderr}`);
    assert.match(r.stderr, /^tk1 ensure failed \(hv1\): CAPACITY: no hypervisor has 256 MiB free$/m);
    assert.match(r.stdout, /^apply failone: failed in \d+s \(2 ok, 1 failed\)/);
    assert.match(r.stdout, /^tk1\s+ensure\s+failed\s+hv1\s+CAPACITY: no hypervisor has 256 MiB free$/m);
  });

  it('-o json: stdout is only the final operation as JSON, progress stays on stderr', async () => {
    const file = await specFile('okjson', 2);
    const r = await cli(['-o', 'json', 'apply', '-f', file]).done;
    assert.equal(r.code, 0, r.stderr);
    const op = JSON.parse(r.stdout) as { state: string; cluster: string; results: { node: string; ok: boolean }[] };
    assert.equal(op.state, 'succeeded');
    assert.equal(op.cluster, 'okjson');
    assert.deepEqual(
      op.results.map((x) => [x.node, x.ok]),
      [
        ['tk0', true],
        ['tk1', true],
      ],
    );
    assert.match(r.stderr, /tk1 ensure ok/);
  });

  it('takes the NATS URLs from GetInfo when none are configured', async () => {
    const file = await specFile('okinfo', 2);
    const before = coord().called('getInfo').length;
    const r = await cli(['apply', '-f', file], { nats: null }).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(coord().called('getInfo').length - before, 1);
    assert.ok(!r.stderr.includes('polling'), r.stderr);
  });

  it('Ctrl-C cancels the operation, waits for it and exits 130', async () => {
    const file = await specFile('slowone', 3);
    const run = cli(['apply', '-f', file]);
    await run.waitStderr(/tk0 ensure ok/);
    const cancelsBefore = coord().called('cancelOperation').length;
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(coord().called('cancelOperation').length - cancelsBefore, 1, 'CancelOperation was called');
    assert.match(r.stderr, /interrupted: cancelling operation/);
    assert.match(r.stdout, /^apply slowone: cancelled/m, 'it waited for the operation to end cancelled');
    const id = /operation ([0-9a-f-]+) started/.exec(r.stderr)?.[1] ?? '';
    assert.equal(coord().ops.get(id)?.state, OperationState.OPERATION_STATE_CANCELLED, 'cancelled, not orphaned');
  });

  it('NATS unreachable: says so, polls GetOperation and still finishes', async () => {
    const file = await specFile('oknonats', 2);
    const port = await closedPort();
    const r = await cli(['apply', '-f', file], { nats: `nats://127.0.0.1:${port}` }).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/polling every 2 s/g)?.length, 1, `said once:\n${r.stderr}`);
    assert.match(r.stderr, /^tk1 ensure ok \(hv1\)$/m);
    assert.match(r.stdout, /succeeded/);
  });

  it('watch ID streams one JSON event per line and exits with the operation status; delete follows too', async () => {
    const applied = await cli(['apply', '-f', await specFile('failwatch', 2)]).done;
    assert.equal(applied.code, 7, applied.stderr);
    const id = /operation ([0-9a-f-]+) started/.exec(applied.stderr)?.[1] ?? '';
    // The operation has ended: its outcomes come from GetOperation, written as the events they stand for.
    const w = await cli(['-o', 'json', 'watch', id]).done;
    assert.equal(w.code, 7, w.stderr);
    const events = w.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as OpEvent);
    assert.deepEqual(
      events.map((e) => e.type),
      ['step_finished', 'step_failed', 'operation_done'],
    );
    assert.equal(events.at(-1)?.op, id);

    const d = await cli(['delete', 'okdel']).done;
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^delete okdel: succeeded/m);
    assert.deepEqual(coord().called('deleteCluster').at(-1), { cluster: 'okdel', force: false });
  });

  it('an unknown command is a usage error: exit 2, INVALID_SPEC, and the hint points at --help', async () => {
    for (const args of [['nodes'], ['agent', 'bogus']]) {
      const r = await cli(args).done;
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: unknown (agent )?command '(nodes|bogus)'/m);
      assert.match(r.stderr, /^ {2}code: INVALID_SPEC$/m);
      assert.match(r.stderr, /^ {2}hint: see tenksctl --help$/m, 'a usage error, not a spec to fix');
      const j = await cli(['-o', 'json', ...args]).done;
      assert.equal(j.code, 2, j.stderr);
      assert.equal((JSON.parse(j.stderr) as { error: { code: string } }).error.code, 'INVALID_SPEC');
    }
  });

  it('get agents shows a table', async () => {
    const r = await cli(['get', 'agents']).done;
    assert.equal(r.code, 0, r.stderr);
    const [head, row] = r.stdout.trimEnd().split('\n');
    assert.match(head ?? '', /^ID\s+ADDRESS\s+ALIVE\s+ENGINE\s+CPUS\s+MEMORY\s+POOL FREE\s+NODES\s+LAST SEEN$/);
    assert.match(
      row ?? '',
      /^hv1\s+192\.0\.2\.1:7443\s+yes\s+kvm\s+8\s+16\.0GiB free of 32\.0GiB\s+100\.0GiB\s+2\s+\ds ago$/,
    );
  });

  it('validate: every error with its path, exit 2, no coordinator needed', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'name: bad\nnode_types:\n  t: { memory_mb: 1, vcpus: 1 }\nspecs:\n  - { type: nope, count: 1 }\n',
    );
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const r = await cli(['validate', '-f', bad], { coordinator: nowhere }).done;
    assert.equal(r.code, 2);
    assert.match(r.stderr, /node_types\.t\.memory_mb: /);
    assert.match(r.stderr, /specs\[0\]\.type: unknown node type 'nope'/);
    const j = await cli(['-o', 'json', 'validate', '-f', bad], { coordinator: nowhere }).done;
    assert.equal(j.code, 2);
    const out = JSON.parse(j.stdout) as { valid: boolean; errors: { field: string }[] };
    assert.equal(out.valid, false);
    assert.deepEqual(out.errors.map((e) => e.field).sort(), ['node_types.t.memory_mb', 'specs[0].type']);
    // plan and apply validate locally first: the coordinator never sees a bad spec.
    const plans = coord().called('plan').length;
    const p = await cli(['plan', '-f', bad]).done;
    assert.equal(p.code, 2);
    assert.equal(coord().called('plan').length, plans);
    const good = await cli(['validate', '-f', await specFile('okvalid', 4)], { coordinator: nowhere }).done;
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /is valid: 4 nodes in 1 spec, 0 flavors/);
  });

  it('plan prints the actions like a diff, and warnings on stderr', async () => {
    const r = await cli(['plan', '-f', await specFile('okplan', 2)]).done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'cluster okplan (from name)',
      '+ create tk1 on hv1 (small)',
      '~ update tk0 on hv1: memory_mb: 256 -> 512',
      '',
      '1 to create, 1 to update, 0 to replace, 0 to delete, 1 unchanged',
    ]);
    assert.match(r.stderr, /^warning: hypervisors: none listed/m);
  });

  it('validate, plan and apply take several -f files, merged in order; errors name the file of their key', async () => {
    const base = join(dir, 'base.yaml');
    const more = join(dir, 'more.yaml');
    const bad = join(dir, 'bad-count.yaml');
    await writeFile(
      base,
      'name: merged\nnode_types:\n  small: { memory_mb: 256, vcpus: 1 }\nspecs:\n  - { type: small, count: 1 }\n',
    );
    // Replaces node_types and specs wholesale (no deep merge): only `tiny` is left.
    await writeFile(more, 'node_types:\n  tiny: { memory_mb: 128, vcpus: 1 }\nspecs:\n  - { type: tiny, count: 3 }\n');
    await writeFile(bad, 'specs:\n  - { type: small, count: -1 }\n');
    const nowhere = `127.0.0.1:${await closedPort()}`;
    const v = await cli(['validate', '-f', base, '-f', more], { coordinator: nowhere }).done;
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(v.stdout.trimEnd().split('\n'), [
      `spec ${base} + ${more} is valid: 3 nodes in 1 spec, 0 flavors`,
      'cluster merged (from name)',
    ]);
    const j = await cli(['-o', 'json', 'validate', '-f', base, '-f', more], { coordinator: nowhere }).done;
    assert.deepEqual((JSON.parse(j.stdout) as { files: string[] }).files, [base, more]);
    const e = await cli(['validate', '-f', base, '-f', bad], { coordinator: nowhere }).done;
    assert.equal(e.code, 2);
    assert.match(e.stderr, new RegExp(`specs\\[0\\]\\.count: must be 0 or more \\(from ${bad}\\)`));

    const p = await cli(['plan', '-f', base, '-f', more]).done;
    assert.equal(p.code, 0, p.stderr);
    const req = coord().called('plan').at(-1) as { specYaml: string; source: string; prune: boolean };
    assert.equal(req.source, `${base} + ${more}`);
    assert.equal(req.prune, false);
    const sent = parseClusterSpec(req.specYaml, req.source).spec;
    assert.deepEqual(Object.keys(sent.nodeTypes), ['tiny']);
    assert.equal(sent.specs[0]?.count, 3);

    const a = await cli(['apply', '-f', base, '-f', more]).done;
    assert.equal(a.code, 0, a.stderr);
    assert.equal((coord().called('apply').at(-1) as { source: string }).source, `${base} + ${more}`);
    assert.match(a.stdout, /^apply merged: succeeded/m);
  });

  it('plan says how an unnamed cluster is named, from state_file_path', async () => {
    const file = join(dir, 'upstream-compute.yml');
    await writeFile(
      file,
      [
        'node_types:',
        '  small: { memory_mb: 256, vcpus: 1 }',
        'specs:',
        '  - { type: small, count: 1 }',
        'state_file_path: >-',
        "  {{ '/'.join([(playbook_dir | dirname), 'state-compute.yml']) }}",
      ].join('\n') + '\n',
    );
    const p = await cli(['plan', '-f', file]).done;
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout.split('\n')[0], "cluster compute (from state_file_path 'state-compute.yml')");
    const j = await cli(['-o', 'json', 'plan', '-f', file]).done;
    assert.equal((JSON.parse(j.stdout) as { name_source: string }).name_source, "state_file_path 'state-compute.yml'");
    const v = await cli(['validate', '-f', file]).done;
    assert.match(v.stdout, /^cluster compute \(from state_file_path 'state-compute\.yml'\)$/m);
  });

  it('prune: plan warns without failing, apply is refused (exit 4) until --prune, which reaches the coordinator', async () => {
    const file = await specFile('prunes', 1);
    const p = await cli(['plan', '-f', file]).done;
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /^warning: apply would delete 2 of the 2 nodes of cluster 'prunes'.*without --prune$/m);
    const pj = await cli(['-o', 'json', 'plan', '-f', file]).done;
    assert.match((JSON.parse(pj.stdout) as { prune_required: string }).prune_required, /apply would delete 2 of the 2/);
    const pp = await cli(['plan', '-f', file, '--prune']).done;
    assert.equal(pp.code, 0, pp.stderr);
    assert.ok(!pp.stderr.includes('would delete'), pp.stderr);
    assert.equal((coord().called('plan').at(-1) as { prune: boolean }).prune, true);

    const refused = await cli(['apply', '-f', file]).done;
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /^error: apply would delete 2 of the 2 nodes of cluster 'prunes': tk0, tk1$/m);
    assert.match(refused.stderr, /^ {2}code: CONFLICT$/m);
    assert.match(refused.stderr, /^ {2}hint: run the apply again with --prune$/m);
    assert.equal((coord().called('apply').at(-1) as { prune: boolean }).prune, false);
    const pruned = await cli(['apply', '-f', file, '--prune']).done;
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal((coord().called('apply').at(-1) as { prune: boolean }).prune, true);
  });

  it('-f more than once is refused where one file is meant (export, agent ensure)', async () => {
    const f = await specFile('twice', 1);
    for (const args of [
      ['export', 'lab1', '--format', 'ironic', '-f', f, '-f', f],
      ['agent', 'ensure', '-f', f, '-f', f],
    ]) {
      const r = await cli(args).done;
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /-f\/--file is given 2 times; only validate, plan and apply take several files/);
    }
  });

  it('get nodes -o json hides BMC passwords unless --show-secrets asks the coordinator for them', async () => {
    const hidden = await cli(['-o', 'json', 'get', 'nodes', '--cluster', 'lab1']).done;
    assert.equal(hidden.code, 0, hidden.stderr);
    const nodes = JSON.parse(hidden.stdout) as { name: string; bmc: { ipmi: Record<string, unknown> } }[];
    assert.deepEqual(
      nodes.map((n) => n.name),
      ['tk0', 'tk1'],
    );
    assert.equal(nodes[0]?.bmc.ipmi.password, undefined);
    assert.ok(!hidden.stdout.includes('s3cret'));
    const req = coord().called('getNodes').at(-1) as { includeSecrets: boolean; cluster: string };
    assert.equal(req.includeSecrets, false);
    assert.equal(req.cluster, 'lab1');

    const shown = await cli(['-o', 'json', 'get', 'nodes', '--cluster', 'lab1', '--show-secrets']).done;
    assert.equal(shown.code, 0, shown.stderr);
    const withSecrets = JSON.parse(shown.stdout) as {
      bmc: { ipmi: { password?: string }; redfish: { password?: string } };
    }[];
    const first = withSecrets[0];
    assert.ok(first);
    assert.equal(first.bmc.ipmi.password, 's3cret-ipmi');
    assert.equal(first.bmc.redfish.password, 's3cret-rf');
    assert.equal((coord().called('getNodes').at(-1) as { includeSecrets: boolean }).includeSecrets, true);
  });

  it('get clusters shows the spec as the coordinator sends it: secrets only when --show-secrets asks for them', async () => {
    const hidden = await cli(['-o', 'yaml', 'get', 'clusters']).done;
    assert.equal(hidden.code, 0, hidden.stderr);
    assert.equal((coord().called('getClusters').at(-1) as { includeSecrets: boolean }).includeSecrets, false);
    assert.match(hidden.stdout, /ipmi_password: <redacted>/);
    assert.ok(!hidden.stdout.includes('s3cret'));
    const shown = await cli(['-o', 'json', 'get', 'clusters', '--show-secrets']).done;
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal((coord().called('getClusters').at(-1) as { includeSecrets: boolean }).includeSecrets, true);
    const [c] = JSON.parse(shown.stdout) as { name: string; spec_yaml: string }[];
    assert.equal(c?.spec_yaml, 'name: lab1\nipmi_password: s3cret-spec\n');
    const table = await cli(['get', 'clusters']).done;
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^lab1\s+2\s+hv1\s/m);
  });

  it('describe node shows endpoints with hidden credentials, and asks for --cluster when the name is ambiguous', async () => {
    const r = await cli(['describe', 'node', 'tk0']).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Hypervisor:\s+hv1$/m);
    assert.match(r.stdout, /IPMI:\s+192\.0\.2\.1:6230\s+username: admin\s+password: hidden \(use --show-secrets\)/);
    assert.match(r.stdout, /52:54:00:12:34:56\s+physnet physnet1\s+bridge tb-physnet1/);
    const dup = await cli(['describe', 'node', 'dup']).done;
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /several clusters \(a, b\).*--cluster/);
    const one = await cli(['describe', 'node', 'dup', '--cluster', 'b']).done;
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Cluster:\s+b$/m);
  });
});
