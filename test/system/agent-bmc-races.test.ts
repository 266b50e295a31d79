/**
 * The agent as a real child process on qemu:///system while BMC clients race node changes: a node
 * deleted while ipmitool drives its power from several consoles at once must not take the agent
 * (or the other nodes' BMCs) down with it. The reply to a slow power command outlives the node's
 * socket; with `power status` alone the reply is usually quick enough to miss that window.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootMode, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec } from '../helpers/agent.js';
import { AgentProcess, cleanupLibvirt, domainNames, SYSTEM_URI, suffix } from './helpers.js';

interface IpmiResult {
  code: number;
  stdout: string;
  stderr: string;
}

function ipmitool(args: readonly string[], timeoutMs = 20_000): Promise<IpmiResult> {
  return new Promise((resolve) => {
    execFile('ipmitool', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const LOOPS = 4;
const ROUNDS = 3;

describe('tenks-agent under BMC traffic while nodes are deleted (child process, qemu:///system)', function () {
  const run = suffix();
  const tag = `trace-${run}`;
  const cluster = `race-${run}`;
  const pool = `tenks-race-${run}`;
  const bystander = `${tag}-keep`;
  const password = 'race-secret';
  let dir = '';
  let agent: AgentProcess | undefined;
  let client: AgentClient | undefined;

  const c = (): AgentClient => {
    assert.ok(client, 'no client');
    return client;
  };
  const spec = (name: string): NodeSpec => ({
    ...nodeSpec({ cluster, name, memoryMb: 128, bootMode: BootMode.BOOT_MODE_BIOS }),
    bmc: { ipmiEnabled: true, redfishEnabled: false, username: 'admin', password, ipmiPort: 0 },
  });
  const console_ = (port: number, ...args: string[]): Promise<IpmiResult> =>
    ipmitool(['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', password, ...args]);

  /** Asserts the agent still runs and answers gRPC, and the bystander's BMC still answers ipmitool. */
  async function assertServing(bystanderPort: number, when: string): Promise<void> {
    assert.ok(agent?.running, `the agent exited ${when}: ${agent?.output() ?? ''}`);
    const { host } = await c().hostInfo({ timeoutMs: 20_000 });
    assert.equal(host?.pool?.name, pool);
    const listed = await c().list(cluster, 20_000);
    assert.ok(
      listed.nodes.some((n) => n.name === bystander),
      `bystander missing ${when}`,
    );
    const status = await console_(bystanderPort, 'power', 'status');
    assert.equal(status.code, 0, `the bystander's BMC did not answer ${when}: ${status.stderr}`);
    assert.match(status.stdout, /Chassis Power is (on|off)/);
  }

  before(async function () {
    this.timeout(120_000);
    dir = await mkdtemp(join(tmpdir(), 'tenks-race-'));
    // QEMU runs as its own user: it must reach the pool inside this directory.
    await chmod(dir, 0o755);
    agent = await AgentProcess.spawn(join(dir, 'agent.yaml'), {
      agent_id: tag,
      listen: '127.0.0.1:0',
      insecure_loopback: true,
      libvirt_uri: SYSTEM_URI,
      storage: { pool_name: pool, pool_path: join(dir, 'pool') },
      log_directory: join(dir, 'log'),
      state_dir: join(dir, 'state'),
      bmc: { listen_address: '127.0.0.1', ipmi_port_range_start: 0, ipmi_port_range_end: 0, redfish_port: 0 },
      shutdown_grace_s: 5,
    });
    const listening = await agent.waitForLine((l) => l.message === 'grpc listening', 60_000);
    assert.ok(typeof listening.port === 'number' && listening.port > 0, JSON.stringify(listening));
    client = new AgentClient(`127.0.0.1:${listening.port}`);
  });

  after(async function () {
    this.timeout(120_000);
    client?.close();
    await agent?.kill();
    await cleanupLibvirt({ domainPart: tag, pool });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`survives ${ROUNDS} rounds of DeleteNode under ${LOOPS} concurrent ipmitool power on/off loops`, async function () {
    this.timeout(600_000);
    const keep = await c().ensure(spec(bystander));
    const bystanderPort = keep.node?.bmc?.ipmi?.port ?? 0;
    assert.ok(bystanderPort > 0, 'the bystander has an IPMI port');
    await assertServing(bystanderPort, 'before the first round');

    for (let round = 0; round < ROUNDS; round++) {
      const victim = `${tag}-v${round}`;
      const made = await c().ensure(spec(victim));
      const port = made.node?.bmc?.ipmi?.port ?? 0;
      assert.ok(port > 0, 'the victim has an IPMI port');
      let stop = false;
      let answered = 0;
      const loops = Array.from({ length: LOOPS }, async (_, i) => {
        for (let n = i; !stop; n++) {
          // One retry and a short timeout: once the BMC is gone, a loop notices quickly.
          const r = await console_(port, '-R', '1', '-N', '1', 'chassis', 'power', n % 2 === 0 ? 'on' : 'off');
          if (r.code === 0) answered++;
        }
      });
      try {
        // Let the consoles get going, so that power actions are in flight when the node goes.
        const end = Date.now() + 20_000;
        while (answered < LOOPS && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        const del = await c()
          .delete({ cluster, name: victim }, 120_000)
          .catch((e: unknown) => assert.fail(`DeleteNode failed (${String(e)}): ${agent?.output() ?? ''}`));
        assert.equal(del.existed, true);
        assert.ok(del.removed.includes('BMC'), del.removed.join(', '));
        // Replies to commands that were running when the socket closed land now.
        await new Promise((r) => setTimeout(r, 3_000));
      } finally {
        stop = true;
        await Promise.all(loops);
      }
      assert.ok(!(await domainNames()).includes(victim), `${victim} is still defined`);
      await assertServing(bystanderPort, `after round ${round + 1}`);
    }
    await c().delete({ cluster, name: bystander });
    const uncaught = agent?.lines.filter((l) => /unhandled|uncaught/.test(l.message ?? '')) ?? [];
    assert.deepEqual(uncaught, [], 'nothing was left to the process guard');
  });
});
