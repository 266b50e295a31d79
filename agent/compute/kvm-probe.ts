/**
 * Whether KVM really works here. libvirt offers the `kvm` domain type as soon as /dev/kvm opens,
 * but under some nested hypervisors a KVM guest starts and then hangs in its firmware. So before
 * trusting KVM, boot a throwaway KVM guest as far as its iPXE network ROM (what tenks nodes do
 * first) and see it get there. The answer is kept in /run (it holds until the host reboots).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/logger.js';
import type { Connection } from '../native/index.js';

/** Where probe results are kept, per host boot. */
export const KVM_PROBE_CACHE = '/run/tenks/kvm-probe.json';

/** What the guest prints on its serial console once iPXE runs. */
const IPXE_RUNNING = /starting execution\.+\s*ok/;

/** Options of the probe. */
export interface KvmProbeOptions {
  /** Cache file (null: never cached). */
  cacheFile: string | null;
  /** How long the guest gets to reach iPXE. Default 20 s (TCG needs about 3 s, KVM well under 1 s). */
  timeoutMs?: number;
  log: Logger;
}

interface CacheEntry {
  key: string;
  usable: boolean;
  detail: string;
}

function probeXml(name: string, logPath: string): string {
  return (
    `<domain type='kvm'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>` +
    "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><bios useserial='yes'/></os>" +
    `<devices><serial type='file'><source path='${logPath}'/><target port='0'/></serial>` +
    "<interface type='user'><model type='virtio'/></interface><memballoon model='none'/></devices></domain>"
  );
}

/**
 * True when a KVM guest reaches its network ROM within the timeout. Never throws: any failure to
 * run the probe counts as "KVM not usable", with the reason logged.
 */
export async function kvmWorks(conn: Connection, key: string, o: KvmProbeOptions): Promise<boolean> {
  if (o.cacheFile !== null) {
    const cached = await readFile(o.cacheFile, 'utf8')
      .then((t) => (JSON.parse(t) as CacheEntry[]).find((e) => e.key === key) ?? null)
      .catch(() => null);
    if (cached) return cached.usable;
  }
  const name = `tenks-kvm-probe-${randomBytes(4).toString('hex')}`;
  const logPath = join(tmpdir(), `${name}.log`);
  const timeoutMs = o.timeoutMs ?? 20_000;
  let usable = false;
  let detail = '';
  const started = Date.now();
  const dom = await conn.defineDomain(probeXml(name, logPath)).catch((e: unknown) => {
    detail = `defining the probe guest failed: ${(e as Error).message}`;
    return null;
  });
  if (dom) {
    try {
      await dom.create();
      for (;;) {
        const text = await readFile(logPath, 'latin1').catch(() => '');
        if (IPXE_RUNNING.test(text)) {
          usable = true;
          detail = `a KVM guest reached iPXE in ${Date.now() - started} ms`;
          break;
        }
        if (Date.now() - started > timeoutMs) {
          detail = `a KVM guest did not reach iPXE within ${timeoutMs} ms (serial: ${JSON.stringify(text.slice(-120))})`;
          break;
        }
        await sleep(200);
      }
    } catch (e) {
      detail = `starting the probe guest failed: ${(e as Error).message}`;
    } finally {
      await dom.destroy().catch(() => undefined);
      await dom.undefine().catch(() => undefined);
      await rm(logPath, { force: true });
    }
  }
  o.log.info('KVM probe', { usable, detail });
  if (o.cacheFile !== null) {
    const entries = await readFile(o.cacheFile, 'utf8')
      .then((t) => JSON.parse(t) as CacheEntry[])
      .catch((): CacheEntry[] => []);
    const next = [...entries.filter((e) => e.key !== key), { key, usable, detail }];
    await mkdir(dirname(o.cacheFile), { recursive: true })
      .then(() => writeFile(o.cacheFile as string, JSON.stringify(next, null, 2)))
      .catch((e: unknown) => {
        o.log.warn('cannot cache the KVM probe result', { file: o.cacheFile, error: String(e) });
      });
  }
  return usable;
}

/** Cache key: what would change the answer (kernel, QEMU, libvirt, the KVM device). */
export function probeKey(parts: { hypervisorVersion: number; libvirtVersion: number; kvmCtimeMs: number }): string {
  return `${release()}/${parts.hypervisorVersion}/${parts.libvirtVersion}/${parts.kvmCtimeMs}`;
}
