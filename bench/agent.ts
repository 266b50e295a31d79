/**
 * bench:agent — ensures N nodes through the agent's gRPC API and reports throughput and the
 * agent's peak RSS. The agent runs as its own process (bin/tenks-agent.js) so its RSS is its own.
 *
 *   npm run bench:agent [-- --nodes 1000 --qemu-nodes 100 --concurrency 32]
 *
 * Last line: one JSON object with ensure_per_s (test driver), noop_1000_s, agent_rss_mb,
 * qemu_ensure_per_s (qemu:///system, define only), qemu_noop_s, qemu_agent_rss_mb.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BootMode, NodeSpec, VolumeSpec } from '../proto/gen/tenks/v1/types.pb.js';
import { LoneAgent } from './lib-lone-agent.js';
import { timed } from './lib-timed.js';
import { round } from './lib-stack/figures.js';
import { statusMb } from './lib-stack/proc-stats.js';

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

async function benchDriver(
  uri: string,
  n: number,
  cluster: string,
): Promise<{ ensurePerS: number; noopS: number; rssMb: number; deleteS: number }> {
  const pool = `tenks-bench-${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'tenks-bench-'));
  const agent = LoneAgent.spawn({ libvirtUri: uri, poolName: pool, dir, callTimeoutMs: 300_000 });
  try {
    await agent.ready();
    const api = agent.api;
    const ensureS = await timed(n, CONCURRENCY, async (i) => {
      const r = await api.ensureNode(spec(cluster, i));
      if (!r.changed) throw new Error(`bench${i} already existed`);
    });
    const noopS = await timed(n, CONCURRENCY, async (i) => {
      const r = await api.ensureNode(spec(cluster, i));
      if (r.changed) throw new Error(`bench${i} changed on a no-op ensure`);
    });
    const listed = (await api.listNodes(cluster)).nodes.length;
    if (listed !== n) throw new Error(`expected ${n} nodes, listed ${listed}`);
    const deleteS = await timed(n, CONCURRENCY, (i) => api.deleteNode({ cluster, name: `bench${i}`, uuid: '' }));
    const rssMb = await statusMb(agent.proc.pid ?? 0, 'VmHWM');
    process.stderr.write(
      `${uri}: ${n} ensures in ${round(ensureS)} s (${round(n / ensureS, 1)}/s), no-op re-ensure ${round(noopS)} s, delete ${round(deleteS)} s, agent peak RSS ${rssMb} MB\n`,
    );
    return { ensurePerS: n / ensureS, noopS, rssMb, deleteS };
  } finally {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
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
