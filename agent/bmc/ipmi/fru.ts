/**
 * The node's FRU inventory (IPMI Platform Management FRU Information Storage Definition v1.0),
 * served as FRU device 0 through Get FRU Inventory Area Info / Read FRU Data: a common header and
 * a Product Info area. IPMI has no standard field for the CPU architecture, so it is a custom
 * product field `cpu_arch=<arch>` (Ironic's property name), which `ipmitool fru print 0` shows as
 * `Product Extra`.
 */
import type { Arch } from '../../compute/index.js';

/** What the FRU describes. */
export interface FruProduct {
  /** Node name, as the asset tag. */
  name: string;
  /** Node UUID, as the serial number (as Redfish's SerialNumber). */
  uuid: string;
  arch: Arch;
}

/** Manufacturer and product name, as the Redfish System reports them. */
const MANUFACTURER = 'tenks';
const PRODUCT = 'virtual bare metal (libvirt/QEMU)';

/** The product field holding the architecture, `cpu_arch=aarch64`. */
export function archField(arch: Arch): string {
  return `cpu_arch=${arch}`;
}

/** A type/length byte (8-bit Latin-1 text, at most 63 bytes) and the text. */
function field(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1').subarray(0, 63);
  return Buffer.concat([Buffer.from([0xc0 | bytes.length]), bytes]);
}

/** The byte that makes `data` plus it sum to zero (mod 256). */
function zeroChecksum(data: Buffer): number {
  let sum = 0;
  for (const b of data) sum = (sum + b) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** The whole FRU device: common header, then the Product Info area at offset 8. */
export function fruData(p: FruProduct): Buffer {
  const body = Buffer.concat([
    // Format version 1, length (filled in below), language 0 (English, so Latin-1 text).
    Buffer.from([0x01, 0x00, 0x00]),
    field(MANUFACTURER),
    field(PRODUCT),
    field('tenks-vm'), // part/model number
    field(''), // version
    field(p.uuid),
    field(p.name), // asset tag
    field(''), // FRU file id
    field(archField(p.arch)),
    Buffer.from([0xc1]), // end of fields
  ]);
  // Padded so that, with its checksum byte, the area is a whole number of 8-byte blocks.
  const length = Math.ceil((body.length + 1) / 8) * 8;
  const area = Buffer.alloc(length);
  body.copy(area);
  area[1] = length / 8;
  area[length - 1] = zeroChecksum(area.subarray(0, length - 1));
  // Common header: version 1, no internal use, chassis, board or multi-record area; product at 8 bytes.
  const header = Buffer.from([0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
  header[7] = zeroChecksum(header.subarray(0, 7));
  return Buffer.concat([header, area]);
}
