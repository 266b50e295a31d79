/** Field schemas the sections of the cluster spec share: names, sizes, traits, ports, drivers, firmware. */
import { z } from 'zod';
import { parseSize } from '../sizes.js';
import { CLOCK_OFFSET_PATTERN, GUEST_ARCHES, NAME_PATTERN, TRAIT_PATTERN } from './rules.js';

/** A name following the agent's rule; `what` names it in the message. */
export const name = (what: string) =>
  z
    .string()
    .regex(
      NAME_PATTERN,
      `not a usable ${what}: use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit`,
    );

/** A size in Tenks' syntax (`10GiB`, `2GB`, `512MiB`, bytes). */
export const size = z
  .union([z.string(), z.number()], { error: 'expected a size such as 10GiB, 512MiB, 2GB or a number of bytes' })
  .superRefine((value, ctx) => {
    const r = parseSize(value);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
  })
  .describe('Size: bytes, or a number with a unit (B, KiB, MiB, GiB, TiB binary; KB, MB, GB, TB decimal).');

/** An Ironic trait. */
export const trait = z
  .string()
  .regex(TRAIT_PATTERN, 'not an Ironic trait: use upper-case letters, digits and _ (CUSTOM_... for your own)');

/** Values of Ironic properties and flavor extra specs. */
export const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });

/** An Ironic driver tenks emulates the BMC of. */
export const ironicDriver = z.enum(['ipmi', 'redfish']);
/** Node firmware. */
export const bootMode = z.enum(['uefi', 'bios']);
/** A guest architecture; empty means the default, as upstream's `default()`. */
export const arch = z.union([z.enum(GUEST_ARCHES), z.literal('')], {
  error: `expected ${GUEST_ARCHES.join(' or ')} (tenks makes no other guest architecture), or empty`,
});

/** `physnet: device` or `physnet: device:VLAN`. */
export const physnetMappings = z
  .record(name('physnet name'), z.string({ error: 'expected a device name, or device:VLAN' }))
  .describe(
    'Physical network name -> source device on the hypervisor: an existing interface, Linux bridge or OVS bridge. ' +
      'tenks extension: `device:VLAN` (VLAN 1-4094) lets several physnets share one device.',
  );

/** A string of 1 to `max` bytes of UTF-8 (IPMI limits are in bytes, not characters). */
export const credential = (max: number, what: string) =>
  z
    .string()
    .min(1, 'must not be empty')
    .refine((v) => Buffer.byteLength(v, 'utf8') <= max, `${what} are at most ${max} bytes`);

/** A TCP port. */
export const port = z.number().int().min(1, 'ports are 1-65535').max(65535, 'ports are 1-65535');

/** A libvirt guest clock: utc, localtime, variable, or a time zone name (upstream: false = the default). */
export const clockOffset = z
  .union([
    z.literal(false),
    z.literal(''),
    z
      .string()
      .regex(CLOCK_OFFSET_PATTERN, 'expected utc, localtime, variable or a time zone name such as Europe/London'),
  ])
  .describe('utc, localtime, variable (starts at UTC, the guest may change it) or a time zone name.');

/** The Ironic hardware interfaces `ironic_config` may set (`<name>_interface`). */
export const IRONIC_INTERFACES = [
  'bios',
  'boot',
  'console',
  'deploy',
  'firmware',
  'inspect',
  'management',
  'network',
  'power',
  'raid',
  'rescue',
  'storage',
  'vendor',
] as const;
