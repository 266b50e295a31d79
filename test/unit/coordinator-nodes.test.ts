/** Coordinator.nodes (GetNodes): what live agents report, placements for those that do not answer. */
import assert from 'node:assert/strict';
import { TenksError, nullLogger, type NodeStatus } from '../../common/index.js';
import type { AgentPort } from '../../coordinator/agents/port.js';
import { Coordinator, type CoordinatorParts } from '../../coordinator/coordinator.js';
import type { PlacementRecord } from '../../coordinator/state/records.js';

function reported(agent: string, cluster: string, name: string): NodeStatus {
  return {
    cluster,
    name,
    uuid: `${name}-uuid`,
    nodeType: 'small',
    hypervisor: `${agent}.example`,
    powerState: 'on',
    memoryMb: 512,
    vcpus: 1,
    bootMode: 'uefi',
    machine: 'q35',
    volumes: [],
    nics: [{ physnet: 'physnet1', mac: '52:54:00:00:00:01', bridge: 'brtk', bridgeMac: 'aa', switchPort: 'tp' }],
    bmc: { ipmi: null, redfish: null },
    specHash: 'h',
    consoleLogPath: '',
    engine: 'kvm',
    bootDevice: 'network',
    labels: {},
    arch: 'x86_64',
  };
}

function placement(agent: string, cluster: string, node: string): PlacementRecord {
  return {
    version: 1,
    cluster,
    node,
    agent,
    uuid: `${node}-uuid`,
    macs: ['52:54:00:00:00:09'],
    ipmiPort: 0,
    nodeType: 'small',
    memoryMb: 256,
    vcpus: 2,
    diskBytes: 0,
    createdMs: 0,
  };
}

/** A coordinator over agents `hv1` (answers), `hv2` (alive, fails) and `hv3` (dead: not asked). */
function coordinator(asked: string[]): Coordinator {
  const nodes: Record<string, NodeStatus[]> = {
    hv1: [reported('hv1', 'lab', 'tk1'), reported('hv1', 'lab', 'tk0'), reported('hv1', '', 'stray')],
  };
  const port: Pick<AgentPort, 'nodeStatuses'> = {
    nodeStatuses: (agent, cluster) => {
      asked.push(`${agent} ${cluster}`);
      const list = nodes[agent];
      if (!list) return Promise.reject(new TenksError('UNAVAILABLE', `${agent} is down`));
      return Promise.resolve(list.filter((n) => cluster === '' || n.cluster === cluster || n.cluster === ''));
    },
  };
  const parts = {
    registry: { list: () => ['hv1', 'hv2', 'hv3'].map((id) => ({ id, alive: id !== 'hv3' })) },
    port,
    store: {
      allPlacements: () => [
        placement('hv1', 'lab', 'tk0'),
        placement('hv2', 'lab', 'tk2'),
        placement('hv3', 'other', 'ot0'),
      ],
    },
    log: nullLogger,
  } as unknown as CoordinatorParts;
  return new Coordinator(parts);
}

describe('Coordinator.nodes (GetNodes)', function () {
  it('reports what answering agents say, on their agent id, and placements for the rest, sorted', async function () {
    const asked: string[] = [];
    const nodes = await coordinator(asked).nodes({ cluster: '', name: '', includeSecrets: false });
    assert.deepEqual(asked.sort(), ['hv1 ', 'hv2 '], 'only live agents are asked');
    assert.deepEqual(
      nodes.map((n) => `${n.cluster}/${n.name}@${n.hypervisor}`),
      ['lab/tk0@hv1', 'lab/tk1@hv1', 'lab/tk2@hv2', 'other/ot0@hv3'],
      'nodes of no cluster are left out; a placement of an agent that answered is not repeated',
    );
    const placed = nodes.find((n) => n.name === 'tk2');
    // What a placement cannot say is unknown or empty; what it keeps is there.
    assert.deepEqual(placed, {
      arch: '',
      bmc: null,
      bootDevice: 'unknown',
      bootMode: 'unknown',
      cluster: 'lab',
      consoleLogPath: '',
      engine: '',
      hypervisor: 'hv2',
      labels: {},
      machine: '',
      memoryMb: 256,
      name: 'tk2',
      nics: [{ physnet: '', mac: '52:54:00:00:00:09', bridge: '', bridgeMac: '', switchPort: '' }],
      nodeType: 'small',
      powerState: 'unknown',
      specHash: '',
      uuid: 'tk2-uuid',
      vcpus: 2,
      volumes: [],
    });
  });

  it('filters by cluster and name, and a name nothing has is NOT_FOUND', async function () {
    const c = coordinator([]);
    const lab = await c.nodes({ cluster: 'lab', name: '', includeSecrets: false });
    assert.deepEqual(
      lab.map((n) => n.name),
      ['tk0', 'tk1', 'tk2'],
    );
    const one = await c.nodes({ cluster: '', name: 'ot0', includeSecrets: false });
    assert.deepEqual(
      one.map((n) => n.name),
      ['ot0'],
    );
    await assert.rejects(c.nodes({ cluster: 'lab', name: 'nope', includeSecrets: false }), {
      code: 'NOT_FOUND',
      message: "no node 'nope' in cluster 'lab'",
    });
  });
});
