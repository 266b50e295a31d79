import type { DesiredNode } from '../../common/spec/index.js';
import type { NodeDemand } from './types.js';

/**
 * What a desired node needs from a host. Disk is the sum of its volume capacities, except
 * `existing` volumes, which are not taken from the pool.
 */
export function nodeDemand(n: DesiredNode): NodeDemand {
  let diskBytes = 0;
  for (const v of n.volumes) if (v.source.kind !== 'existing') diskBytes += v.capacityBytes ?? 0;
  return {
    name: n.name,
    nodeType: n.nodeType,
    memoryMb: n.memoryMb,
    vcpus: n.vcpus,
    diskBytes,
    physnets: [...new Set(n.physnets)],
    needsIpmiPort: n.driver === 'ipmi',
    arch: n.arch,
    uefi: n.bootMode === 'uefi',
  };
}
