/**
 * A node's virtual CD drive, as its BMC fills and empties it: the image is copied into a pool
 * volume the node owns, and a running node sees the change at once. Callers hold the node's lock.
 */
import { redefine } from './domain-spec.js';
import type { CallOptions, DomainSummary, NodeMetadata } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { mediaVolumeName } from './node-volumes.js';

/** Puts the image file `media.file` (fetched from `media.image`) into node `d`'s virtual CD drive, replacing what was there. */
export async function insertMedia(
  host: NodeHost,
  d: DomainSummary,
  media: { image: string; file: string; writeProtected: boolean },
  o: CallOptions,
): Promise<void> {
  const { hypervisor: hv, storage } = host;
  const m = d.metadata as NodeMetadata;
  const volume = mediaVolumeName(d.name);
  // Out of the drive before its volume is replaced.
  if (m.media?.inserted) await hv.changeLiveMedia(d.name, null, o).catch(() => false);
  await storage.deleteVolume(volume, o);
  await storage.createVolume(
    { name: volume, capacityBytes: 0, format: 'raw', source: { kind: 'image', path: media.file } },
    o,
  );
  const meta: NodeMetadata = {
    ...m,
    ownedVolumes: m.ownedVolumes.includes(volume) ? m.ownedVolumes : [...m.ownedVolumes, volume],
    media: { image: media.image, volume, inserted: true, writeProtected: media.writeProtected },
  };
  await redefine(host, m.spec, meta, o);
  if (d.powerState !== 'off') await hv.changeLiveMedia(d.name, storage.diskSource(volume), o);
  host.log.info('virtual media inserted', { node: d.name, image: media.image });
}

/** Empties node `d`'s virtual CD drive and deletes the image volume; false when it was empty. */
export async function ejectMedia(host: NodeHost, d: DomainSummary, o: CallOptions): Promise<boolean> {
  const m = d.metadata as NodeMetadata;
  if (!m.media) return false;
  if (d.powerState !== 'off') await host.hypervisor.changeLiveMedia(d.name, null, o);
  const volume = m.media.volume;
  // As sushy-tools does: a node told to boot from the CD boots from its disk once the CD is gone.
  const fromCd = m.bootDevice === 'cdrom';
  const meta: NodeMetadata = {
    ...m,
    media: null,
    ownedVolumes: m.ownedVolumes.filter((v) => v !== volume),
    ...(fromCd ? { bootDevice: 'disk' as const } : {}),
    ...(m.persistentBootDevice === 'cdrom' ? { persistentBootDevice: 'disk' as const } : {}),
  };
  await redefine(host, m.spec, meta, o);
  await host.storage.deleteVolume(volume, o);
  host.log.info('virtual media ejected', { node: d.name });
  return true;
}
