/**
 * The process part of a host snapshot: listening TCP and bound UDP sockets with their owners
 * (`ss -Hlnptu`), and the tenks daemons, supervisors, nats-servers and QEMUs running.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { hostOutput, lines } from './host-exec.js';
import type { HostItem } from './host-items.js';

/** Listening TCP and bound UDP sockets of the root namespace, one item per protocol and local address. */
export async function socketItems(): Promise<HostItem[]> {
  const byName = new Map<string, { owners: Set<string>; pids: Set<number>; port: number }>();
  for (const l of lines(await hostOutput('ss', ['-Hlnptu']))) {
    // Netid State Recv-Q Send-Q Local Peer [Process]
    const f = l.split(/\s+/);
    const local = f[4] ?? '';
    const name = `${f[0] ?? ''} ${local}`;
    const port = Number(/:(\d+)$/.exec(local)?.[1] ?? 0);
    const entry = byName.get(name) ?? { owners: new Set<string>(), pids: new Set<number>(), port };
    for (const m of f
      .slice(6)
      .join(' ')
      .matchAll(/\("([^"]*)",pid=(\d+)/g)) {
      entry.owners.add(`${m[1] ?? ''}[${m[2] ?? ''}]`);
      entry.pids.add(Number(m[2]));
    }
    byName.set(name, entry);
  }
  return [...byName].map(([name, e]) => ({
    kind: 'socket',
    name,
    fields: { owner: [...e.owners].sort().join(',') },
    pids: [...e.pids],
    ports: [e.port],
  }));
}

/** Whether a command line is one the snapshot follows: tenks daemons and supervisors, nats-server, QEMU. */
export function followedProcess(argv: readonly string[]): boolean {
  const exe = basename(argv[0] ?? '');
  if (exe === 'nats-server' || exe.startsWith('qemu-system')) return true;
  // node bin/tenks-agent.js, tsx, a global tenks-agent, bash scripts/supervise.sh.
  return argv
    .slice(0, 4)
    .map((a) => basename(a))
    .some((a) => /^tenks-(agent|coordinator)(\.js)?$/.test(a) || a === 'supervise.sh');
}

/** Followed processes (see {@link followedProcess}), by pid, with their command lines. */
export async function processItems(): Promise<HostItem[]> {
  const items: HostItem[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // Processes end while we look: whatever cannot be read was not there.
    const raw = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = raw.split('\0').filter((a) => a !== '');
    if (argv.length === 0 || !followedProcess(argv)) continue;
    items.push({ kind: 'process', name: entry, fields: { command: argv.join(' ') }, pids: [Number(entry)] });
  }
  return items;
}
