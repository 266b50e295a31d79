/** EthernetInterfaces: the node's NICs, by MAC (member id = MAC, as sushy-tools). */
import type { NodeStatus } from '../../../compute/index.js';
import { OK, systemUri, type Doc } from '../documents.js';
import type { RedfishRouter } from '../router.js';
import { memberCollection } from './member-collection.js';

function nicIds(n: NodeStatus): string[] {
  return n.nics.map((x, i) => (x.mac !== '' ? x.mac : `nic${i}`));
}

function nicDoc(n: NodeStatus, index: number): Doc {
  const nic = n.nics[index];
  const id = nicIds(n)[index] ?? `nic${index}`;
  return {
    '@odata.id': `${systemUri(n.uuid)}/EthernetInterfaces/${id}`,
    '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
    Id: id,
    Name: `NIC ${index} (${nic?.physnet ?? ''})`,
    MACAddress: nic?.mac ?? '',
    PermanentMACAddress: nic?.mac ?? '',
    InterfaceEnabled: true,
    Status: OK,
  };
}

/** Serves `Systems/<node>/EthernetInterfaces` and its members (MACs match in any case). */
export function registerEthernetInterfaces(router: RedfishRouter): void {
  const nics = {
    path: 'EthernetInterfaces',
    type: 'EthernetInterfaceCollection',
    name: 'Ethernet Interfaces',
    noun: 'interface',
  };
  router.nodeResource(
    'Systems',
    'EthernetInterfaces',
    memberCollection(nics, (node) => {
      const ids = nicIds(node);
      const indexOf = (id: string): number => ids.findIndex((x) => x.toLowerCase() === id.toLowerCase());
      return { ids, indexOf, doc: (i) => nicDoc(node, i) };
    }),
  );
}
