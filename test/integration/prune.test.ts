/**
 * The prune guard end to end: a real coordinator, nats-server and agent (libvirt's test:///default)
 * as child processes over mTLS, and the real tenksctl. An apply that would delete more than half of
 * a cluster's nodes is refused through the API and through tenksctl, changing nothing; plan says so
 * without failing; prune (--prune) lets it through.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TenksError } from '../../common/errors.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import {
  makePki,
  sleep,
  Stack,
  startAgent,
  startCoordinator,
  startNats,
  tenksctl,
  waitForAgents,
  type Coordinator,
} from '../../bench/lib-stack.js';
import { rejectsWith } from './helpers.js';

describe('prune: an apply that would delete most of a cluster (real coordinator, agent, NATS, tenksctl)', function () {
  this.timeout(300_000);
  const tag = Math.random().toString(36).slice(2, 8);
  const cluster = `pr-${tag}`;
  const prefix = `pr${tag}-`;
  let stack: Stack;
  let coord: Coordinator;
  let env: Record<string, string> = {};

  const spec = (count: number): string =>
    stringify({
      name: cluster,
      node_types: { small: { memory_mb: 64, vcpus: 1, volumes: [{ capacity: '16MiB' }] } },
      specs: [{ type: 'small', count, node_name_prefix: prefix }],
      default_boot_mode: 'bios',
    });
  const names = (n: number): string[] => Array.from({ length: n }, (_x, i) => `${prefix}${i}`);
  const nodes = async (): Promise<string[]> => (await coord.api.getNodes(cluster)).map((n) => n.name).sort();

  async function finish(op: Operation): Promise<Operation> {
    const end = Date.now() + 120_000;
    for (;;) {
      const o = await coord.api.getOperation(op.id);
      if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end`);
      await sleep(100);
    }
  }
  async function specFile(count: number): Promise<string> {
    const file = join(stack.dir, `spec-${count}.yaml`);
    await writeFile(file, spec(count));
    return file;
  }

  before(async function () {
    stack = await Stack.create('tenks-prune-');
    const nats = await startNats(stack);
    const pki = await makePki(stack);
    coord = await startCoordinator(stack, nats, pki, { extra: { coordinator_id: `c-${tag}` } });
    const agent = await startAgent(stack, nats, pki, {
      id: `ag-${tag}`,
      libvirtUri: 'test:///default',
      poolName: `tenks-pr-${tag}`,
      ipmi: { start: 0, end: 0 },
      extra: { heartbeat_interval_s: 0.5 },
    });
    await waitForAgents(coord, [agent], [`ag-${tag}`]);
    const files = pki.files('client');
    const config = join(stack.dir, 'tenksctl.yaml');
    await writeFile(config, '');
    env = {
      TENKS_CONFIG: config,
      TENKS_COORDINATOR: coord.address,
      TENKS_CA: files.ca_file,
      TENKS_CERT: files.cert_file,
      TENKS_KEY: files.key_file,
      TENKS_NATS: nats.url,
    };
    const op = await finish(await coord.api.apply(spec(3), 'spec.yaml'));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results));
  });

  after(async function () {
    await stack.close();
  });

  it('through the API: plan warns, apply is refused with CONFLICT naming the nodes, nothing changes', async function () {
    const fine = await coord.api.plan(spec(2), 'spec.yaml');
    assert.equal(fine.pruneRequired, '', 'one of three is not most of the cluster');
    assert.equal(fine.nameSource, 'name');
    const p = await coord.api.plan(spec(1), 'spec.yaml');
    assert.equal(
      p.pruneRequired,
      `apply would delete 2 of the 3 nodes of cluster '${cluster}': ${prefix}1, ${prefix}2; apply refuses this without --prune (tenksctl delete ${cluster} removes a whole cluster)`,
    );
    assert.equal((await coord.api.plan(spec(1), 'spec.yaml', { prune: true })).pruneRequired, '');

    const [before] = (await coord.api.getClusters(true)).filter((c) => c.name === cluster);
    const err: TenksError = await rejectsWith(coord.api.apply(spec(1), 'spec.yaml'), 'CONFLICT');
    assert.match(
      err.message,
      new RegExp(
        `^apply would delete 2 of the 3 nodes of cluster '${cluster}': ${prefix}1, ${prefix}2; refused without --prune$`,
      ),
    );
    assert.match(err.hint ?? '', /--prune/);
    assert.match(err.hint ?? '', new RegExp(`tenksctl delete ${cluster}`));
    const [after] = (await coord.api.getClusters(true)).filter((c) => c.name === cluster);
    assert.deepEqual(after, before, 'the cluster record is as it was: same spec, same last operation');
    assert.deepEqual(await nodes(), names(3));
  });

  it('through tenksctl: plan exits 0 with the warning, apply exits 4 until --prune', async function () {
    const file = await specFile(1);
    const plan = await tenksctl(['plan', '-f', file], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stderr, new RegExp(`^warning: apply would delete 2 of the 3 nodes of cluster '${cluster}'`, 'm'));
    assert.match(plan.stdout, new RegExp(`^cluster ${cluster} \\(from name\\)$`, 'm'));

    const refused = await tenksctl(['apply', '-f', file], env);
    assert.equal(refused.code, 4, `${refused.stdout}\n${refused.stderr}`);
    assert.match(
      refused.stderr,
      new RegExp(`^error: apply would delete 2 of the 3 nodes of cluster '${cluster}'`, 'm'),
    );
    assert.match(refused.stderr, /^ {2}code: CONFLICT$/m);
    assert.match(refused.stderr, /^ {2}hint: .*--prune/m);
    assert.deepEqual(await nodes(), names(3));

    const pruned = await tenksctl(['apply', '-f', file, '--prune'], env);
    assert.equal(pruned.code, 0, `${pruned.stdout}\n${pruned.stderr}`);
    assert.deepEqual(await nodes(), names(1));
  });

  it('the last node too needs prune; with it the cluster can be emptied', async function () {
    await rejectsWith(coord.api.apply(spec(0), 'spec.yaml'), 'CONFLICT');
    assert.deepEqual(await nodes(), names(1));
    const op = await finish(await coord.api.apply(spec(0), 'spec.yaml', { prune: true }));
    assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(op.results));
    assert.deepEqual(await nodes(), []);
    // Growing back needs nothing.
    const again = await finish(await coord.api.apply(spec(2), 'spec.yaml'));
    assert.equal(again.state, OperationState.OPERATION_STATE_SUCCEEDED, JSON.stringify(again.results));
    assert.deepEqual(await nodes(), names(2));
  });
});
