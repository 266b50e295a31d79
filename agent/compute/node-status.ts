import { TenksError } from '../../common/errors.js';
import { DEFAULT_FIRMWARE, type DomainSummary, type FirmwareState } from './hypervisor.js';
import type { NodeHost } from './node-host.js';
import { archOf, machineOf, specHash } from './node-spec.js';
import { specVolumes, volumeName } from './node-volumes.js';
import type { NodeFirmware, NodeSpec, NodeStatus, VolumeInfo } from './types.js';

/** The firmware a BMC reports: the spec's, as changed through the BMC. */
function firmwareView(spec: NodeSpec, f: FirmwareState): NodeFirmware {
  const bootMode = f.bootMode ?? spec.bootMode;
  return {
    bootMode,
    secureBoot: bootMode === 'uefi' && f.secureBoot,
    bios: f.bios,
    indicatorLed: f.indicatorLed,
    verifyMediaCertificate: f.verifyMediaCertificate,
  };
}

/**
 * A node as observed, from its domain (with tenks metadata). Its volumes are `volumes` when the
 * caller read them (in spec order, null when missing), else found in `byName` (every volume of the
 * pool, for lists), else read now.
 */
export async function nodeStatus(
  host: NodeHost,
  d: DomainSummary,
  volumes?: (VolumeInfo | null)[],
  byName?: Map<string, VolumeInfo>,
): Promise<NodeStatus> {
  const m = d.metadata;
  if (!m) throw new TenksError('INTERNAL', `domain '${d.name}' has no tenks metadata`);
  const spec = m.spec;
  let found: (VolumeInfo | null | undefined)[];
  if (byName)
    found = spec.volumes.map((v) =>
      byName.get(v.source.kind === 'existing' ? v.source.ref : volumeName(spec.name, v.name)),
    );
  else found = volumes ?? (await specVolumes(host.storage, spec));
  return {
    cluster: m.cluster,
    name: d.name,
    uuid: d.uuid,
    nodeType: spec.nodeType,
    hypervisor: host.facts.hostname,
    powerState: d.powerState,
    memoryMb: spec.memoryMb,
    vcpus: spec.vcpus,
    bootMode: spec.bootMode,
    machine: machineOf(spec),
    arch: archOf(spec),
    volumes: found.filter((v): v is VolumeInfo => v !== null && v !== undefined),
    nics: host.wiring
      ? host.wiring.describe(spec)
      : spec.nics.map((n) => ({ physnet: n.physnet, mac: n.mac ?? '', bridge: '', bridgeMac: '', switchPort: '' })),
    specHash: m.specHash,
    consoleLogPath: spec.consoleLog ? host.consoleLogPath(spec) : '',
    engine: host.engineOf(spec),
    bootDevice: m.bootDevice,
    bootPersistent: m.bootPersistent,
    labels: spec.labels,
    firmware: firmwareView(spec, m.firmware),
    media: m.media
      ? { image: m.media.image, inserted: m.media.inserted, writeProtected: m.media.writeProtected }
      : null,
  };
}

/** A node as an ensure would make it (for dry runs of a node that does not exist yet). */
export function plannedStatus(host: NodeHost, spec: NodeSpec): NodeStatus {
  return {
    cluster: spec.cluster,
    name: spec.name,
    uuid: spec.uuid ?? '',
    nodeType: spec.nodeType,
    hypervisor: host.facts.hostname,
    powerState: 'off',
    memoryMb: spec.memoryMb,
    vcpus: spec.vcpus,
    bootMode: spec.bootMode,
    machine: machineOf(spec),
    arch: archOf(spec),
    volumes: [],
    nics: host.wiring ? host.wiring.describe(spec) : [],
    specHash: specHash(spec),
    consoleLogPath: spec.consoleLog ? host.consoleLogPath(spec) : '',
    engine: host.engineOf(spec),
    bootDevice: 'network',
    bootPersistent: true,
    labels: spec.labels,
    firmware: firmwareView(spec, DEFAULT_FIRMWARE),
    media: null,
  };
}
