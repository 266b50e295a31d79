/** Storage: one controller, with a drive and a raw volume per disk of the node. */
import type { NodeStatus } from '../../../compute/index.js';
import { collection, OK, systemUri, type Doc } from '../documents.js';
import { allow, missing, ok } from '../reply.js';
import type { RedfishRouter } from '../router.js';

type Volume = NodeStatus['volumes'][number];

function storageDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/Storage/1`;
  return {
    '@odata.id': base,
    '@odata.type': '#Storage.v1_7_0.Storage',
    Id: '1',
    Name: 'Local storage',
    Status: OK,
    Drives: n.volumes.map((v) => ({ '@odata.id': `${base}/Drives/${encodeURIComponent(v.name)}` })),
    'Drives@odata.count': n.volumes.length,
    Volumes: { '@odata.id': `${base}/Volumes` },
    StorageControllers: [
      {
        '@odata.id': `${base}#/StorageControllers/0`,
        MemberId: '0',
        Name: 'virtio-blk',
        SupportedControllerProtocols: ['PCIe'],
        SupportedDeviceProtocols: ['PCIe'],
        Status: OK,
      },
    ],
  };
}

/** What a disk's Drive and Volume documents start with. */
function diskDoc(n: NodeStatus, volume: Volume, kind: 'Drive' | 'Volume', version: string): Doc {
  return {
    '@odata.id': `${systemUri(n.uuid)}/Storage/1/${kind}s/${encodeURIComponent(volume.name)}`,
    '@odata.type': `#${kind}.${version}.${kind}`,
    Id: volume.name,
    Name: volume.name,
    CapacityBytes: volume.capacityBytes,
  };
}

function driveDoc(n: NodeStatus, volume: Volume): Doc {
  return { ...diskDoc(n, volume, 'Drive', 'v1_4_0'), MediaType: 'HDD', Protocol: 'PCIe', Status: OK };
}

function volumeDoc(n: NodeStatus, volume: Volume): Doc {
  return { ...diskDoc(n, volume, 'Volume', 'v1_0_3'), VolumeType: 'RawDevice', Status: OK };
}

/** Serves `Systems/<node>/Storage`, its controller `1`, and the controller's Drives and Volumes. */
export function registerStorage(router: RedfishRouter): void {
  router.nodeResource('Systems', 'Storage', (req, { node: n }, rest) => {
    allow('GET,HEAD', req.method);
    const [id, kind, item] = rest;
    const base = `${systemUri(n.uuid)}/Storage`;
    if (id === undefined) return ok(collection(base, 'StorageCollection', 'Storage Collection', [`${base}/1`]));
    if (id !== '1') throw missing(`storage ${id}`);
    if (kind === undefined) return ok(storageDoc(n));
    if (kind === 'Drives' && item !== undefined) {
      const vol = n.volumes.find((x) => x.name === item);
      if (!vol) throw missing(`drive ${item}`);
      return ok(driveDoc(n, vol));
    }
    if (kind === 'Volumes') {
      if (item === undefined)
        return ok(
          collection(
            `${base}/1/Volumes`,
            'VolumeCollection',
            'Volumes',
            n.volumes.map((x) => `${base}/1/Volumes/${encodeURIComponent(x.name)}`),
          ),
        );
      const vol = n.volumes.find((x) => x.name === item);
      if (!vol) throw missing(`volume ${item}`);
      return ok(volumeDoc(n, vol));
    }
    throw missing(`resource ${base}/1/${kind}`);
  });
}
