import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';

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

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed), for a child
 * process whose address must be known before it starts. Where a daemon can report what it bound,
 * give it port 0 instead.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        if (a !== null && typeof a === 'object') resolve(a.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A UDP socket a process holds, as the kernel lists it. */
export interface UdpSocket {
  /** Local address as `/proc/net/udp` writes it (hex), and its port. */
  address: string;
  port: number;
  inode: string;
}

/**
 * The UDP sockets process `pid` holds (`self`: this process): its socket descriptors
 * (`/proc/<pid>/fd`) matched with the kernel's UDP tables of its network namespace.
 */
export async function udpSocketsOf(pid: number | 'self'): Promise<UdpSocket[]> {
  const fdDir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  for (const fd of await readdir(fdDir)) {
    const target = await readlink(`${fdDir}/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1] !== undefined) inodes.add(m[1]);
  }
  const out: UdpSocket[] = [];
  for (const table of ['udp', 'udp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const inode = f[9];
      if (local === undefined || inode === undefined || !inodes.has(inode)) continue;
      const colon = local.lastIndexOf(':');
      out.push({ address: local.slice(0, colon), port: parseInt(local.slice(colon + 1), 16), inode });
    }
  }
  return out;
}
