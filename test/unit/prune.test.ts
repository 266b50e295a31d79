/** The prune guard (coordinator/planner/prune.ts): when an apply deletes too much of a cluster. */
import assert from 'node:assert/strict';
import {
  planPruneRefusal,
  pruneError,
  pruneMessage,
  prunePlanWarning,
  pruneRefusal,
  type Plan,
} from '../../coordinator/planner/index.js';

const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_x, i) => `${prefix}${i}`);

describe('prune guard', () => {
  it('refuses deleting more than half of the nodes a cluster has, and at least one', () => {
    const refusal = pruneRefusal('tenks', ['controller0', 'compute0'], ['controller0', 'compute0'], new Set(['bm0']));
    assert.deepEqual(refusal, { cluster: 'tenks', deleted: ['compute0', 'controller0'], total: 2 });
    assert.notEqual(pruneRefusal('c', names('tk', 3), ['tk1', 'tk2'], new Set(['tk0'])), null);
    assert.notEqual(pruneRefusal('c', ['tk0'], ['tk0'], new Set()), null);
  });

  it('lets half or less go, and anything from a cluster that has no nodes', () => {
    assert.equal(pruneRefusal('c', names('tk', 2), ['tk1'], new Set(['tk0'])), null);
    assert.equal(pruneRefusal('c', names('tk', 4), ['tk2', 'tk3'], new Set(['tk0', 'tk1'])), null);
    assert.equal(pruneRefusal('c', [], [], new Set(['tk0'])), null);
    assert.equal(pruneRefusal('c', names('tk', 4), [], new Set()), null);
  });

  it('a replaced node (deleted and created again under its name) is not deleted', () => {
    // Every node is deleted and created again: nothing is lost.
    assert.equal(pruneRefusal('c', names('tk', 2), names('tk', 2), new Set(names('tk', 2))), null);
    // Two copies of tk0 count once; the one deleted copy is a replacement.
    assert.equal(pruneRefusal('c', ['tk0', 'tk0', 'tk1'], ['tk0'], new Set(['tk0', 'tk1'])), null);
  });

  it('names the cluster, how many of how many, the first 20 nodes in natural order and how many more', () => {
    const all = names('n', 25);
    const refusal = pruneRefusal('big', all, [...all].reverse(), new Set());
    assert.ok(refusal);
    assert.equal(
      pruneMessage(refusal),
      `apply would delete 25 of the 25 nodes of cluster 'big': ${names('n', 20).join(', ')} and 5 more`,
    );
    const err = pruneError(refusal);
    assert.equal(err.code, 'CONFLICT');
    assert.match(err.message, /refused without --prune$/);
    assert.match(err.hint ?? '', /--prune/);
    assert.match(err.hint ?? '', /tenksctl delete big/);
    assert.match(prunePlanWarning(refusal), /apply refuses this without --prune \(tenksctl delete big removes/);
  });

  it('of a plan: the nodes are what placements and agents name, the deletions those of nodes the spec drops', () => {
    const plan: Plan = {
      cluster: 'c',
      unchanged: 0,
      warnings: [],
      actions: [
        { kind: 'delete', agent: 'a', name: 'tk1', uuid: 'u1', changes: ['node deleted'] },
        { kind: 'delete', agent: 'a', name: 'tk2', uuid: 'u2', changes: ['node deleted'] },
        // A second copy of a node the spec keeps.
        { kind: 'delete', agent: 'b', name: 'tk0', uuid: 'u0', changes: ['node deleted'] },
      ],
    };
    // tk2 is known only from the agents (its placement was lost): still a node of the cluster.
    assert.deepEqual(planPruneRefusal(plan, ['tk0', 'tk1'], ['tk0', 'tk2'], new Set(['tk0'])), {
      cluster: 'c',
      deleted: ['tk1', 'tk2'],
      total: 3,
    });
    assert.equal(planPruneRefusal(plan, ['tk0', 'tk1', 'tk3', 'tk4'], [], new Set(['tk0', 'tk3', 'tk4'])), null);
  });
});
