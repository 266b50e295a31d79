/**
 * A real standalone Ironic and a real Nova flavor API for tests, as
 * /work/shared/reference/ironic-standalone.md runs them on Debian 12 (Ironic 21.4, API 1.82; Nova
 * 26.2, compute 2.93): noauth, sqlite, no Keystone, no RabbitMQ, everything in a fresh temporary
 * directory, on ports of 127.0.0.1 the servers pick (port 0; each logs the one it got). `stop()`
 * kills the processes and removes the directory; whatever is still running when the test process
 * exits is killed (the whole process group) and its directory removed.
 *
 * Ironic runs as ONE process by default: `/usr/bin/ironic` (API and conductor together) with
 * `rpc_transport = none`. Measured here it is up in ~3 s with ~140 MB RSS, where `ironic-api` +
 * `ironic-conductor` over json-rpc take two Python interpreters (~360 MB) and one more port for the
 * same behaviour; `mode: 'split'` starts that pair when a test needs the RPC hop. Nova is
 * `nova-api` alone (a parent and one worker, ~280 MB), its two databases synced in parallel.
 *
 * Start-up is mostly Python imports, so it grows with the machine's load (2 CPUs, shared): Ironic
 * 4-6 s from nothing to an alive conductor (`create_schema` included), Nova about 12 s (two
 * `nova-manage` syncs of ~4 s each, one after the other, then ~4 s to answer). Start one of each
 * per test file.
 *
 * ## Recipes tried for real against this Ironic (REST, header `X-OpenStack-Ironic-API-Version: latest`)
 *
 * (1) `ipmi` hardware type against a BMC on 127.0.0.1 (pyghmi's, `bench/pyghmi_bmc.py`, or a tenks
 * agent's):
 * ```
 * POST /v1/nodes {"name":"i0","driver":"ipmi","boot_interface":"pxe","deploy_interface":"ramdisk",
 *   "driver_info":{"ipmi_address":"127.0.0.1","ipmi_port":<udp port>,"ipmi_username":"admin","ipmi_password":"..."},
 *   "properties":{"cpus":1,"memory_mb":1024,"local_gb":10,"cpu_arch":"x86_64"},"resource_class":"baremetal"}
 * POST /v1/ports {"node_uuid":"<uuid>","address":"52:54:00:..","physical_network":"physnet1"}
 * PUT /v1/nodes/i0/states/provision {"target":"manage"}    → manageable in ~1.4 s (power status over IPMI)
 * PUT /v1/nodes/i0/states/provision {"target":"provide"}   → available in ~0.2 s (automated_clean = false)
 * ```
 * Poll `GET /v1/nodes/i0` until `target_provision_state` is null; `last_error` says why it failed.
 *
 * (2) Deploy with the `ramdisk` deploy interface, then undeploy:
 * ```
 * PATCH /v1/nodes/i0 [{"op":"add","path":"/instance_info","value":
 *   {"kernel":"file://<imagesDir>/vmlinuz","ramdisk":"file://<imagesDir>/initrd"}}]
 * PUT /v1/nodes/i0/states/provision {"target":"active"}    → active, power on (~8 s with ipmi, <1 s fake)
 * PUT /v1/nodes/i0/states/provision {"target":"deleted"}   → available, power off (~4 s ipmi, <1 s fake)
 * ```
 * - the boot interface must have the `ramdisk_boot` capability: `pxe` (or `ipxe`); `fake` is refused
 *   with 400 "The boot interface must have the `ramdisk_boot` capability". `pxe` works with every
 *   hardware type here, `fake-hardware` included (`boot_interface: pxe`, everything else fake).
 * - pxe validation needs at least one port ("does not have any port associated with it" otherwise);
 *   no DHCP is involved (`dhcp_provider = none`): Ironic only writes `<tftp_root>/<uuid>/{config,
 *   kernel,ramdisk}`, and removes them on undeploy.
 * - kernel and ramdisk may be any files: `file://` URLs below `imagesDir` (`file_url_allowed_paths`);
 *   no `deploy_kernel`/`deploy_ramdisk` and no `image_source` are needed for the ramdisk deploy.
 *
 * ## clouds.yaml for the pair (see {@link writeClouds}), checked with the real clients
 * `OS_CLIENT_CONFIG_FILE=<file> openstack --os-cloud tenks-test flavor list` and
 * `baremetal --os-cloud tenks-test node list` (and `create FILE`) both work with:
 * ```yaml
 * clouds:
 *   tenks-test:
 *     auth_type: admin_token
 *     auth: { token: 'admin:admin', endpoint: http://127.0.0.1:<nova> }
 *     baremetal_endpoint_override: http://127.0.0.1:<ironic>
 *     compute_endpoint_override: http://127.0.0.1:<nova>/v2.1
 *   ironic:
 *     auth_type: none
 *     baremetal_endpoint_override: http://127.0.0.1:<ironic>
 * ```
 * Both overrides are needed: without `compute_endpoint_override` `flavor list` fails ('flavors', the
 * version document of the root URL is not a flavor list); without `baremetal_endpoint_override` the
 * baremetal client goes to the admin_token endpoint (Nova: HTTP 300).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A running test Ironic. */
export interface TestIronic {
  /** `http://127.0.0.1:<port>` (no `/v1`). */
  readonly url: string;
  /** Its temporary directory (config, sqlite DB, state, tftp root, logs); removed by stop. */
  readonly dir: string;
  /** `file_url_allowed_paths`: put kernels and ramdisks here and use `file://` URLs. */
  readonly imagesDir: string;
  /** The `ironic.conf` it runs with. */
  readonly configFile: string;
  /** Everything the processes wrote (oslo logs go to stderr, so here). */
  logs(): Promise<string>;
  /** Resident memory of its processes, summed. */
  rssBytes(): Promise<number>;
  /** Kills the processes (SIGTERM, SIGKILL after 5 s) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startIronic}. */
export interface StartIronicOptions {
  /**
   * `single` (default): one `/usr/bin/ironic` with `rpc_transport = none`. `split`: `ironic-conductor`
   * and `ironic-api` talking json-rpc, as the reference runs them.
   */
  mode?: 'single' | 'split';
  /** `[conductor] sync_power_state_interval`, seconds. Default 10. */
  syncPowerStateIntervalS?: number;
  /** How long to wait for `GET /v1/conductors` to show an alive conductor. Default 90 s. */
  readyTimeoutMs?: number;
  /** Further `ironic.conf` text, appended as is (later sections and keys win in oslo.config). */
  extraConfig?: string;
}

/** A running test Nova API (flavors, noauth2). */
export interface TestNova {
  /** `http://127.0.0.1:<port>` (the version document; the compute API is under `/v2.1`). */
  readonly url: string;
  /** `<url>/v2.1`. */
  readonly computeUrl: string;
  readonly dir: string;
  /** Headers of a noauth2 admin request. */
  readonly headers: Readonly<Record<string, string>>;
  logs(): Promise<string>;
  rssBytes(): Promise<number>;
  /** Kills nova-api (parent and worker) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startNova}. */
export interface StartNovaOptions {
  /** How long to wait for `GET /v2.1/flavors` to answer 200. Default 90 s. */
  readyTimeoutMs?: number;
}

/** The noauth2 admin token nova-api accepts (`user:project`). */
export const NOVA_ADMIN_TOKEN = 'admin:admin';

/** The header that makes Ironic answer with its newest microversion. */
export const IRONIC_LATEST = { 'X-OpenStack-Ironic-API-Version': 'latest' } as const;

const BIN = {
  ironic: '/usr/bin/ironic',
  ironicApi: '/usr/bin/ironic-api',
  ironicConductor: '/usr/bin/ironic-conductor',
  ironicDbsync: '/usr/bin/ironic-dbsync',
  novaApi: '/usr/bin/nova-api',
  novaManage: '/usr/bin/nova-manage',
  baremetal: '/usr/bin/baremetal',
  openstack: '/usr/bin/openstack',
} as const;

/** Paths of the real OpenStack clients. */
export const CLIENTS = { baremetal: BIN.baremetal, openstack: BIN.openstack } as const;

const NOVA_PASTE = '/etc/nova/api-paste.ini';

/** Process groups still running and directories still there, for the exit handler. */
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
});

async function missing(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    try {
      await access(p, constants.R_OK);
    } catch {
      out.push(p);
    }
  }
  return out;
}

/**
 * Why the real services or clients cannot run here (null each when they can): a reason naming the
 * missing files and the Debian packages that bring them, for `this.skip()` messages.
 */
export async function openstackPrerequisites(): Promise<{
  ironic: string | null;
  nova: string | null;
  clients: string | null;
}> {
  const why = (m: string[], pkgs: string): string | null =>
    m.length === 0 ? null : `missing ${m.join(', ')} (apt-get install ${pkgs})`;
  return {
    ironic: why(
      await missing([BIN.ironic, BIN.ironicApi, BIN.ironicConductor, BIN.ironicDbsync]),
      'ironic-api ironic-conductor',
    ),
    nova: why(await missing([BIN.novaApi, BIN.novaManage, NOVA_PASTE]), 'nova-api'),
    clients: why(await missing([BIN.baremetal, BIN.openstack]), 'python3-ironicclient python3-openstackclient'),
  };
}

function run(bin: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** A service process in its own process group, its output appended to `logFile`. */
interface Proc {
  child: ChildProcess;
  pgid: number;
  exited: Promise<void>;
}

async function launch(bin: string, args: readonly string[], cwd: string, logFile: string): Promise<Proc> {
  const log = await open(logFile, 'a');
  try {
    // detached: a process group of its own, so the workers nova-api forks die with it.
    const child = spawn(bin, args, { cwd, detached: true, stdio: ['ignore', log.fd, log.fd] });
    const pgid = child.pid;
    if (pgid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`${bin}: ${err.message}`);
    }
    liveGroups.add(pgid);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    return { child, pgid, exited };
  } finally {
    await log.close();
  }
}

async function killGroup(p: Proc): Promise<void> {
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-p.pgid, s);
    } catch {
      // The group is gone.
    }
  };
  if (p.child.exitCode === null && p.child.signalCode === null) {
    signal('SIGTERM');
    const force = setTimeout(() => {
      signal('SIGKILL');
    }, 5_000);
    await p.exited;
    clearTimeout(force);
  }
  // Workers that outlive their parent (or ignore SIGTERM) go too.
  signal('SIGKILL');
  liveGroups.delete(p.pgid);
}

/** Sum of VmRSS of every process in the given process groups. */
async function groupsRssBytes(pgids: readonly number[]): Promise<number> {
  const want = new Set(pgids);
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (!want.has(pgrp)) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** Polls `ready` every 100 ms until it is true; fails early when a process exits, or at the deadline. */
async function waitReady(
  what: string,
  ready: () => Promise<boolean>,
  procs: readonly Proc[],
  timeoutMs: number,
  logs: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exited = (): boolean => procs.some((p) => p.child.exitCode !== null || p.child.signalCode !== null);
  for (;;) {
    if (exited()) throw new StartError(`${what} exited before it was ready`, await logs());
    try {
      if (await ready()) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new StartError(`${what} not ready after ${timeoutMs} ms`, await logs());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A service that did not come up, with its log. */
class StartError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(`${message}\n--- log ---\n${log.slice(-6000)}`);
  }
}

/**
 * The port the WSGI server of a process got, told port 0, from the process's log: eventlet's
 * `wsgi starting up on http://127.0.0.1:<port>` (oslo.service's own `listening on` line gives the
 * configured port, 0). Each process here serves one WSGI server. Fails like {@link waitReady}.
 */
async function loggedPort(
  what: string,
  logFile: string,
  procs: readonly Proc[],
  deadline: number,
  logs: () => Promise<string>,
): Promise<number> {
  const line = /wsgi starting up on http:\/\/127\.0\.0\.1:(\d+)/;
  let port = 0;
  await waitReady(
    `${what} listening`,
    async () => {
      port = Number(line.exec(await readFile(logFile, 'utf8'))?.[1] ?? 0);
      return port > 0;
    },
    procs,
    deadline - Date.now(),
    logs,
  );
  return port;
}

function ironicConf(lab: string, o: { mode: 'single' | 'split'; syncS: number; extra: string }): string {
  return `[DEFAULT]
auth_strategy = noauth
rpc_transport = ${o.mode === 'single' ? 'none' : 'json-rpc'}
host = 127.0.0.1
my_ip = 127.0.0.1
state_path = ${lab}/state
tempdir = ${lab}/tmp
pybasedir = /usr/lib/python3/dist-packages/ironic
enabled_hardware_types = ipmi,redfish,fake-hardware
enabled_bios_interfaces = fake,no-bios,redfish
enabled_boot_interfaces = fake,pxe,ipxe
enabled_console_interfaces = fake,no-console
enabled_deploy_interfaces = fake,ramdisk,direct
enabled_inspect_interfaces = fake,no-inspect
enabled_management_interfaces = fake,ipmitool,redfish,noop
enabled_network_interfaces = noop
enabled_power_interfaces = fake,ipmitool,redfish
enabled_raid_interfaces = fake,no-raid
enabled_rescue_interfaces = fake,no-rescue
enabled_storage_interfaces = fake,noop
enabled_vendor_interfaces = fake,ipmitool,no-vendor
default_network_interface = noop
[api]
host_ip = 127.0.0.1
port = 0
api_workers = 1
[json_rpc]
auth_strategy = noauth
host_ip = 127.0.0.1
port = 0
[conductor]
automated_clean = false
sync_power_state_interval = ${o.syncS}
force_power_state_during_sync = false
file_url_allowed_paths = ${lab}/img
[database]
connection = sqlite:///${lab}/ironic.db
[dhcp]
dhcp_provider = none
[pxe]
tftp_root = ${lab}/tftp
tftp_master_path = ${lab}/tftp_master
[deploy]
http_root = ${lab}/http
http_url = http://127.0.0.1:8088
fast_track = false
[oslo_concurrency]
lock_path = ${lab}/locks
[oslo_messaging_notifications]
driver = noop
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[ipmi]
# Ironic throttles per BMC address, not port: every BMC on 127.0.0.1 shares this (0 divides by zero).
min_command_interval = 1
command_retry_timeout = 10
${o.extra}`;
}

async function readLogs(dir: string, names: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const n of names) {
    try {
      parts.push(`== ${n}\n${await readFile(join(dir, n), 'utf8')}`);
    } catch {
      // Not written yet.
    }
  }
  return parts.join('\n');
}

async function conductorAlive(url: string): Promise<boolean> {
  const r = await fetch(`${url}/v1/conductors`, { headers: IRONIC_LATEST, signal: AbortSignal.timeout(2_000) });
  if (!r.ok) return false;
  const body = (await r.json()) as { conductors?: { alive?: boolean }[] };
  return (body.conductors ?? []).some((c) => c.alive === true);
}

/** Starts a standalone Ironic (see the file's comment); resolves once a conductor is alive. */
export async function startIronic(o: StartIronicOptions = {}): Promise<TestIronic> {
  const mode = o.mode ?? 'single';
  const dir = await mkdtemp(join(tmpdir(), 'tenks-ironic-'));
  liveDirs.add(dir);
  const configFile = join(dir, 'ironic.conf');
  const logNames = mode === 'single' ? ['ironic.log'] : ['ironic-conductor.log', 'ironic-api.log'];
  const logs = (): Promise<string> => readLogs(dir, ['dbsync.log', ...logNames]);
  let procs: Proc[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(procs.map(killGroup));
    procs = [];
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    for (const d of ['state', 'tmp', 'img', 'tftp', 'tftp_master', 'http', 'locks']) await mkdir(join(dir, d));
    const syncS = o.syncPowerStateIntervalS ?? 10;
    // Port 0 everywhere: each server logs the port it got.
    await writeFile(configFile, ironicConf(dir, { mode, syncS, extra: o.extraConfig ?? '' }));
    await run(BIN.ironicDbsync, ['--config-file', configFile, 'create_schema'], dir, 120_000);
    const deadline = Date.now() + (o.readyTimeoutMs ?? 90_000);
    let apiLog = join(dir, 'ironic.log');
    if (mode === 'single') procs.push(await launch(BIN.ironic, ['--config-file', configFile], dir, apiLog));
    else {
      const conductorLog = join(dir, 'ironic-conductor.log');
      procs.push(await launch(BIN.ironicConductor, ['--config-file', configFile], dir, conductorLog));
      const rpcPort = await loggedPort('ironic-conductor (json-rpc)', conductorLog, procs, deadline, logs);
      // The API reaches the conductor at its own [json_rpc] port: a second file gives it the one the conductor got.
      const apiConfig = join(dir, 'ironic-api.conf');
      await writeFile(apiConfig, `[json_rpc]\nport = ${rpcPort}\n`);
      apiLog = join(dir, 'ironic-api.log');
      procs.push(await launch(BIN.ironicApi, ['--config-file', configFile, '--config-file', apiConfig], dir, apiLog));
    }
    const url = `http://127.0.0.1:${await loggedPort('ironic API', apiLog, procs, deadline, logs)}`;
    await waitReady(`ironic (${mode})`, () => conductorAlive(url), procs, deadline - Date.now(), logs);
    let stopped = false;
    return {
      url,
      dir,
      imagesDir: join(dir, 'img'),
      configFile,
      logs,
      rssBytes: () => groupsRssBytes(procs.map((p) => p.pgid)),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function novaConf(lab: string): string {
  return `[DEFAULT]
state_path = ${lab}/nova-state
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 0
osapi_compute_workers = 1
transport_url = fake://
[api]
auth_strategy = noauth2
[wsgi]
api_paste_config = ${NOVA_PASTE}
[api_database]
connection = sqlite:///${lab}/nova_api.db
[database]
connection = sqlite:///${lab}/nova.db
[oslo_concurrency]
lock_path = ${lab}/nova-locks
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[oslo_messaging_notifications]
driver = noop
`;
}

/** Starts nova-api alone (noauth2, sqlite); resolves once `GET /v2.1/flavors` answers 200. */
export async function startNova(o: StartNovaOptions = {}): Promise<TestNova> {
  const dir = await mkdtemp(join(tmpdir(), 'tenks-nova-'));
  liveDirs.add(dir);
  const configFile = join(dir, 'nova.conf');
  const logs = (): Promise<string> => readLogs(dir, ['nova-api.log']);
  const headers = { 'X-Auth-Token': NOVA_ADMIN_TOKEN };
  let proc: Proc | null = null;
  const cleanup = async (): Promise<void> => {
    if (proc) await killGroup(proc);
    proc = null;
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    for (const d of ['nova-state', 'nova-locks']) await mkdir(join(dir, d));
    // Port 0: nova-api logs the port it got.
    await writeFile(configFile, novaConf(dir));
    // One after the other: `db sync` reads the API database's cell mappings, so run in parallel
    // it failed now and then with "no such table: cell_mappings".
    await run(BIN.novaManage, ['--config-file', configFile, 'api_db', 'sync'], dir, 180_000);
    await run(BIN.novaManage, ['--config-file', configFile, 'db', 'sync'], dir, 180_000);
    const deadline = Date.now() + (o.readyTimeoutMs ?? 90_000);
    const logFile = join(dir, 'nova-api.log');
    const p = await launch(BIN.novaApi, ['--config-file', configFile], dir, logFile);
    proc = p;
    const url = `http://127.0.0.1:${await loggedPort('nova-api', logFile, [p], deadline, logs)}`;
    const flavors = `${url}/v2.1/flavors`;
    await waitReady(
      'nova-api',
      async () => (await fetch(flavors, { headers, signal: AbortSignal.timeout(2_000) })).status === 200,
      [p],
      deadline - Date.now(),
      logs,
    );
    let stopped = false;
    return {
      url,
      computeUrl: `${url}/v2.1`,
      dir,
      headers,
      logs,
      rssBytes: () => groupsRssBytes(proc ? [proc.pgid] : []),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Where the services are, for {@link writeClouds}. */
export interface CloudsTargets {
  /** Ironic's root URL (`TestIronic.url`). */
  ironicUrl: string;
  /** Nova's root URL (`TestNova.url`), or omitted when there is no Nova. */
  novaUrl?: string;
}

/** The clouds.yaml {@link writeClouds} writes, as an object. */
export function cloudsConfig(t: CloudsTargets): { clouds: Record<string, Record<string, unknown>> } {
  const ironicOnly = { auth_type: 'none', baremetal_endpoint_override: t.ironicUrl };
  return {
    clouds: {
      'tenks-test':
        t.novaUrl === undefined
          ? ironicOnly
          : {
              auth_type: 'admin_token',
              auth: { token: NOVA_ADMIN_TOKEN, endpoint: t.novaUrl },
              baremetal_endpoint_override: t.ironicUrl,
              compute_endpoint_override: `${t.novaUrl}/v2.1`,
            },
      ironic: ironicOnly,
    },
  };
}

/**
 * Writes `<dir>/clouds.yaml` with cloud `tenks-test` (Nova's noauth2 token for every service, each
 * service at its endpoint override; Ironic alone with `auth_type: none` without `novaUrl`) and cloud
 * `ironic` (Ironic alone, `auth_type: none`). Resolves with the file's path, for
 * `OS_CLIENT_CONFIG_FILE`.
 */
export async function writeClouds(dir: string, t: CloudsTargets): Promise<string> {
  const file = join(dir, 'clouds.yaml');
  await writeFile(file, stringify(cloudsConfig(t), { version: '1.1' }), { mode: 0o600 });
  return file;
}
