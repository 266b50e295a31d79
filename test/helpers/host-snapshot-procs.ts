/**
 * The process part of a host snapshot: listening TCP and bound UDP sockets with their owners
 * (`ss -Hlnptu`), and the tenks daemons, supervisors, nats-servers and QEMUs running. Each is
 * marked when it belongs to another test or bench run (started under another mocha or tsx
 * process than the one taking the snapshot), so that a tier's check can leave that run's
 * processes to it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { hostOutput, lines } from './host-exec.js';
import type { HostItem } from './host-items.js';

/** Every process of the host now: parent and command line. */
export type ProcessTable = ReadonlyMap<number, { ppid: number; argv: readonly string[] }>;

/** Reads /proc (processes that end meanwhile are left out). */
export async function processTable(): Promise<ProcessTable> {
  const table = new Map<number, { ppid: number; argv: string[] }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, cmdline] = await Promise.all([
      readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''),
      readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''),
    ]);
    if (stat === '') continue;
    // Fields after the command name (which may hold spaces and parentheses): state ppid ...
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    table.set(Number(entry), { ppid, argv: cmdline.split('\0').filter((a) => a !== '') });
  }
  return table;
}

/**
 * Whether a command line runs tests or a bench: mocha, or tsx running a script from a test or
 * bench directory or a temporary one (not a daemon run from source, such as `tsx agent/main.ts`).
 */
export function isRunner(argv: readonly string[]): boolean {
  if (argv.some((a) => /(^|\/)_?mocha(\.js)?$|\/mocha\/lib\/cli\/cli\.js$/.test(a))) return true;
  const tsx = argv.some((a) => /(^|\/)tsx$|\/tsx\/dist\/(cli|loader|preflight)/.test(a));
  return tsx && argv.some((a) => /(^|\/)(test|bench)\/.*\.m?ts$|^\/tmp\//.test(a));
}

/**
 * The other test or bench run `pid` belongs to, or undefined: the nearest ancestor that is a
 * runner, unless the chain reaches this process or one of its own ancestors first.
 */
export function otherRunOf(table: ProcessTable, pid: number, self = process.pid): string | undefined {
  const mine = new Set<number>();
  for (let p = self; p > 1 && !mine.has(p); p = table.get(p)?.ppid ?? 0) mine.add(p);
  const seen = new Set<number>();
  for (let p = pid; p > 1 && !seen.has(p); p = table.get(p)?.ppid ?? 0) {
    seen.add(p);
    if (mine.has(p)) return undefined;
    const argv = table.get(p)?.argv ?? [];
    if (isRunner(argv)) return `pid ${p}: ${argv.join(' ').slice(0, 120)}`;
  }
  return undefined;
}

/** Listening TCP and bound UDP sockets of the root namespace, one item per protocol and local address. */
export async function socketItems(table: ProcessTable): Promise<HostItem[]> {
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
  return [...byName].map(([name, e]) => {
    const pids = [...e.pids];
    const other = pids.map((p) => otherRunOf(table, p)).find((r) => r !== undefined);
    return {
      kind: 'socket',
      name,
      fields: { owner: [...e.owners].sort().join(',') },
      pids,
      ports: [e.port],
      ...(other !== undefined ? { otherRun: other } : {}),
    };
  });
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
export function processItems(table: ProcessTable): HostItem[] {
  const items: HostItem[] = [];
  for (const [pid, p] of table) {
    if (p.argv.length === 0 || !followedProcess(p.argv)) continue;
    const other = otherRunOf(table, pid);
    items.push({
      kind: 'process',
      name: String(pid),
      fields: { command: p.argv.join(' ') },
      pids: [pid],
      ...(other !== undefined ? { otherRun: other } : {}),
    });
  }
  return items;
}
