import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * QEMU firmware descriptors (docs/interop/firmware.json in QEMU): the JSON files libvirt reads to
 * choose UEFI firmware for `<os firmware='efi'>`. libvirt's domain capabilities list the loaders
 * they name but not their features, so whether some firmware of an architecture has Secure Boot
 * is read from the descriptors themselves.
 */

/** Where libvirt reads system-wide descriptors; a file in the first hides one of the same name in the second. */
export const FIRMWARE_DESCRIPTOR_DIRS: readonly string[] = ['/etc/qemu/firmware', '/usr/share/qemu/firmware'];

/** Architectures for which some UEFI descriptor offers Secure Boot. */
export function secureBootArchesOf(descriptors: readonly unknown[]): string[] {
  const out = new Set<string>();
  for (const d of descriptors) {
    if (d === null || typeof d !== 'object') continue;
    const { 'interface-types': types, targets, features } = d as Record<string, unknown>;
    if (!Array.isArray(types) || !types.includes('uefi')) continue;
    if (!Array.isArray(features) || !features.includes('secure-boot')) continue;
    if (!Array.isArray(targets)) continue;
    for (const t of targets as unknown[]) {
      const arch = t !== null && typeof t === 'object' ? (t as Record<string, unknown>).architecture : undefined;
      if (typeof arch === 'string') out.add(arch);
    }
  }
  return [...out].sort();
}

/** The descriptors in `dirs` (unreadable files and missing directories are skipped). */
export async function readFirmwareDescriptors(dirs: readonly string[] = FIRMWARE_DESCRIPTOR_DIRS): Promise<unknown[]> {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) if (name.endsWith('.json') && !byName.has(name)) byName.set(name, join(dir, name));
  }
  const out: unknown[] = [];
  for (const path of byName.values()) {
    try {
      out.push(JSON.parse(await readFile(path, 'utf8')));
    } catch {
      // A broken descriptor is skipped by libvirt too.
    }
  }
  return out;
}
