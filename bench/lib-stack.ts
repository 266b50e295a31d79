/**
 * A real tenks stack for benchmarks, every part its own child process: nats-server with JetStream,
 * tenks-coordinator and tenks-agents (as scripts/quickstart.sh configures them: config files, mTLS
 * certificates from deploy/make-certs.sh), plus `tenksctl` runs timed wall-clock the way a user
 * runs them. Used by bench/local.ts and bench/scale.ts.
 *
 * Every process is spawned in its own process group and killed (SIGTERM, then SIGKILL) by
 * {@link Stack.close}, which also runs the registered cleanups (libvirt pools, bridges, ...) in
 * reverse order and removes the temp dir; {@link Stack.closeOnSignals} does the same on Ctrl-C.
 * Ports: NATS picks its own (`-p -1`), daemons bind 127.0.0.1:0 or a port found free a moment
 * before (the coordinator, whose address tenksctl needs up front).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleIsFresh } from '../bin/bundle.js';
import { promisify } from 'node:util';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { channelOptions, CoordinatorWire } from '../common/index.js';
import { freePort } from '../test/helpers/net.js';

const execFileAsync = promisify(execFile);

/** The repository root. */
export const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
/** Debian's nats-server (the integration tests' default too); `$NATS_SERVER` overrides. */
export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** The median of `xs` (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

/** A progress printer to stderr (stdout's last line is the bench's JSON). */
export function sayer(tag: string): (line: string) => void {
  return (line) => {
    process.stderr.write(`${tag}: ${line}\n`);
  };
}

/** Runs a program; resolves with stdout, rejects naming it with its stderr. */
export async function run(file: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    const stderr = err.stderr?.trim() ?? '';
    throw new Error(`${file} ${args.join(' ')} failed: ${stderr !== '' ? stderr : err.message}`, { cause: e });
  }
}

/** UDP ports bound on this host now (any address), from /proc/net/udp{,6}. */
export async function boundUdpPorts(): Promise<Set<number>> {
  const out = new Set<number>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const hex = local?.split(':')[1];
      if (hex !== undefined) out.add(parseInt(hex, 16));
    }
  }
  return out;
}

/**
 * `count` non-overlapping UDP port ranges of `size` ports, below the kernel's ephemeral range (so
 * no outgoing socket lands in them), each with no port bound right now. Agents still skip ports
 * taken later by someone else (they try the next one).
 */
export async function freeUdpRanges(count: number, size: number): Promise<{ start: number; end: number }[]> {
  const eph = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
  const ephStart = eph[0] ?? 32768;
  const bound = await boundUdpPorts();
  const ranges: { start: number; end: number }[] = [];
  let start = 10_000;
  while (ranges.length < count) {
    const end = start + size - 1;
    if (end >= ephStart) throw new Error(`no ${count} free UDP ranges of ${size} ports below ${ephStart}`);
    let clash = -1;
    for (let p = start; p <= end; p++) if (bound.has(p)) clash = p;
    if (clash >= 0) start = clash + 1;
    else {
      ranges.push({ start, end });
      start = end + 1;
    }
  }
  return ranges;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system) of a process, in seconds; its children are not included. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) / CLK_TCK;
}

/** A `/proc/<pid>/status` field in MB (VmHWM: peak RSS, VmRSS: now). */
export async function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return round(kb / 1024, 1);
}

/** The soft limit of open files of a process (from /proc/<pid>/limits). */
export async function nofileLimit(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8').catch(() => '');
  const m = /Max open files\s+(\d+|unlimited)/.exec(text);
  return m?.[1] === undefined || m[1] === 'unlimited' ? null : Number(m[1]);
}

/** Open file descriptors of a process now. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** A child process in its own group, with the tail of its output. */
export class Daemon {
  private out = '';
  private partial = '';
  private exitInfo: string | null = null;
  /** Distinct warnings seen in the output, with counts (at most 100 kinds). */
  readonly warnings = new Map<string, number>();
  readonly exited: Promise<void>;
  private readonly lineListeners: ((line: string) => void)[] = [];

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.out = (this.out + text).slice(-20_000);
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const l of lines) {
        for (const f of this.lineListeners) f(l);
        const w = warningOf(l);
        if (w !== null && (this.warnings.has(w) || this.warnings.size < 100))
          this.warnings.set(w, (this.warnings.get(w) ?? 0) + 1);
      }
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exitInfo = signal ?? String(code);
        resolve();
      });
    });
  }

  /** Calls `fn` with every later line of output (the kept tail is bounded; this is not). */
  onLine(fn: (line: string) => void): void {
    this.lineListeners.push(fn);
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** The last output, for failure messages. */
  tail(chars = 3000): string {
    return `[${this.name}${this.exitInfo !== null ? `, exited ${this.exitInfo}` : ''}]\n${this.out.slice(-chars)}`;
  }

  /** Everything kept of the output (the last 20,000 characters). */
  output(): string {
    return this.out;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    const kill = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-this.pid, sig);
      } catch {
        // The group is gone.
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => {
      kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    // Anything the daemon left in its group.
    kill('SIGKILL');
  }
}

/**
 * Distinct warnings and errors the daemons printed (JSON log lines at warn/error, Node and NATS
 * warnings), `daemon: message (xN)`, at most `max`: what went wrong besides the figures.
 */
export function daemonWarnings(daemons: readonly Daemon[], max = 20): string[] {
  const out: string[] = [];
  for (const d of daemons) for (const [k, n] of d.warnings) out.push(`${d.name}: ${k}${n > 1 ? ` (x${n})` : ''}`);
  return out.slice(0, max);
}

/** The warning a daemon's output line is, or null. */
function warningOf(line: string): string | null {
  if (line.startsWith('{')) {
    try {
      const j = JSON.parse(line) as { level?: string; message?: string; error?: unknown };
      if (j.level !== 'warn' && j.level !== 'error') return null;
      const why = j.error === undefined ? '' : ` (${JSON.stringify(j.error).slice(0, 160)})`;
      return `${j.level}: ${j.message ?? ''}${why}`;
    } catch {
      // Not JSON after all.
    }
  }
  return /warning|error|\[(WRN|ERR|FTL)\]/i.test(line)
    ? line
        .replace(/^\[\d+\] \S+ \S+ /, '')
        .trim()
        .slice(0, 240)
    : null;
}

/** Options of {@link Stack.spawn}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /**
   * Raise the open-files limit of the process to this (a `bash -c 'ulimit -n N; exec ...'` wrapper),
   * or to the hard limit when N is above it and this process may not raise that.
   */
  nofile?: number;
}

/** What a bench started: processes, cleanups, a temp dir. */
export class Stack {
  readonly daemons: Daemon[] = [];
  private readonly cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
  private closing: Promise<void> | null = null;

  private constructor(readonly dir: string) {}

  /** A stack with a fresh temp dir (mode 711: QEMU, running as another user, can reach pools under it). */
  static async create(prefix: string): Promise<Stack> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    await chmod(dir, 0o711);
    return new Stack(dir);
  }

  /** Registers a cleanup; cleanups run in reverse order at close, after every process stopped. */
  onCleanup(what: string, fn: () => Promise<unknown>): void {
    this.cleanups.push({ what, fn });
  }

  spawn(name: string, file: string, args: readonly string[], o: SpawnOptions = {}): Daemon {
    const [cmd, argv] =
      o.nofile === undefined
        ? [file, args]
        : // Up to the hard limit when N is above it and raising that is not permitted (no CAP_SYS_RESOURCE).
          [
            'bash',
            ['-c', `ulimit -n ${o.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bash', file, ...args],
          ];
    const proc = spawn(cmd, argv, {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...o.env },
    });
    const d = new Daemon(name, proc);
    this.daemons.push(d);
    return d;
  }

  /** Stops every process (newest first), runs the cleanups, removes the temp dir. Idempotent. */
  close(say: (l: string) => void = () => undefined): Promise<void> {
    this.closing ??= (async () => {
      for (const d of [...this.daemons].reverse()) await d.stop();
      for (const c of [...this.cleanups].reverse())
        await c.fn().catch((e: unknown) => {
          say(`cleanup of ${c.what} failed: ${String(e)}`);
        });
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** Ctrl-C / SIGTERM: close everything, then exit 130. */
  closeOnSignals(say: (l: string) => void): void {
    const onSignal = (sig: string): void => {
      say(`${sig}: stopping every process started and cleaning up`);
      void this.close(say).finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
}

/** The running nats-server. */
export interface Nats {
  daemon: Daemon;
  url: string;
}

/**
 * nats-server with JetStream on 127.0.0.1 (or `host`, e.g. the root end of a veth pair into a
 * network namespace of the caller's), a port it picks (`-p -1`), its store in the stack's dir.
 */
export async function startNats(stack: Stack, o: { args?: readonly string[]; host?: string } = {}): Promise<Nats> {
  const host = o.host ?? '127.0.0.1';
  const d = stack.spawn('nats-server', NATS_SERVER, [
    '-a',
    host,
    '-p',
    '-1',
    '-js',
    '-sd',
    join(stack.dir, 'nats'),
    ...(o.args ?? []),
  ]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const out = d.output();
    const port = /Listening for client connections on [^\s]*:(\d+)/.exec(out)?.[1];
    if (port !== undefined && out.includes('Server is ready')) return { daemon: d, url: `nats://${host}:${port}` };
    if (!d.alive || Date.now() > deadline) throw new Error(`nats-server did not start:\n${d.tail()}`);
    await sleep(50);
  }
}

/** A NATS cluster of JetStream servers on 127.0.0.1, each its own process. */
export interface NatsCluster {
  servers: { daemon: Daemon; url: string; name: string }[];
  /** Every client URL, for `nats.servers`. */
  urls: string[];
  /** Starts server `i` again (after a kill) on its ports and store. */
  restart(i: number): Promise<void>;
}

function waitNatsReady(d: Daemon, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      const out = d.output();
      const port = /Listening for client connections on [^\s]*:(\d+)/.exec(out)?.[1];
      if (port !== undefined && out.includes('Server is ready')) return Number(port);
      if (!d.alive || Date.now() > deadline) throw new Error(`nats-server did not start:\n${d.tail()}`);
      await sleep(50);
    }
  })();
}

/**
 * `size` nats-servers with JetStream clustered on 127.0.0.1 (cluster `tenks`): client ports picked
 * by the servers themselves, route ports free a moment before, stores in the stack's dir.
 */
export async function startNatsCluster(stack: Stack, size = 3): Promise<NatsCluster> {
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) routePorts.push(await freePort());
  const routes = routePorts.map((p) => `nats://127.0.0.1:${String(p)}`).join(',');
  const clientPorts: number[] = new Array<number>(size).fill(-1);
  const launch = (i: number): Daemon =>
    stack.spawn(`nats-server n${String(i)}`, NATS_SERVER, [
      '-a',
      '127.0.0.1',
      '-p',
      String(clientPorts[i]),
      '-n',
      `n${String(i)}`,
      '-js',
      '-sd',
      join(stack.dir, `nats-n${String(i)}`),
      '--cluster_name',
      'tenks',
      '--cluster',
      `nats://127.0.0.1:${String(routePorts[i])}`,
      '--routes',
      routes,
    ]);
  const servers: NatsCluster['servers'] = [];
  for (let i = 0; i < size; i++) {
    const d = launch(i);
    servers.push({ daemon: d, url: '', name: `n${String(i)}` });
  }
  for (let i = 0; i < size; i++) {
    const s = servers[i] as NatsCluster['servers'][number];
    clientPorts[i] = await waitNatsReady(s.daemon, 30_000);
    s.url = `nats://127.0.0.1:${String(clientPorts[i])}`;
  }
  // JetStream answers only once the servers have elected a metadata leader.
  const deadline = Date.now() + 30_000;
  while (!servers.some((s) => s.daemon.output().includes('metadata leader'))) {
    if (Date.now() > deadline)
      throw new Error(
        `the NATS cluster elected no JetStream leader:\n${servers.map((s) => s.daemon.tail(800)).join('\n')}`,
      );
    await sleep(100);
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    restart: async (i) => {
      const s = servers[i] as NatsCluster['servers'][number];
      if (s.daemon.alive) await s.daemon.stop();
      s.daemon = launch(i);
      await waitNatsReady(s.daemon, 30_000);
    },
  };
}

/** mTLS files made by deploy/make-certs.sh (one `agent` certificate shared by every agent, as the system tests do). */
export interface Pki {
  dir: string;
  files(name: 'agent' | 'coordinator' | 'client'): { ca_file: string; cert_file: string; key_file: string };
  /** Client credentials for in-process gRPC clients (the `client` certificate). */
  clientCredentials(): Promise<ChannelCredentials>;
}

/**
 * Certificates for agent, coordinator and client in `<stack dir>/pki`; `sans` (`IP:10.1.2.3`, ...)
 * go into every certificate beside localhost (make-certs.sh's TENKS_SANS), for daemons reached
 * at other addresses.
 */
export async function makePki(stack: Stack, o: { sans?: readonly string[] } = {}): Promise<Pki> {
  const dir = join(stack.dir, 'pki');
  const args = [join(REPO, 'deploy/make-certs.sh'), dir, 'agent', 'coordinator', 'client'];
  if (o.sans === undefined || o.sans.length === 0) await run('bash', args);
  else await run('env', [`TENKS_SANS=${o.sans.join(',')}`, 'bash', ...args]);
  return {
    dir,
    files: (name) => ({
      ca_file: join(dir, 'ca.pem'),
      cert_file: join(dir, `${name}.pem`),
      key_file: join(dir, `${name}-key.pem`),
    }),
    clientCredentials: async () => {
      const [ca, key, cert] = await Promise.all(
        ['ca.pem', 'client-key.pem', 'client.pem'].map((f) => readFile(join(dir, f))),
      );
      return credentials.createSsl(ca, key, cert);
    },
  };
}

/** The running coordinator and a client of it. */
export interface Coordinator {
  daemon: Daemon;
  address: string;
  api: CoordinatorWire;
}

/** Writes `config` (YAML) to `<stack dir>/<name>.yaml`. */
export async function writeConfig(stack: Stack, name: string, config: Record<string, unknown>): Promise<string> {
  const file = join(stack.dir, `${name}.yaml`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}

/** Starts tenks-coordinator (mTLS) on a free loopback port; resolves once it answers GetInfo. */
export async function startCoordinator(
  stack: Stack,
  nats: Nats,
  pki: Pki,
  o: {
    extra?: Record<string, unknown>;
    nodeArgs?: readonly string[];
    callTimeoutMs?: number;
    /** Config file and process name, for stacks with several coordinators. Default `coordinator`. */
    name?: string;
    /** Listen on this port (a restart keeps its address). Default: a free one. */
    port?: number;
  } = {},
): Promise<Coordinator> {
  const name = o.name ?? 'coordinator';
  const port = o.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const file = await writeConfig(stack, name, {
    coordinator_id: 'bench-coordinator',
    listen: address,
    tls: pki.files('coordinator'),
    nats: { servers: nats.url },
    secrets_key_file: join(stack.dir, 'coordinator-secrets.key'),
    log_level: 'warn',
    shutdown_grace_s: 2,
    ...o.extra,
  });
  const d = stack.spawn(`tenks-${name}`, process.execPath, [
    ...(o.nodeArgs ?? []),
    join(REPO, 'bin/tenks-coordinator.js'),
    '--config',
    file,
  ]);
  // tenksctl's channel options (64 MiB messages: GetNodes of thousands of nodes).
  const api = new CoordinatorWire(
    address,
    await pki.clientCredentials(),
    channelOptions({ address, tls: null }),
    o.callTimeoutMs ?? 120_000,
  );
  stack.onCleanup('coordinator client', () => {
    api.close();
    return Promise.resolve();
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await api.getInfo({ timeoutMs: 2000 });
      return { daemon: d, address, api };
    } catch (e) {
      if (!d.alive || Date.now() > deadline) throw new Error(`coordinator did not come up: ${String(e)}\n${d.tail()}`);
      await sleep(200);
    }
  }
}

/** Options of one agent. */
export interface AgentOptions {
  id: string;
  libvirtUri: string;
  poolName: string;
  /** IPMI port range (start 0: any free port). */
  ipmi: { start: number; end: number };
  nofile?: number;
  /** Node.js options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** More config keys (override the defaults here). */
  extra?: Record<string, unknown>;
  /** Run it in this network namespace (`ip netns exec NS node ...`); give `extra.listen` an address there. */
  netns?: string;
  /** More environment variables of the agent process. */
  env?: Record<string, string>;
}

/** Starts a tenks-agent (mTLS, listen 127.0.0.1:0, heartbeats to `nats`); its files under `<stack dir>/<id>/`. */
export async function startAgent(stack: Stack, nats: Nats, pki: Pki, o: AgentOptions): Promise<Daemon> {
  const base = join(stack.dir, o.id);
  // Traversable by QEMU (another user), like the stack's dir: the pool is inside.
  await mkdir(base, { recursive: true, mode: 0o711 });
  await chmod(base, 0o711);
  const file = await writeConfig(stack, `agent-${o.id}`, {
    agent_id: o.id,
    listen: '127.0.0.1:0',
    tls: pki.files('agent'),
    libvirt_uri: o.libvirtUri,
    storage: { pool_name: o.poolName, pool_path: join(base, 'pool') },
    log_directory: join(base, 'log'),
    state_dir: join(base, 'state'),
    bmc: {
      listen_address: '127.0.0.1',
      ipmi_port_range_start: o.ipmi.start,
      ipmi_port_range_end: o.ipmi.end,
      redfish_port: 0,
    },
    nats: { servers: nats.url },
    log_level: 'warn',
    shutdown_grace_s: 2,
    ...o.extra,
  });
  const argv = [...(o.nodeArgs ?? []), join(REPO, 'bin/tenks-agent.js'), '--config', file];
  const [bin, args] =
    o.netns === undefined ? [process.execPath, argv] : ['ip', ['netns', 'exec', o.netns, process.execPath, ...argv]];
  return stack.spawn(`tenks-agent ${o.id}`, bin, args, {
    ...(o.nofile !== undefined ? { nofile: o.nofile } : {}),
    ...(o.env !== undefined ? { env: o.env } : {}),
  });
}

/** Waits until the coordinator lists every one of `ids` as alive (from their heartbeats). */
export async function waitForAgents(c: Coordinator, agents: readonly Daemon[], ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const alive = new Set(
      (await c.api.getAgents({ timeoutMs: 5000 }).catch(() => [])).filter((a) => a.alive).map((a) => a.id),
    );
    if (ids.every((id) => alive.has(id))) return;
    const dead = agents.find((a) => !a.alive);
    if (dead) throw new Error(`an agent exited:\n${dead.tail()}`);
    if (Date.now() > deadline)
      throw new Error(
        `agents not alive at the coordinator after 180 s: ${ids.filter((id) => !alive.has(id)).join(', ')}\n${agents.map((a) => a.tail(800)).join('\n')}`,
      );
    await sleep(250);
  }
}

/** `npm run --silent build` unless the bundle is fresh (sources edited meanwhile make it stale). */
export async function ensureBundle(say: (l: string) => void): Promise<void> {
  if (bundleIsFresh()) return;
  say('building dist/tenksctl.cjs (npm run --silent build)');
  await run('npm', ['run', '--silent', 'build'], 120_000);
}

/** One timed `tenksctl` run. */
export interface CtlRun {
  args: string[];
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
  /** Whether bin/tenksctl.js ran the bundle (false: through tsx, ~0.5 s slower). */
  bundle: boolean;
}

/** Runs `node bin/tenksctl.js ARGS` with `env`, timing it wall-clock from spawn to exit. */
export function tenksctl(args: readonly string[], env: Record<string, string>, timeoutMs = 600_000): Promise<CtlRun> {
  const bundle = bundleIsFresh();
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [join(REPO, 'bin/tenksctl.js'), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      resolve({ args: [...args], code, seconds, stdout, stderr, bundle });
    });
  });
}

/** CPU seconds and RSS of named processes, to tell where a phase's time went. */
export class CpuMeter {
  private last = new Map<string, number>();

  constructor(private readonly pids: () => Map<string, number>) {}

  /** Marks the start of a phase. */
  async mark(): Promise<void> {
    this.last = await this.read();
  }

  /** CPU seconds each process used since the last mark (and marks again). */
  async since(): Promise<Record<string, number>> {
    const now = await this.read();
    const out: Record<string, number> = {};
    for (const [name, s] of now) out[name] = round(s - (this.last.get(name) ?? s), 2);
    this.last = now;
    return out;
  }

  private async read(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [name, pid] of this.pids()) out.set(name, await cpuSeconds(pid));
    return out;
  }
}

/** pid of a system daemon by exact process name (e.g. libvirtd), or null. */
export async function pidOf(name: string): Promise<number | null> {
  const out = await run('pidof', ['-s', name]).catch(() => '');
  const pid = Number(out.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Runs a bench's body on `stack`: a failure is recorded in `result` (with the daemons' last
 * output) and sets a failing exit status; the stack is always stopped and removed; `result` is
 * printed as the last line.
 */
export async function runBench(
  stack: Stack,
  say: (line: string) => void,
  result: Record<string, unknown>,
  body: () => Promise<void>,
): Promise<void> {
  let failed = false;
  try {
    await body();
  } catch (e) {
    failed = true;
    result.error = e instanceof Error ? e.message : String(e);
    say(`FAILED: ${String(result.error)}`);
    for (const d of stack.daemons) say(d.tail(1500));
    process.exitCode = 1;
  } finally {
    result.daemon_warnings = daemonWarnings(stack.daemons);
    await stack.close(say);
  }
  if (!failed) say('done: everything started was stopped and removed');
  console.log(JSON.stringify(result));
}
