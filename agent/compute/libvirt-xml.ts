/**
 * What the libvirt adapters read from libvirt's XML documents (domain definitions, domain
 * capabilities, pools, volumes), and the one change they make to a definition.
 */
import { parseXml, withoutChildElements } from './xml.js';

/** The parts of a domain definition tenks reads. */
interface DomainDoc {
  domain?: {
    os?: { '@firmware'?: string; loader?: unknown };
    devices?: { disk?: { '@device'?: string; target?: { '@bus'?: string } }[] };
  };
}

/** Firmware of a domain definition: what it asks libvirt to select, and whether it names a loader. */
export function domainFirmware(xml: string): { selectsEfi: boolean; hasLoader: boolean } {
  const os = (parseXml(xml) as DomainDoc).domain?.os;
  return { selectsEfi: os?.['@firmware'] === 'efi', hasLoader: os?.loader !== undefined };
}

/** Bus of a domain's first CD drive (`sata` when its target names none), or null when it has none. */
export function cdromBus(xml: string): string | null {
  const disks = (parseXml(xml, ['disk']) as DomainDoc).domain?.devices?.disk ?? [];
  const cdrom = disks.find((d) => d['@device'] === 'cdrom');
  return cdrom === undefined ? null : (cdrom.target?.['@bus'] ?? 'sata');
}

/**
 * A domain definition without its selected firmware loader and NVRAM file: defined again, libvirt
 * selects firmware anew (for a new Secure Boot setting) and copies a fresh variable store at start.
 */
export function withoutFirmwareSelection(xml: string): string {
  return withoutChildElements(xml, ['domain', 'os'], ['loader', 'nvram']);
}

/** The parts of domain capabilities tenks reads. */
interface DomainCapabilitiesDoc {
  domainCapabilities?: {
    os?: { enum?: { '@name'?: string; value?: string[] }[]; loader?: { '@supported'?: string; value?: string[] } };
  };
}

/** Whether domain capabilities (`virConnectGetDomainCapabilities`) offer UEFI firmware. */
export function offersUefi(xml: string): boolean {
  const os = (parseXml(xml, ['enum', 'value']) as DomainCapabilitiesDoc).domainCapabilities?.os;
  const firmware = os?.enum?.find((e) => e['@name'] === 'firmware');
  return (
    (firmware?.value ?? []).includes('efi') ||
    (os?.loader?.['@supported'] === 'yes' && (os.loader.value ?? []).length > 0)
  );
}

/** Type and target path of a storage pool definition (each null when it gives none). */
export function poolTarget(xml: string): { type: string | null; path: string | null } {
  const pool = (parseXml(xml) as { pool?: { '@type'?: string; target?: { path?: string } } }).pool;
  return { type: pool?.['@type'] ?? null, path: pool?.target?.path ?? null };
}

/** Format of a storage volume (`qcow2`, `raw`, ...), `unknown` when its target names none. */
export function volumeFormat(xml: string): string {
  const volume = (parseXml(xml) as { volume?: { target?: { format?: { '@type'?: string } } } }).volume;
  return volume?.target?.format?.['@type'] ?? 'unknown';
}
