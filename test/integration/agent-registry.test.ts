/**
 * The coordinator's agent registry against a real nats-server: heartbeats written to the agents
 * bucket as agents write them, and what the registry makes of them (liveness, waiting for an agent
 * that is restarting, a fresh channel for a restarted agent).
 */
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { BUCKETS, encodeJson, nullLogger, type AgentHeartbeat } from '../../common/index.js';
import { AgentRegistry } from '../../coordinator/agents/registry.js';
import { startNats, type TestNats } from './helpers-nats.js';

function heartbeat(id: string, instance: string, o: Partial<AgentHeartbeat> = {}): AgentHeartbeat {
  return {
    version: 1,
    id,
    address: '127.0.0.1:1',
    hostname: 'h',
    agentVersion: '0.1.0',
    libvirtUri: 'test:///default',
    engine: 'qemu',
    cpus: 2,
    memoryBytes: 1 << 30,
    freeMemoryBytes: 1 << 30,
    uefiAvailable: false,
    pool: { name: 'p', type: 'dir', capacityBytes: 1 << 30, availableBytes: 1 << 30 },
    physnets: [],
    bmc: { address: '127.0.0.1', ipmiPortStart: 0, ipmiPortEnd: 0, ipmiPortsUsed: 0, redfishUrl: 'http://x' },
    nodeCount: 0,
    instance,
    state: 'running',
    timeMs: Date.now(),
    intervalMs: 500,
    ...o,
  };
}

describe('agent registry over real NATS', function () {
  let nats: TestNats;
  let nc: NatsConnection;
  let kv: KV;
  let registry: AgentRegistry;

  before(async function () {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create(BUCKETS.agents, { history: 1 });
    registry = await AgentRegistry.start(nc, {
      timeoutMs: 1_000,
      tls: null,
      callTimeoutMs: 5_000,
      concurrency: 4,
      waitMs: 5_000,
      replicas: 1,
      log: nullLogger,
    });
  });

  after(async function () {
    registry.close();
    await nc.close();
    await nats.stop();
  });

  const beat = async (h: AgentHeartbeat): Promise<void> => {
    await kv.put(h.id, encodeJson(h));
  };
  const until = async (what: string, check: () => boolean): Promise<void> => {
    const end = Date.now() + 5_000;
    while (!check()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('keeps one channel while the agent runs, and makes a fresh one when it restarted', async function () {
    await beat(heartbeat('a1', 'run-1'));
    await until('a1 alive', () => registry.alive('a1'));
    const first = await registry.client('a1');
    await beat(heartbeat('a1', 'run-1'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await registry.client('a1'), first, 'same run: same channel');
    await beat(heartbeat('a1', 'run-2'));
    await until('the restart seen', () => registry.get('a1')?.heartbeat.instance === 'run-2');
    const second = await registry.client('a1');
    assert.notEqual(second, first, 'a restarted agent gets a new channel');
  });

  it('makes a fresh channel for an agent that was dead and is alive again', async function () {
    await beat(heartbeat('a2', 'run-1'));
    await until('a2 alive', () => registry.alive('a2'));
    const first = await registry.client('a2');
    await until('a2 dead', () => !registry.alive('a2'));
    await beat(heartbeat('a2', 'run-1'));
    await until('a2 alive again', () => registry.alive('a2'));
    assert.notEqual(await registry.client('a2'), first);
  });

  it('waits for a dead agent to come back instead of failing at once, up to its wait', async function () {
    await beat(heartbeat('a3', 'run-1'));
    await until('a3 alive', () => registry.alive('a3'));
    await until('a3 dead', () => !registry.alive('a3'));
    const t0 = Date.now();
    const call = registry.withAgent('a3', () => Promise.resolve('answered'));
    setTimeout(() => void beat(heartbeat('a3', 'run-2')), 300);
    assert.equal(await call, 'answered');
    assert.ok(Date.now() - t0 >= 250, 'it waited for the heartbeat');

    await until('a3 dead', () => !registry.alive('a3'));
    const t1 = Date.now();
    await assert.rejects(
      registry.withAgent('a3', () => Promise.resolve('answered'), AbortSignal.timeout(400)),
      (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && e.message.includes('not alive'),
    );
    assert.ok(Date.now() - t1 < 3_000, 'an aborted wait ends with the signal');
  });

  it('tells a waiter when the agent restarts, and forgets a waiter whose wait ended', async function () {
    await beat(heartbeat('a4', 'run-1'));
    await until('a4 alive', () => registry.alive('a4'));
    const stop = new AbortController();
    let woken = false;
    void registry.nextReturn('a4', stop.signal).then(() => (woken = true));
    await beat(heartbeat('a4', 'run-1'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(woken, false, 'a heartbeat of the same run is no return');
    await beat(heartbeat('a4', 'run-2'));
    await until('the waiter woken', () => woken);
    const gone = new AbortController();
    let late = false;
    void registry.nextReturn('a4', gone.signal).then(() => (late = true));
    gone.abort();
    await beat(heartbeat('a4', 'run-3'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(late, false, 'an ended wait is not resolved');
  });

  it('does not wait for an agent it has never seen', async function () {
    const t0 = Date.now();
    await assert.rejects(
      registry.withAgent('never', () => Promise.resolve(1)),
      /not known/,
    );
    assert.ok(Date.now() - t0 < 1_000);
  });
});
