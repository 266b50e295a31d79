/** Processors: one single-core, single-thread processor per vCPU of the node. */
import type { Arch, NodeStatus } from '../../../compute/index.js';
import { OK, systemUri, type Doc } from '../documents.js';
import type { RedfishRouter } from '../router.js';
import { memberCollection } from './member-collection.js';

/** Redfish's `ProcessorArchitecture` and `InstructionSet` of a node's CPUs. */
const PROCESSOR: Record<Arch, { architecture: string; instructionSet: string }> = {
  x86_64: { architecture: 'x86', instructionSet: 'x86-64' },
  aarch64: { architecture: 'ARM', instructionSet: 'ARM-A64' },
};

/** The CPU model reported for a node: what runs it. */
export function cpuModel(n: NodeStatus): string {
  return n.engine === 'kvm' ? 'host CPU (KVM)' : 'QEMU TCG CPU';
}

function processorIds(n: NodeStatus): string[] {
  return Array.from({ length: n.vcpus }, (_v, i) => `CPU${i}`);
}

function processorDoc(n: NodeStatus, id: string): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/Processors/${id}`,
    '@odata.type': '#Processor.v1_0_0.Processor',
    Id: id,
    Name: 'Processor',
    Socket: id,
    ProcessorType: 'CPU',
    ProcessorArchitecture: PROCESSOR[n.arch].architecture,
    InstructionSet: PROCESSOR[n.arch].instructionSet,
    Manufacturer: 'QEMU',
    Model: cpuModel(n),
    TotalCores: 1,
    TotalThreads: 1,
    Status: OK,
  };
}

/** Serves `Systems/<node>/Processors` and its members. */
export function registerProcessors(router: RedfishRouter): void {
  const processors = { path: 'Processors', type: 'ProcessorCollection', name: 'Processors', noun: 'processor' };
  router.nodeResource(
    'Systems',
    'Processors',
    memberCollection(processors, (node) => {
      const ids = processorIds(node);
      return { ids, doc: (i) => processorDoc(node, ids[i] ?? '') };
    }),
  );
}
