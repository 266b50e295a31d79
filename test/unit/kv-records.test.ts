/** Reading back what the coordinator keeps in JetStream KV, including records of earlier versions. */
import assert from 'node:assert/strict';
import { unreadableValue } from '../../coordinator/state/kv-mirror.js';
import {
  clusterRecordSchema,
  emptyClusterRecord,
  operationRecordSchema,
  placementRecordSchema,
} from '../../coordinator/state/records.js';

/** Why `value` is not a record of `schema`, as the mirror logs it for key `k`. */
function problem(schema: { safeParse: (v: unknown) => { success: boolean; error?: unknown } }, value: unknown): string {
  const r = schema.safeParse(value);
  assert.equal(r.success, false, 'refused');
  return unreadableValue('k', r.error as Parameters<typeof unreadableValue>[1]);
}

describe('KV records', function () {
  it('reads a cluster record as written, and fills what an earlier version left out', function () {
    const full = {
      ...emptyClusterRecord('lab'),
      specYaml: 'name: lab\n',
      source: 'lab.yaml',
      operationId: 'op-1',
      lastOperationState: 'succeeded',
      updatedMs: 5,
    };
    assert.deepEqual(clusterRecordSchema.parse(full), full);
    assert.deepEqual(clusterRecordSchema.parse({ version: 1, name: 'lab', specYaml: 'x' }), {
      ...emptyClusterRecord('lab'),
      specYaml: 'x',
    });
  });

  it('keeps the fields a later version added, so writing a record back does not drop them', function () {
    const later = { ...emptyClusterRecord('lab'), labels: { team: 'a' } };
    assert.deepEqual(clusterRecordSchema.parse(later), later);
  });

  it('reads a placement of an earlier version with zero sizes and no MACs yet', function () {
    assert.deepEqual(placementRecordSchema.parse({ version: 1, cluster: 'c', node: 'n', agent: 'a', uuid: 'u' }), {
      version: 1,
      cluster: 'c',
      node: 'n',
      agent: 'a',
      uuid: 'u',
      macs: [],
      ipmiPort: 0,
      nodeType: '',
      memoryMb: 0,
      vcpus: 0,
      diskBytes: 0,
      createdMs: 0,
    });
  });

  it('reads an operation from before leases and prune: no leaseMs, no prune', function () {
    const op = operationRecordSchema.parse({
      version: 1,
      id: 'op-1',
      cluster: 'c',
      kind: 'apply',
      state: 'running',
      results: [{ node: 'n', action: 'create', hypervisor: 'a', ok: false, code: 'CAPACITY', message: 'm' }],
    });
    assert.equal(op.leaseMs, undefined);
    assert.equal(op.prune, undefined);
    assert.equal(op.cancelRequested, false);
    assert.equal(op.errorCode, '');
    assert.deepEqual(op.warnings, []);
    assert.deepEqual(op.results[0]?.changes, []);
  });

  it('refuses what is not a record, naming the key and each field', function () {
    assert.equal(
      problem(placementRecordSchema, { version: 1, cluster: 'c', node: 'n', agent: 'a' }),
      "'k': uuid: Invalid input: expected string, received undefined",
    );
    assert.match(
      problem(operationRecordSchema, {
        version: 1,
        id: 'op-1',
        cluster: 'c',
        kind: 'apply',
        state: 'sleeping',
        results: [{ ok: 'yes' }],
      }),
      /^'k': state: Invalid option: expected one of .*; results\[0\]\.ok: Invalid input: expected boolean, received string$/,
    );
    assert.match(problem(clusterRecordSchema, { ...emptyClusterRecord('lab'), version: 2 }), /^'k': version: /);
    assert.match(problem(clusterRecordSchema, null), /^'k': \(root\): /);
  });
});
