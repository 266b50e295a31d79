/** SimpleStorage: the node's virtio disks, in one controller. */
import type { NodeStatus } from '../../../compute/index.js';
import { OK, systemUri, type Doc } from '../documents.js';
import type { RedfishRouter } from '../router.js';
import { memberCollection } from './member-collection.js';

function simpleStorageDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/SimpleStorage/virtio`,
    '@odata.type': '#SimpleStorage.v1_2_0.SimpleStorage',
    Id: 'virtio',
    Name: 'virtio controller',
    Devices: n.volumes.map((v) => ({ Name: v.name, CapacityBytes: v.capacityBytes, Status: OK })),
    Status: OK,
  };
}

/** Serves `Systems/<node>/SimpleStorage` and its one controller. */
export function registerSimpleStorage(router: RedfishRouter): void {
  const controllers = {
    path: 'SimpleStorage',
    type: 'SimpleStorageCollection',
    name: 'Simple Storage Collection',
    noun: 'storage',
  };
  router.nodeResource(
    'Systems',
    'SimpleStorage',
    memberCollection(controllers, (node) => ({ ids: ['virtio'], doc: () => simpleStorageDoc(node) })),
  );
}
