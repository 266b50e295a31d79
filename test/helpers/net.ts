import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The `bmc` section of every test and bench agent: BMCs on loopback, on ports the OS chooses. The
 * defaults (0.0.0.0, IPMI from 6230, Redfish on 8000) collide with a lab running on the same host.
 */
export const LOOPBACK_BMC = {
  listen_address: '127.0.0.1',
  ipmi_port_range_start: 0,
  ipmi_port_range_end: 0,
  redfish_port: 0,
} as const;

/** A UDP socket a process holds, as the kernel lists it. */
export interface UdpSocket {
  /** Local address as `/proc/net/udp` writes it (hex), and its port. */
  address: string;
  port: number;
  inode: string;
}

/** A socket of a process, as the kernel's tables of its network namespace list it. */
interface KernelSocket extends UdpSocket {
  /** `0A` is a listening TCP socket. */
  state: string;
}

/**
 * The sockets of `tables` (`udp`, `tcp`, ...) that process `pid` (`self`: this process) holds: its
 * socket descriptors (`/proc/<pid>/fd`) matched with the kernel's tables of its network namespace.
 */
async function socketsOf(pid: number | 'self', tables: readonly string[]): Promise<KernelSocket[]> {
  const fdDir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  for (const fd of await readdir(fdDir)) {
    const target = await readlink(`${fdDir}/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1] !== undefined) inodes.add(m[1]);
  }
  const out: KernelSocket[] = [];
  for (const table of tables) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const state = f[3];
      const inode = f[9];
      if (local === undefined || state === undefined || inode === undefined || !inodes.has(inode)) continue;
      const colon = local.lastIndexOf(':');
      out.push({ address: local.slice(0, colon), port: parseInt(local.slice(colon + 1), 16), state, inode });
    }
  }
  return out;
}

/** The UDP sockets process `pid` (`self`: this process) holds. */
export async function udpSocketsOf(pid: number | 'self'): Promise<UdpSocket[]> {
  return (await socketsOf(pid, ['udp', 'udp6'])).map(({ address, port, inode }) => ({ address, port, inode }));
}

/** The TCP ports process `pid` listens on (any address). */
export async function tcpListenPortsOf(pid: number): Promise<number[]> {
  const ports = (await socketsOf(pid, ['tcp', 'tcp6'])).filter((s) => s.state === '0A').map((s) => s.port);
  return [...new Set(ports)];
}

/**
 * The port a daemon got when told to listen on port 0, where it does not say which (a tenks daemon
 * logs it at level info only): waits until `probe` succeeds on one of the TCP ports process `pid`
 * listens on, and resolves with that port. The probe tells the wanted listener from the others (an
 * agent serves Redfish beside gRPC; Node's inspector may listen too). Rejects with the probe's last
 * error once `exited()` says the process is gone, or after `timeoutMs`.
 */
export async function portAnswering(
  pid: number,
  probe: (port: number) => Promise<unknown>,
  o: { exited: () => boolean; timeoutMs: number },
): Promise<number> {
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown = new Error(`process ${pid} listens on no TCP port`);
  for (;;) {
    const ports = await tcpListenPortsOf(pid).catch(() => []);
    if (ports.length > 0) {
      try {
        return await Promise.any(ports.map(async (port) => (await probe(port), port)));
      } catch (e) {
        last = e instanceof AggregateError ? e.errors[0] : e;
      }
    }
    if (o.exited() || Date.now() > deadline) throw last;
    await sleep(200);
  }
}
