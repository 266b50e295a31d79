/**
 * The agent's Redfish service in front of real QEMU domains, driven by the real Python sushy client
 * (Debian's python3-sushy, through test/system/sushy-driver.py) and checked against what libvirt
 * then says about the domains.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootMode, BridgeType, type NodeSpec } from '../../proto/gen/tenks/v1/types.pb.js';
import { AgentClient, nodeSpec, startTestAgent, volume, type TestAgent } from '../helpers/agent.js';
import { cleanupLibvirt, domState, ROOT, run, suffix, virsh, waitUntil } from './helpers.js';

const URI = 'qemu:///system';
const PY = '/usr/bin/python3';
const DRIVER = join(ROOT, 'test/system/sushy-driver.py');

interface Sushy {
  code: number;
  out: Record<string, unknown>;
}

const ip = (...args: string[]): Promise<string> => run('ip', args);
/** A CD drive holding media (libvirt leaves `<source index='N'/>` in an emptied live drive). */
const MEDIA_SOURCE = /<source\b[^>]*\b(?:file|volume|dev)=/;

describe('agent Redfish BMCs on real QEMU domains (sushy)', function () {
  const tag = suffix();
  const cluster = `rf-${tag}`;
  const uefiName = `trfu-${tag}`;
  const biosName = `trfb-${tag}`;
  const pool = `tenks-rf-${tag}`;
  const physnet = `rfp${tag.slice(0, 4)}`;
  const bridge = `trb${tag.slice(0, 6)}`;
  const password = randomBytes(8).toString('hex');
  let agent: TestAgent;
  let client: AgentClient;
  let scratch: string;
  let isoServer: Server;
  let isoUrl = '';
  let url = '';
  let uefiUuid = '';
  let biosUuid = '';

  const spec = (name: string, mode: BootMode): NodeSpec => ({
    ...nodeSpec({
      cluster,
      name,
      memoryMb: 256,
      vcpus: 2,
      bootMode: mode,
      volumes: [volume({ capacity: '64MiB' }), volume({ capacity: '32MiB', format: 'raw' })],
      nics: [{ physnet, mac: '' }],
    }),
    bmc: { ipmiEnabled: false, redfishEnabled: true, username: 'admin', password, ipmiPort: 0 },
  });

  const sushy = (uuid: string, step: string, ...args: string[]): Promise<Sushy> =>
    sushyAs(uuid, 'admin', password, step, ...args);
  const sushyAs = (uuid: string, user: string, pw: string, step: string, ...args: string[]): Promise<Sushy> =>
    new Promise((resolve, reject) => {
      execFile(
        PY,
        [DRIVER, `${url}/redfish/v1`, user, pw, `/redfish/v1/Systems/${uuid}`, step, ...args],
        { timeout: 120_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          const last = stdout.trim().split('\n').pop() ?? '';
          try {
            resolve({ code, out: JSON.parse(last) as Record<string, unknown> });
          } catch {
            reject(new Error(`sushy ${step} printed no JSON (exit ${code}): ${stdout}\n${stderr}`));
          }
        },
      );
    });
  const ok = async (uuid: string, step: string, ...args: string[]): Promise<Record<string, unknown>> => {
    const r = await sushy(uuid, step, ...args);
    assert.equal(r.code, 0, `sushy ${step} ${args.join(' ')}: ${JSON.stringify(r.out)}`);
    return r.out;
  };
  const inactiveXml = (name: string): Promise<string> => virsh('dumpxml', '--inactive', name);
  const firstBoot = async (name: string): Promise<string> =>
    /<boot dev='(\w+)'\/>/.exec(await inactiveXml(name))?.[1] ?? 'none';
  const cdromOf = (xml: string): string => /<disk[^>]*device='cdrom'[\s\S]*?<\/disk>/.exec(xml)?.[0] ?? '';

  before(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'tenks-rf-'));
    // A tiny ISO served over HTTP on loopback, as Ironic serves its boot ISOs.
    await writeFile(join(scratch, 'hello.txt'), 'tenks virtual media\n');
    await run('genisoimage', ['-quiet', '-V', 'TENKS', '-o', join(scratch, 'tiny.iso'), join(scratch, 'hello.txt')]);
    const iso = await readFile(join(scratch, 'tiny.iso'));
    isoServer = createServer((req, res) => {
      if (req.url === '/tiny.iso') {
        res.writeHead(200, { 'Content-Length': iso.length, 'Content-Type': 'application/octet-stream' });
        res.end(iso);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => isoServer.listen(0, '127.0.0.1', r));
    const a = isoServer.address();
    isoUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/tiny.iso`;

    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('link', 'set', bridge, 'up');
    agent = await startTestAgent({ libvirt_uri: URI, storage: { pool_name: pool } });
    client = new AgentClient(agent.address);
    await client.setupHost({
      cluster,
      bridgeType: BridgeType.BRIDGE_TYPE_LINUXBRIDGE,
      physnets: [{ physnet, device: bridge, vlan: 0 }],
    });
    const u = await client.ensure(spec(uefiName, BootMode.BOOT_MODE_UEFI));
    const b = await client.ensure(spec(biosName, BootMode.BOOT_MODE_BIOS));
    uefiUuid = u.node!.uuid;
    biosUuid = b.node!.uuid;
    const ep = u.node?.bmc?.redfish;
    assert.ok(ep, 'Redfish endpoint reported');
    assert.equal(ep.systemId, `/redfish/v1/Systems/${uefiUuid}`);
    assert.equal(ep.password, '', 'no password unless asked');
    url = ep.url;
  });

  after(async function () {
    await client.delete({ cluster, name: uefiName }).catch(() => undefined);
    await client.delete({ cluster, name: biosName }).catch(() => undefined);
    await client.teardownHost(cluster).catch(() => undefined);
    client.close();
    await agent.stop();
    await cleanupLibvirt({ domainPart: tag, pool });
    await ip('link', 'del', bridge).catch(() => undefined);
    await new Promise<void>((r) =>
      isoServer.close(() => {
        r();
      }),
    );
    await rm(scratch, { recursive: true, force: true });
  });

  it('reports what Ironic inspects: memory, processors, MACs, disks, boot mode, virtual media', async function () {
    const s = await ok(uefiUuid, 'inspect');
    const node = (await client.getNode({ cluster, name: uefiName, uuid: '' })).node!;
    assert.equal(s.uuid, uefiUuid);
    assert.equal(s.name, uefiName);
    assert.equal(s.power_state, 'Off');
    assert.deepEqual(s.processors, { count: 2, threads: 2, instruction_sets: ['x86-64'] });
    const macs = (await virsh('domiflist', uefiName))
      .split('\n')
      .map((l) => /([0-9a-f]{2}(:[0-9a-f]{2}){5})/.exec(l)?.[1])
      .filter((m): m is string => m !== undefined);
    assert.deepEqual(s.macs, macs.sort());
    assert.deepEqual(s.macs, node.nics.map((n) => n.mac).sort());
    assert.deepEqual(s.simple_storage_disks_bytes, [32 * 1024 ** 2, 64 * 1024 ** 2]);
    assert.deepEqual(s.storage_drives_bytes, [32 * 1024 ** 2, 64 * 1024 ** 2]);
    assert.deepEqual((s.boot as { mode: string }).mode, 'UEFI');
    assert.deepEqual((s.boot as { allowed_targets: string[] }).allowed_targets, ['Cd', 'Hdd', 'Pxe']);
    assert.deepEqual(s.managers, [uefiUuid]);
    assert.deepEqual(s.virtual_media, [{ id: 'Cd', media_types: ['CD', 'DVD'], inserted: false, image: null }]);
    const b = await ok(biosUuid, 'inspect');
    assert.equal((b.boot as { mode: string }).mode, 'Legacy');
  });

  it('powers on, restarts, pulses NMI and powers off; libvirt agrees', async function () {
    assert.equal((await ok(uefiUuid, 'reset', 'On')).power_state, 'On');
    assert.equal(await domState(uefiName), 'running');
    await ok(uefiUuid, 'reset', 'ForceRestart');
    assert.equal(await domState(uefiName), 'running');
    await ok(uefiUuid, 'reset', 'GracefulRestart');
    await ok(uefiUuid, 'reset', 'Nmi');
    assert.equal(await domState(uefiName), 'running');
    await ok(uefiUuid, 'reset', 'GracefulShutdown');
    assert.equal((await ok(uefiUuid, 'reset', 'ForceOff')).power_state, 'Off');
    await waitUntil('the domain to be off', async () => (await domState(uefiName)) === 'shut off');
    // Asking for the state the node is in already is a no-op, not an error.
    await ok(uefiUuid, 'reset', 'ForceOff');
  });

  it('sets the boot device in the domain definition, once or continuously', async function () {
    assert.deepEqual(await ok(biosUuid, 'boot', 'Hdd', 'Continuous'), { target: 'Hdd', enabled: 'Continuous' });
    assert.equal(await firstBoot(biosName), 'hd');
    assert.deepEqual(await ok(biosUuid, 'boot', 'Cd', 'Continuous'), { target: 'Cd', enabled: 'Continuous' });
    assert.equal(await firstBoot(biosName), 'cdrom');
    assert.deepEqual(await ok(biosUuid, 'boot', 'Pxe', 'Once'), { target: 'Pxe', enabled: 'Once' });
    assert.equal(await firstBoot(biosName), 'network');
    await ok(biosUuid, 'reset', 'On');
    await waitUntil('the one-time boot device to be used up', async () => (await firstBoot(biosName)) === 'cdrom');
    await ok(biosUuid, 'reset', 'ForceOff');
    await ok(biosUuid, 'boot', 'Pxe', 'Continuous');
    assert.equal(await firstBoot(biosName), 'network');
  });

  it('switches the firmware between UEFI and legacy BIOS', async function () {
    assert.deepEqual(await ok(uefiUuid, 'mode', 'Legacy'), { mode: 'Legacy' });
    assert.doesNotMatch(await inactiveXml(uefiName), /firmware='efi'/);
    assert.deepEqual(await ok(uefiUuid, 'mode', 'UEFI'), { mode: 'UEFI' });
    assert.match(await inactiveXml(uefiName), /firmware='efi'/);
    // Set through the BMC, the firmware choice survives an unchanged re-apply of the node.
    await ok(biosUuid, 'mode', 'UEFI');
    const again = await client.ensure(spec(biosName, BootMode.BOOT_MODE_BIOS));
    assert.equal(again.changed, false, again.changes.join('; '));
    assert.match(await inactiveXml(biosName), /firmware='efi'/);
    await ok(biosUuid, 'mode', 'Legacy');
    assert.doesNotMatch(await inactiveXml(biosName), /firmware='efi'/);
  });

  it('inserts virtual media fetched over HTTP as a CD, live and in the definition, and ejects it', async function () {
    await ok(uefiUuid, 'reset', 'On');
    const ins = await ok(uefiUuid, 'insert', isoUrl);
    assert.equal(ins.inserted, true);
    assert.equal(ins.image, isoUrl);
    const vol = `${uefiName}-vmedia-cd`;
    assert.match(cdromOf(await inactiveXml(uefiName)), new RegExp(`volume='${vol}'`));
    assert.match(cdromOf(await virsh('dumpxml', uefiName)), MEDIA_SOURCE, 'the running domain sees the media');
    const path = (await virsh('vol-path', '--pool', pool, vol)).trim();
    assert.deepEqual(await readFile(path), await readFile(join(scratch, 'tiny.iso')));
    // Boot from it, as Ironic's virtual media boot does.
    await ok(uefiUuid, 'boot', 'Cd', 'Once');
    const ej = await ok(uefiUuid, 'eject');
    assert.equal(ej.inserted, false);
    assert.doesNotMatch(cdromOf(await inactiveXml(uefiName)), MEDIA_SOURCE);
    assert.doesNotMatch(cdromOf(await virsh('dumpxml', uefiName)), MEDIA_SOURCE, 'the running domain has no media');
    assert.ok(!(await virsh('vol-list', pool)).includes(vol), 'the image volume is gone');
    await ok(uefiUuid, 'reset', 'ForceOff');
  });

  it('fails InsertMedia clearly when the image cannot be fetched', async function () {
    const r = await sushy(uefiUuid, 'insert', isoUrl.replace('tiny.iso', 'missing.iso'));
    assert.equal(r.code, 3);
    assert.match(String(r.out.message), /answered 404/);
  });

  it('keeps BIOS attributes and turns Secure Boot on in the firmware definition', async function () {
    const before = (await ok(uefiUuid, 'bios')).attributes as Record<string, unknown>;
    assert.equal(before.BootMode, 'Uefi');
    const after = (await ok(uefiUuid, 'bios-set', 'NumCores=4', 'QuietBoot=false')).attributes as Record<
      string,
      unknown
    >;
    assert.equal(after.NumCores, 4);
    assert.equal(after.QuietBoot, 'false');
    assert.deepEqual(await ok(uefiUuid, 'secure-boot'), { enabled: false, current_boot: 'Disabled' });
    assert.deepEqual(await ok(uefiUuid, 'secure-boot-set', 'true'), { enabled: true });
    const xml = await inactiveXml(uefiName);
    assert.match(xml, /<feature enabled='yes' name='secure-boot'\/>/);
    assert.match(xml, /<smm state='on'\/>/);
    await ok(uefiUuid, 'reset', 'On');
    assert.equal(await domState(uefiName), 'running', 'the Secure Boot firmware starts');
    await ok(uefiUuid, 'reset', 'ForceOff');
    assert.deepEqual(await ok(uefiUuid, 'secure-boot-set', 'false'), { enabled: false });
    // A legacy BIOS node offers no Secure Boot.
    const r = await sushy(biosUuid, 'secure-boot');
    assert.equal(r.code, 3);
  });

  it('refuses wrong credentials, and credentials of one node on another', async function () {
    const wrong = await sushyAs(uefiUuid, 'admin', 'wrong', 'auth');
    assert.equal(wrong.code, 3);
    assert.match(String(wrong.out.error), /AccessError|HTTPError|ConnectionError/);
    // Another node with other credentials: the first node's credentials do not open it.
    const other = `trfo-${tag}`;
    const r = await client.ensure({
      ...spec(other, BootMode.BOOT_MODE_BIOS),
      nics: [],
      bmc: { ipmiEnabled: false, redfishEnabled: true, username: 'other', password: 'secret-2', ipmiPort: 0 },
    });
    const cross = await sushy(r.node!.uuid, 'auth');
    assert.equal(cross.code, 3, 'the first node credentials must not open the other node');
    assert.equal((await sushyAs(r.node!.uuid, 'other', 'secret-2', 'auth')).code, 0);
    await client.delete({ cluster, name: other });
  });
});
