import type { CallOptions } from './hypervisor.js';
import type { Storage } from './storage.js';
import type { NodeSpec, VolumeInfo } from './types.js';

/** libvirt volume name of a node's volume. */
export function volumeName(node: string, volume: string): string {
  return `${node}-${volume}`;
}

/** Pool volume name of a node's virtual CD. */
export function mediaVolumeName(node: string): string {
  return `${node}-vmedia-cd`;
}

/** The pool volumes a spec has tenks create (and delete with the node): all but `existing` ones. */
export function ownedVolumeNames(spec: NodeSpec): string[] {
  return spec.volumes.filter((v) => v.source.kind !== 'existing').map((v) => volumeName(spec.name, v.name));
}

/** The pool volume a volume of `spec` is (null for an `existing` file or device, which is no pool volume). */
export function poolVolumeOf(spec: NodeSpec, volume: NodeSpec['volumes'][number]): string | null {
  if (volume.source.kind !== 'existing') return volumeName(spec.name, volume.name);
  return volume.source.ref.startsWith('/') ? null : volume.source.ref;
}

/** Pool volumes of a spec (owned and `existing` pool volumes), in volume order, null when missing. */
export async function specVolumes(storage: Storage, spec: NodeSpec, o?: CallOptions): Promise<(VolumeInfo | null)[]> {
  return Promise.all(
    spec.volumes.map((v): Promise<VolumeInfo | null> => {
      const name = poolVolumeOf(spec, v);
      return name === null ? Promise.resolve(null) : storage.getVolume(name, o);
    }),
  );
}
