/**
 * An aarch64 node on the real libvirtd (`qemu:///system`): qemu-system-aarch64 under TCG with AAVMF
 * chosen by libvirt's firmware autoselection. The agent reports that its host runs aarch64 with
 * UEFI, makes a virt machine with a console log and a virtio NIC on a physnet of the test's own
 * Linux bridge, powers it on, and the console log shows AAVMF trying to boot from the network. Its
 * BMCs report the architecture (Redfish Processors, IPMI FRU through the real ipmitool). Needs
 * Debian's qemu-system-arm and qemu-efi-aarch64 (scripts/setup.sh installs them).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootMode, BridgeType, PowerAction, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, volume, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, domState, run, suffix, virsh, waitUntil } from './helpers.js';

const URI = 'qemu:///system';
/** How long TCG may take from power-on to AAVMF's network boot (about 30 s here; minutes on a busy host). */
const PXE_WITHIN_MS = 6 * 60_000;

const ip = (...args: string[]): Promise<string> => run('ip', args);

/** The first DHCP (BOOTP) request from `mac` on `iface`, as tcpdump prints it, within `timeoutMs`. */
function capture(iface: string, mac: string, timeoutMs: number): Promise<string> {
  const child = spawn(
    'tcpdump',
    ['-i', iface, '-n', '-e', '-l', '-c', '1', 'ether', 'src', mac, 'and', 'udp', 'dst', 'port', '67'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no frame from ${mac} on ${iface} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`tcpdump on ${iface} exited ${String(code)}: ${out}`));
    });
  });
}

describe('an aarch64 node on qemu:///system (TCG, AAVMF)', function () {
  this.timeout(10 * 60_000);
  const tag = suffix();
  const cluster = `arm-${tag}`;
  const name = `tarm-${tag}`;
  const pool = `tenks-arm-${tag}`;
  const physnet = `armp${tag.slice(0, 4)}`;
  const bridge = `tab${tag.slice(0, 6)}`;
  const password = randomBytes(8).toString('hex');
  let agent: TestAgent | undefined;
  let client: AgentClient | undefined;
  let bridgeMade = false;

  const c = (): AgentClient => {
    assert.ok(client, 'no client');
    return client;
  };

  const spec = (): NodeSpec => ({
    ...nodeSpec({
      cluster,
      name,
      arch: 'aarch64',
      memoryMb: 512,
      vcpus: 1,
      bootMode: BootMode.BOOT_MODE_UEFI,
      volumes: [volume({ capacity: '64MiB' })],
      nics: [{ physnet, mac: '' }],
      consoleLogEnabled: true,
    }),
    bmc: { ipmiEnabled: true, redfishEnabled: true, username: 'admin', password, ipmiPort: 0 },
  });

  before(async function () {
    await ip('link', 'add', bridge, 'type', 'bridge');
    bridgeMade = true;
    await ip('link', 'set', bridge, 'up');
    agent = await startTestAgent({ libvirt_uri: URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
    await client.setupHost({
      cluster,
      bridgeType: BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
      physnets: [{ physnet, device: bridge, vlan: 0 }],
    });
  });

  after(async function () {
    await client?.delete({ cluster, name }).catch(() => undefined);
    // Only this test's cluster: '' would remove every tenks bridge on the host, a user's lab's too.
    await client?.teardownHost(cluster).catch(() => undefined);
    client?.close();
    await agent?.stop();
    // The pool is the test's (named by it), so the agent leaves it: it goes here, with any leftover domain.
    const left = await cleanupLibvirt({ domainPart: name, pool });
    if (left.some((l) => l.startsWith('domain'))) console.log(`      cleaned up leftovers: ${left.join(', ')}`);
    if (bridgeMade) await ip('link', 'del', bridge).catch(() => undefined);
  });

  it('reports that the host runs aarch64, with UEFI firmware', async function () {
    const host = (await c().hostInfo()).host;
    assert.ok(host);
    assert.ok(host.arches.includes('aarch64'), `arches: ${host.arches.join(', ')} (install qemu-system-arm)`);
    assert.ok(host.arches.includes('x86_64'));
    assert.ok(host.uefiArches.includes('aarch64'), `UEFI: ${host.uefiArches.join(', ')} (install qemu-efi-aarch64)`);
  });

  it('makes a virt machine of arch aarch64 with AAVMF, a virtio NIC and a console log', async function () {
    const r = await c().ensure(spec());
    assert.equal(r.changed, true);
    assert.equal(r.node?.machine, 'virt');
    const xml = await virsh('dumpxml', '--inactive', name);
    assert.match(xml, /<domain type='qemu'/);
    assert.match(xml, /<type arch='aarch64' machine='virt[^']*'>hvm<\/type>/);
    assert.match(xml, /<os firmware='efi'>/);
    assert.match(xml, /<emulator>\/usr\/bin\/qemu-system-aarch64<\/emulator>/, "libvirt's emulator for aarch64");
    assert.match(xml, /<cpu mode='maximum'/);
    assert.doesNotMatch(xml, /<apic\/>|<smm\b/);
    assert.match(xml, /<target dev='sda' bus='scsi'\/>/, 'the CD drive on SCSI');
    assert.match(xml, /<controller type='scsi' index='0' model='virtio-scsi'/);
    assert.match(xml, /<interface type='(bridge|direct)'[^>]*>[\s\S]*?<model type='virtio'\/>/);
    assert.match(xml, /<log file='[^']*-console\.log' append='on'\/>/);
    const again = await c().ensure(spec());
    assert.equal(again.changed, false, 'an unchanged aarch64 node stays unchanged');
  });

  it('powers on and AAVMF tries a network boot from the virtio NIC (the console log shows it)', async function () {
    const node = (await c().ensure(spec())).node;
    assert.ok(node);
    const log = node.consoleLogPath;
    assert.ok(log.endsWith(`${name}-console.log`), log);
    const mac = node.nics[0]?.mac ?? '';
    assert.match(mac, /^52(:[0-9a-f]{2}){5}$/);
    // Its DHCP discover must come out of the node's NIC onto the test's bridge.
    const dhcp = capture(bridge, mac, PXE_WITHIN_MS);
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    await c().power({ cluster, name }, PowerAction.POWER_ACTION_ON);
    assert.equal(await domState(name), 'running');
    let text = '';
    await waitUntil(
      'the network boot attempt in the console log',
      async () => {
        text = await readFile(log, 'utf8').catch(() => '');
        return text.includes('Start PXE over IPv4');
      },
      PXE_WITHIN_MS,
    );
    console.log(`      AAVMF started PXE after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(text, /^UEFI firmware \(version/m, "AAVMF's banner");
    const frame = await dhcp;
    assert.match(frame, /BOOTP\/DHCP/);
  });

  it("puts virtual media in the running node's SCSI CD drive and takes it out (Redfish)", async function () {
    const node = (await c().ensure(spec())).node;
    const rf = node?.bmc?.redfish;
    assert.ok(rf);
    const scratch = await mkdtemp(join(tmpdir(), 'tenks-arm-iso-'));
    const server = createServer((req, res) => {
      if (req.url !== '/tiny.iso') {
        res.writeHead(404).end();
        return;
      }
      readFile(join(scratch, 'tiny.iso')).then(
        (iso) => res.writeHead(200, { 'Content-Length': iso.length }).end(iso),
        () => res.writeHead(500).end(),
      );
    });
    try {
      await writeFile(join(scratch, 'hello.txt'), 'hello\n');
      await run('genisoimage', ['-quiet', '-V', 'TENKS', '-o', join(scratch, 'tiny.iso'), join(scratch, 'hello.txt')]);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const a = server.address();
      const image = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/tiny.iso`;
      const auth = { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
      const cd = `${rf.url}${rf.systemId}/VirtualMedia/Cd`;
      const insert = await fetch(`${cd}/Actions/VirtualMedia.InsertMedia`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ Image: image }),
      });
      assert.equal(insert.status, 204, await insert.text());
      const drive = async (): Promise<string> =>
        /<disk\b[^>]*device='cdrom'[\s\S]*?<\/disk>/.exec(await virsh('dumpxml', name))?.[0] ?? '';
      const live = await drive();
      assert.match(live, /<target dev='sda' bus='scsi'\/>/);
      assert.match(live, new RegExp(`<source\\b[^>]*${name}-vmedia-cd`), 'the running node sees the media at once');
      const eject = await fetch(`${cd}/Actions/VirtualMedia.EjectMedia`, { method: 'POST', headers: auth });
      assert.equal(eject.status, 204, await eject.text());
      assert.doesNotMatch(await drive(), /vmedia-cd/);
    } finally {
      await new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      );
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('has BMCs that report an ARM system: Redfish Processors and the IPMI FRU', async function () {
    const node = (await c().ensure(spec())).node;
    const rf = node?.bmc?.redfish;
    const ipmi = node?.bmc?.ipmi;
    assert.ok(rf && ipmi, 'both BMCs');
    const auth = { Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
    const cpu = (await (await fetch(`${rf.url}${rf.systemId}/Processors/CPU0`, { headers: auth })).json()) as Record<
      string,
      unknown
    >;
    assert.equal(cpu.ProcessorArchitecture, 'ARM');
    assert.equal(cpu.InstructionSet, 'ARM-A64');
    const system = (await (await fetch(`${rf.url}${rf.systemId}`, { headers: auth })).json()) as {
      Boot: Record<string, unknown>;
    };
    assert.deepEqual(system.Boot['BootSourceOverrideMode@Redfish.AllowableValues'], ['UEFI']);
    const fru = await run('ipmitool', [
      ...['-I', 'lanplus', '-H', ipmi.address, '-p', String(ipmi.port), '-U', 'admin', '-P', password],
      ...['fru', 'print', '0'],
    ]);
    assert.match(fru, /Product Extra\s+: cpu_arch=aarch64/);
    assert.match(fru, new RegExp(`Product Asset Tag\\s+: ${name}`));
  });

  it('powers off and deletes the node with its NVRAM', async function () {
    await c().power({ cluster, name }, PowerAction.POWER_ACTION_OFF);
    const nvram = /<nvram[^>]*>([^<]+)<\/nvram>/.exec(await virsh('dumpxml', '--inactive', name))?.[1];
    const r = await c().delete({ cluster, name });
    assert.equal(r.existed, true);
    assert.ok(!(await virsh('list', '--all', '--name')).split('\n').includes(name), 'domain gone');
    if (nvram !== undefined) await assert.rejects(readFile(nvram), 'the NVRAM file went with the domain');
  });
});
