import assert from 'node:assert/strict';
import { planJson, planSummaryLine, renderPlan, summarizePlan } from '../../cli/plan-render.js';
import { useColor } from '../../cli/style.js';
import { Plan, PlanAction } from '../../proto/gen/tenks/v1/coordinator.pb.js';

const ESC = String.fromCharCode(27);

function plan(): Plan {
  return Plan.fromPartial({
    cluster: 'lab1',
    unchanged: 5,
    warnings: ['specs[0].count: 0 nodes'],
    actions: [
      PlanAction.fromPartial({ kind: 'setup_host', hypervisor: 'hv1', changes: ['physnet1 -> eth1'] }),
      PlanAction.fromPartial({ kind: 'create', node: 'tk2', hypervisor: 'hv1', nodeType: 'type0' }),
      PlanAction.fromPartial({ kind: 'create', node: 'tk4', hypervisor: 'hv2', nodeType: 'type0' }),
      PlanAction.fromPartial({
        kind: 'update',
        node: 'tk0',
        hypervisor: 'hv1',
        nodeType: 'type0',
        changes: ['memory_mb: 1024 -> 2048'],
      }),
      PlanAction.fromPartial({
        kind: 'replace',
        node: 'tk1',
        hypervisor: 'hv1',
        nodeType: 'type0',
        changes: ['boot_mode: bios -> uefi', 'machine: pc -> q35'],
      }),
      PlanAction.fromPartial({ kind: 'delete', node: 'tk3', hypervisor: 'hv2', nodeType: 'type0' }),
      PlanAction.fromPartial({ kind: 'flavor', node: '', hypervisor: '', changes: ['baremetal: create'] }),
    ],
  });
}

describe('tenksctl plan rendering', () => {
  it('prints each action like a diff, then the summary', () => {
    assert.deepEqual(renderPlan(plan(), { color: false }), [
      '  setup_host hv1: physnet1 -> eth1',
      '+ create tk2 on hv1 (type0)',
      '+ create tk4 on hv2 (type0)',
      '~ update tk0 on hv1: memory_mb: 1024 -> 2048',
      '-/+ replace tk1 on hv1 (type0)',
      '      boot_mode: bios -> uefi',
      '      machine: pc -> q35',
      '- delete tk3 on hv2',
      '  flavor: baremetal: create',
      '',
      '2 to create, 1 to update, 1 to replace, 1 to delete, 5 unchanged, 2 other actions',
    ]);
  });

  it('has no escape codes without colour, and colours by kind with it', () => {
    const plain = renderPlan(plan(), { color: false }).join('\n');
    assert.ok(!plain.includes(ESC));
    const coloured = renderPlan(plan(), { color: true });
    assert.equal(coloured[1], `${ESC}[32m+ create tk2 on hv1 (type0)${ESC}[39m`);
    assert.ok(coloured[7]?.startsWith(`${ESC}[31m- delete`));
  });

  it('says so when nothing changes', () => {
    const p = Plan.fromPartial({ cluster: 'lab1', unchanged: 3, actions: [] });
    assert.deepEqual(renderPlan(p, { color: false }), ['no changes: cluster lab1 matches its spec (3 unchanged)']);
  });

  it('counts actions by kind', () => {
    const s = summarizePlan(plan());
    assert.deepEqual(s, { create: 2, update: 1, replace: 1, delete: 1, unchanged: 5, other: 2 });
    assert.equal(
      planSummaryLine({ ...s, other: 0 }),
      '2 to create, 1 to update, 1 to replace, 1 to delete, 5 unchanged',
    );
  });

  it('gives the plan as snake_case data', () => {
    const j = planJson(plan());
    assert.equal(j.cluster, 'lab1');
    assert.deepEqual((j.actions as unknown[])[1], {
      kind: 'create',
      node: 'tk2',
      hypervisor: 'hv1',
      node_type: 'type0',
      changes: [],
    });
    assert.deepEqual(j.warnings, ['specs[0].count: 0 nodes']);
    assert.deepEqual(j.summary, { create: 2, update: 1, replace: 1, delete: 1, unchanged: 5, other: 2 });
  });

  it('uses colour only on a terminal, and never with NO_COLOR or TERM=dumb', () => {
    assert.equal(useColor({ isTTY: true }, {}), true);
    assert.equal(useColor({ isTTY: false }, {}), false);
    assert.equal(useColor({}, {}), false);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset (no-color.org)');
    assert.equal(useColor({ isTTY: true }, { TERM: 'dumb' }), false);
  });
});
