/**
 * Secrets of cluster specs through a real coordinator (in this process, plaintext gRPC on
 * 127.0.0.1:0), a real nats-server (-p -1) and a real agent on libvirt's test driver: the KV buckets
 * hold no password, GetClusters redacts unless asked, the agent still gets the real passwords, a
 * coordinator holding the same key deletes what another sealed, and one holding another key says so.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, CoordinatorWire, nullLogger } from '../../common/index.js';
import { compileCoordinatorConfig } from '../../coordinator/config.js';
import { CoordinatorDaemon } from '../../coordinator/daemon.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { startNats, type TestNats } from './helpers-nats.js';
import { cleanupLibvirt, openLibvirt, rejectsWith, suffix, TEST_URI } from './helpers.js';

const IPMI_PASSWORD = 'ipmi-Pw-7c1e';
const REDFISH_PASSWORD = 'redfish-Pw-93ab';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('coordinator: spec secrets sealed in NATS KV, redacted unless asked (real NATS, coordinator and agent)', function () {
  this.timeout(60_000);
  const run = suffix();
  const cluster = `sec-${run}`;
  const pool = `tenks-it-sec-${run}`;
  const spec = `# secrets test
name: ${cluster}
ipmi_username: admin
ipmi_password: ${IPMI_PASSWORD}   # every BMC
redfish_password: "${REDFISH_PASSWORD}"
node_types:
  t0: { memory_mb: 128, vcpus: 1, volumes: [{ capacity: 16MiB }] }
specs:
  - { type: t0, count: 1, node_name_prefix: sec${run}- }
`;
  let dir = '';
  let nats: TestNats | undefined;
  let nc: NatsConnection | undefined;
  let agent: TestAgent | undefined;
  const daemons: CoordinatorDaemon[] = [];
  const apis: CoordinatorWire[] = [];

  async function startCoordinator(id: string, keyFile: string): Promise<CoordinatorWire> {
    assert.ok(nats);
    const config = compileCoordinatorConfig({
      coordinator_id: id,
      listen: '127.0.0.1:0',
      insecure_loopback: true,
      nats: { servers: nats.url },
      secrets_key_file: keyFile,
      agent_timeout_s: 5,
      call_timeout_s: 20,
      shutdown_grace_s: 1,
    });
    const d = await CoordinatorDaemon.start(config, nullLogger);
    daemons.push(d);
    const api = new CoordinatorWire(`127.0.0.1:${d.port}`, credentials.createInsecure(), {}, 20_000);
    apis.push(api);
    return api;
  }

  async function finished(api: CoordinatorWire, op: Operation): Promise<Operation> {
    const end = Date.now() + 40_000;
    for (;;) {
      const o = await api.getOperation(op.id);
      if (
        o.state === OperationState.OPERATION_STATE_SUCCEEDED ||
        o.state === OperationState.OPERATION_STATE_FAILED ||
        o.state === OperationState.OPERATION_STATE_CANCELLED
      )
        return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} still ${o.state}`);
      await sleep(200);
    }
  }

  /** Every value every key of a bucket ever had (history included), as text. */
  async function bucketText(kv: KV): Promise<string> {
    const out: string[] = [];
    for await (const key of await kv.keys()) {
      for await (const e of await kv.history({ key })) out.push(e.string());
    }
    return out.join('\n');
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-it-secrets-'));
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    agent = await startTestAgent({
      agent_id: `hv-${run}`,
      libvirt_uri: TEST_URI,
      storage: { pool_name: pool },
      nats: { servers: nats.url },
      heartbeat_interval_s: 0.5,
    });
  });

  after(async function () {
    for (const a of apis) a.raw.close();
    for (const d of daemons) await d.stop(1000);
    await agent?.stop();
    const conn = await openLibvirt();
    await cleanupLibvirt(conn, { domainPart: run, pool });
    await conn.close();
    await nc?.close();
    await nats?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('stores no password, redacts unless asked, and still gives the agents the real ones', async function () {
    assert.ok(nc);
    const keyA = join(dir, 'a', 'coordinator-secrets.key');
    const api = await startCoordinator(`ca-${run}`, keyA);
    const until = Date.now() + 20_000;
    while (!(await api.getAgents()).some((a) => a.id === `hv-${run}` && a.alive)) {
      if (Date.now() > until) assert.fail('the agent never showed up');
      await sleep(200);
    }
    const op = await finished(api, await api.apply(spec, 'secrets.yaml'));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results));

    // What anyone reading the buckets sees.
    const kvm = new Kvm(nc);
    const clusters = await kvm.open(BUCKETS.clusters);
    const operations = await kvm.open(BUCKETS.operations);
    const stored = (await bucketText(clusters)) + (await bucketText(operations));
    assert.ok(stored.includes(cluster), 'the records were read');
    assert.ok(!stored.includes(IPMI_PASSWORD), 'no IPMI password in NATS KV');
    assert.ok(!stored.includes(REDFISH_PASSWORD), 'no Redfish password in NATS KV');
    assert.match(stored, /ipmi_password: \\"sealed:v1:[A-Za-z0-9+/=]+\\"/);

    const plain = (await api.getClusters()).find((c) => c.name === cluster);
    assert.ok(plain);
    assert.ok(!plain.specYaml.includes(IPMI_PASSWORD) && !plain.specYaml.includes(REDFISH_PASSWORD));
    assert.equal(
      plain.specYaml,
      spec.replace(IPMI_PASSWORD, '<redacted>').replace(`"${REDFISH_PASSWORD}"`, '<redacted>'),
      'only the secrets change',
    );
    const full = (await api.getClusters(true)).find((c) => c.name === cluster);
    assert.equal(full?.specYaml, spec, 'with include_secrets: the spec as applied, byte for byte');

    const [node] = await api.getNodes(cluster, '', true);
    assert.equal(node?.bmc?.ipmi?.password, IPMI_PASSWORD, 'the agent got the real password');
  });

  it('loads clusters stored before sealing (plain specs)', async function () {
    assert.ok(nc);
    const api = apis[0];
    assert.ok(api);
    const legacy = `old-${run}`;
    const text = `name: ${legacy}\nipmi_password: plain-Old-Pw\n`;
    const kv = await new Kvm(nc).open(BUCKETS.clusters);
    await kv.put(
      legacy,
      JSON.stringify({
        version: 1,
        name: legacy,
        specYaml: text,
        source: 'old.yaml',
        operationId: null,
        lastOperationId: null,
        lastOperationState: 'succeeded',
        updatedMs: Date.now(),
      }),
    );
    const until = Date.now() + 10_000;
    let seen = (await api.getClusters()).find((c) => c.name === legacy);
    while (!seen && Date.now() < until) {
      await sleep(100);
      seen = (await api.getClusters()).find((c) => c.name === legacy);
    }
    assert.equal(seen?.specYaml, `name: ${legacy}\nipmi_password: <redacted>\n`);
    assert.equal((await api.getClusters(true)).find((c) => c.name === legacy)?.specYaml, text);
    await kv.delete(legacy);
  });

  it('a coordinator with another key refuses to open them, naming its key file', async function () {
    const keyB = join(dir, 'b', 'other.key');
    const api = await startCoordinator(`cb-${run}`, keyB);
    const err = await rejectsWith(api.getClusters(true), 'PERMISSION');
    assert.ok(err.message.includes(keyB), err.message);
    assert.ok(!err.message.includes(IPMI_PASSWORD));
    const redacted = (await api.getClusters()).find((c) => c.name === cluster);
    assert.ok(redacted?.specYaml.includes('<redacted>'), 'redacting needs no key');
    // Errors thrown before a handler's promise exists keep their code too.
    await rejectsWith(api.getOperation(`op-nope-${run}`), 'NOT_FOUND');
  });

  it('a coordinator with a copy of the key deletes what another one sealed', async function () {
    const keyC = join(dir, 'c', 'copy.key');
    await mkdir(join(dir, 'c'));
    await copyFile(join(dir, 'a', 'coordinator-secrets.key'), keyC);
    const api = await startCoordinator(`cc-${run}`, keyC);
    assert.equal((await api.getClusters(true)).find((c) => c.name === cluster)?.specYaml, spec);
    const op = await finished(api, await api.deleteCluster(cluster));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, `${op.errorCode} ${op.errorMessage}`);
    assert.ok(!(await api.getClusters()).some((c) => c.name === cluster));
  });
});
