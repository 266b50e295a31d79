/**
 * bench:agent — ensures N nodes through the agent's gRPC API and reports throughput and the
 * agent's peak RSS. The agent runs as its own process (bin/tenks-agent.js) so its RSS is its own.
 *
 *   npm run bench:agent [-- --nodes 1000 --qemu-nodes 100 --concurrency 32]
 *
 * Last line: one JSON object with ensure_per_s (test driver), noop_1000_s, agent_rss_mb,
 * qemu_ensure_per_s (qemu:///system, define only), qemu_noop_s, qemu_agent_rss_mb.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { BootMode, NodeSpec, VolumeSpec } from '../proto/gen/tenks/v1/types.pb.js';
import { AgentWire } from '../common/index.js';
import { freePort, LOOPBACK_BMC } from '../test/helpers/net.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    'qemu-nodes': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
  },
});
const N = Number(values.nodes);
const QN = Number(values['qemu-nodes']);
const CONCURRENCY = Number(values.concurrency);

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

interface Running {
  proc: ChildProcess;
  api: AgentWire;
  dir: string;
}

async function startAgent(uri: string, pool: string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'tenks-bench-'));
  const port = await freePort();
  // BMCs on loopback, on ports the OS chooses: a lab on this host holds Redfish's default 8000.
  const configFile = join(dir, 'agent.json');
  await writeFile(configFile, JSON.stringify({ bmc: LOOPBACK_BMC }));
  const proc = spawn(
    process.execPath,
    [
      'bin/tenks-agent.js',
      '--listen',
      `127.0.0.1:${port}`,
      '--insecure-loopback',
      '--libvirt-uri',
      uri,
      '--pool-name',
      pool,
      '--pool-path',
      join(dir, 'pool'),
      '--log-directory',
      join(dir, 'log'),
      '--state-dir',
      join(dir, 'state'),
      '--config',
      configFile,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const api = new AgentWire(`127.0.0.1:${port}`, credentials.createInsecure(), {}, 300_000);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await api.hostInfo({ timeoutMs: 2000 });
      break;
    } catch (e) {
      if (Date.now() > deadline || proc.exitCode !== null) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { proc, api, dir };
}

async function stopAgent(a: Running): Promise<void> {
  a.api.close();
  const exited = new Promise((r) => a.proc.once('exit', r));
  a.proc.kill('SIGTERM');
  await exited;
  await rm(a.dir, { recursive: true, force: true });
}

function spec(cluster: string, i: number): NodeSpec {
  return NodeSpec.create({
    cluster,
    name: `bench${i}`,
    memoryMb: 64,
    vcpus: 1,
    bootMode: BootMode.BOOT_MODE_BIOS,
    volumes: [VolumeSpec.create({ capacity: '1GiB' }), VolumeSpec.create({ capacity: '512MiB' })],
  });
}

/** Runs `task(i)` for i in [0, n) with `limit` in flight; returns seconds. */
async function timed(n: number, limit: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        await task(i);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

async function benchDriver(
  uri: string,
  n: number,
  cluster: string,
): Promise<{ ensurePerS: number; noopS: number; rssMb: number; deleteS: number }> {
  const pool = `tenks-bench-${process.pid}`;
  const a = await startAgent(uri, pool);
  try {
    const ensureS = await timed(n, CONCURRENCY, async (i) => {
      const r = await a.api.ensureNode(spec(cluster, i));
      if (!r.changed) throw new Error(`bench${i} already existed`);
    });
    const noopS = await timed(n, CONCURRENCY, async (i) => {
      const r = await a.api.ensureNode(spec(cluster, i));
      if (r.changed) throw new Error(`bench${i} changed on a no-op ensure`);
    });
    const listed = (await a.api.listNodes(cluster)).nodes.length;
    if (listed !== n) throw new Error(`expected ${n} nodes, listed ${listed}`);
    const deleteS = await timed(n, CONCURRENCY, (i) => a.api.deleteNode({ cluster, name: `bench${i}`, uuid: '' }));
    const rssMb = await peakRssMb(a.proc.pid ?? 0);
    process.stderr.write(
      `${uri}: ${n} ensures in ${round(ensureS)} s (${round(n / ensureS, 1)}/s), no-op re-ensure ${round(noopS)} s, delete ${round(deleteS)} s, agent peak RSS ${rssMb} MB\n`,
    );
    return { ensurePerS: n / ensureS, noopS, rssMb, deleteS };
  } finally {
    await stopAgent(a);
    if (uri.startsWith('qemu')) {
      for (const cmd of [
        ['pool-destroy', pool],
        ['pool-undefine', pool],
      ]) {
        try {
          execFileSync('virsh', ['-q', '-c', uri, ...cmd], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
    }
  }
}

const test = await benchDriver('test:///default', N, 'bench');
const noop1000 = N === 1000 ? test.noopS : (test.noopS * 1000) / N;
const qemu = QN > 0 ? await benchDriver('qemu:///system', QN, `bench-${process.pid}`) : null;

console.log(
  JSON.stringify({
    nodes: N,
    concurrency: CONCURRENCY,
    ensure_per_s: round(test.ensurePerS, 1),
    noop_1000_s: round(noop1000),
    delete_per_s: round(N / test.deleteS, 1),
    agent_rss_mb: test.rssMb,
    qemu_nodes: QN,
    qemu_ensure_per_s: qemu ? round(qemu.ensurePerS, 1) : null,
    qemu_noop_s: qemu ? round(qemu.noopS) : null,
    qemu_agent_rss_mb: qemu ? qemu.rssMb : null,
  }),
);
