/**
 * The Redfish service over real HTTP(S) on loopback, with an in-memory backend standing in for
 * libvirt: authentication, sessions, ETags, errors, redirects and the request rules the sushy
 * system test does not reach.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type {
  BmcBootDevice,
  BmcInventory,
  BmcPowerAction,
  FirmwareSupport,
  MediaInsert,
  RedfishBackend,
} from '../../agent/bmc/backend.js';
import { RedfishService } from '../../agent/bmc/redfish/server.js';
import type { Arch, BootDevice, FirmwarePatch, NodeStatus } from '../../agent/compute/index.js';
import { nullLogger, TenksError } from '../../common/index.js';

const execFileAsync = promisify(execFile);

const A = '11111111-2222-4333-8444-555555555555';
const B = '66666666-7777-4888-9999-000000000000';

function status(uuid: string, name: string, bootMode: 'uefi' | 'bios', arch: Arch = 'x86_64'): NodeStatus {
  return {
    cluster: 'c',
    name,
    uuid,
    nodeType: 't',
    hypervisor: 'hv',
    powerState: 'off',
    memoryMb: 1536,
    vcpus: 2,
    bootMode,
    machine: arch === 'aarch64' ? 'virt' : bootMode === 'uefi' ? 'q35' : 'pc',
    arch,
    volumes: [
      {
        name: `${name}-vol0`,
        pool: 'tenks',
        path: '/p/0',
        capacityBytes: 10 * 1024 ** 3,
        allocationBytes: 0,
        format: 'qcow2',
      },
    ],
    nics: [{ physnet: 'p1', mac: '52:54:00:aa:bb:01', bridge: 'tb-p1', bridgeMac: '', switchPort: 'tp-x-0' }],
    specHash: 'h',
    consoleLogPath: '',
    engine: 'qemu',
    bootDevice: 'network',
    bootPersistent: true,
    labels: {},
    firmware: { bootMode, secureBoot: false, bios: null, indicatorLed: 'Off', verifyMediaCertificate: false },
    media: null,
  };
}

/** Two nodes with their own credentials; records every action. */
class MemoryBackend implements RedfishBackend {
  /** The host's firmware, per architecture. */
  readonly firmware: Record<Arch, FirmwareSupport> = {
    x86_64: { uefi: true, secureBoot: true },
    aarch64: { uefi: true, secureBoot: true },
  };
  readonly nodes = new Map<string, NodeStatus>([
    [A, status(A, 'node-a', 'uefi')],
    [B, status(B, 'node-b', 'bios')],
  ]);
  readonly creds = new Map([
    [A, ['admin', 'pw-a']],
    [B, ['other', 'pw-b']],
  ]);
  readonly actions: string[] = [];
  media: MediaInsert & { bytes: Buffer } = { image: '', file: '', writeProtected: true, bytes: Buffer.alloc(0) };

  private get(uuid: string): NodeStatus {
    const n = this.nodes.get(uuid);
    if (!n) throw new TenksError('NOT_FOUND', `no node ${uuid}`);
    return n;
  }
  redfishLogin(username: string, password: string): Set<string> {
    return new Set([...this.creds].filter(([, c]) => c[0] === username && c[1] === password).map(([u]) => u));
  }
  redfishUuidOf(name: string): string | null {
    return [...this.nodes.values()].find((n) => n.name === name)?.uuid ?? null;
  }
  node(uuid: string): Promise<NodeStatus> {
    return Promise.resolve(structuredClone(this.get(uuid)));
  }
  firmwareFor(arch: Arch): FirmwareSupport {
    return this.firmware[arch];
  }
  inventory(uuid: string): Promise<BmcInventory> {
    const n = this.get(uuid);
    return Promise.resolve({ name: n.name, arch: n.arch });
  }
  powerState(uuid: string): Promise<'on' | 'off'> {
    return Promise.resolve(this.get(uuid).powerState === 'on' ? 'on' : 'off');
  }
  power(uuid: string, action: BmcPowerAction): Promise<void> {
    this.actions.push(`power:${action}`);
    const n = this.get(uuid);
    n.powerState = action === 'off' || action === 'soft_off' ? 'off' : action === 'nmi' ? n.powerState : 'on';
    return Promise.resolve();
  }
  bootDevice(uuid: string): Promise<BmcBootDevice> {
    const n = this.get(uuid);
    return Promise.resolve({
      device: n.bootDevice,
      persistent: n.bootPersistent,
      uefi: n.firmware.bootMode === 'uefi',
    });
  }
  setBootDevice(uuid: string, device: BootDevice, persistent: boolean): Promise<void> {
    this.actions.push(`boot:${device}:${persistent ? 'persistent' : 'once'}`);
    Object.assign(this.get(uuid), { bootDevice: device, bootPersistent: persistent });
    return Promise.resolve();
  }
  setFirmware(uuid: string, patch: FirmwarePatch): Promise<void> {
    this.actions.push(`firmware:${JSON.stringify(patch)}`);
    const n = this.get(uuid);
    const f = n.firmware;
    n.firmware = {
      bootMode: patch.bootMode ?? f.bootMode,
      secureBoot: patch.secureBoot ?? f.secureBoot,
      bios: patch.bios === null ? null : patch.bios ? { ...f.bios, ...patch.bios } : f.bios,
      indicatorLed: patch.indicatorLed ?? f.indicatorLed,
      verifyMediaCertificate: patch.verifyMediaCertificate ?? f.verifyMediaCertificate,
    };
    return Promise.resolve();
  }
  async insertMedia(uuid: string, media: MediaInsert): Promise<void> {
    this.media = { ...media, bytes: await readFile(media.file) };
    this.get(uuid).media = { image: media.image, inserted: true, writeProtected: media.writeProtected };
    this.actions.push('insert');
  }
  ejectMedia(uuid: string): Promise<boolean> {
    const n = this.get(uuid);
    const had = n.media !== null;
    n.media = null;
    this.actions.push('eject');
    return Promise.resolve(had);
  }
}

interface Res {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

describe('Redfish service over HTTP (in-memory backend)', function () {
  let backend: MemoryBackend;
  let service: RedfishService;
  let base = '';
  let scratch: string;
  let images: Server;
  let imageBase = '';
  const image = Buffer.from('an ISO, for the purposes of this test\n'.repeat(100));

  const basic = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
  const A_AUTH = { Authorization: basic('admin', 'pw-a') };
  async function call(
    method: string,
    path: string,
    o: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<Res> {
    const init: RequestInit = {
      method,
      headers: { ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...o.headers },
      redirect: 'manual',
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    };
    const r = await fetch(`${base}${path}`, init);
    const text = await r.text();
    return {
      status: r.status,
      headers: r.headers,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  }
  const get = (path: string, headers: Record<string, string> = A_AUTH): Promise<Res> => call('GET', path, { headers });
  const errorId = (r: Res): string => (r.json.error as { code: string }).code;

  beforeEach(async function () {
    scratch = await mkdtemp(join(tmpdir(), 'tenks-rf-it-'));
    backend = new MemoryBackend();
    service = new RedfishService({
      listenAddress: '127.0.0.1',
      port: 0,
      tls: null,
      backend,
      log: nullLogger,
      scratchDir: scratch,
    });
    await service.start();
    base = `http://127.0.0.1:${service.port}`;
    images = createServer((req, res) => {
      if (req.url === '/boot.iso') {
        res.writeHead(200, { 'Content-Length': image.length });
        res.end(image);
      } else if (req.url === '/private.iso') {
        const ok = req.headers.authorization === basic('img', 'secret');
        res.writeHead(ok ? 200 : 401);
        res.end(ok ? image : undefined);
      } else if (req.url === '/broken.iso') {
        res.writeHead(503);
        res.end();
      } else if (req.url === '/moved.iso') {
        res.writeHead(302, { Location: '/boot.iso' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => images.listen(0, '127.0.0.1', r));
    const a = images.address();
    imageBase = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });

  afterEach(async function () {
    await service.close();
    await new Promise<void>((r) =>
      images.close(() => {
        r();
      }),
    );
    await rm(scratch, { recursive: true, force: true });
  });

  it('serves the service root without credentials and nothing else', async function () {
    const root = await call('GET', '/redfish/v1/');
    assert.equal(root.status, 200);
    assert.equal(root.json['@odata.type'], '#ServiceRoot.v1_5_0.ServiceRoot');
    assert.deepEqual(root.json.SessionService, { '@odata.id': '/redfish/v1/SessionService' });
    assert.equal(root.headers.get('odata-version'), '4.0');
    assert.equal((await call('GET', '/redfish/v1')).status, 200, 'the trailing slash is optional');
    const denied = await call('GET', '/redfish/v1/Systems');
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal(errorId(denied), 'Base.1.8.NoValidSession');
    const info = (denied.json.error as Record<string, unknown>)['@Message.ExtendedInfo'] as Record<string, unknown>[];
    assert.equal(info[0]?.MessageId, 'Base.1.8.NoValidSession');
    assert.equal((await get('/redfish/v1/Systems', { Authorization: basic('admin', 'nope') })).status, 401);
    assert.equal((await get('/redfish/v1/Systems', { Authorization: 'Bearer x' })).status, 401);
  });

  it('shows each set of credentials only its own nodes', async function () {
    const a = await get('/redfish/v1/Systems');
    assert.deepEqual(a.json.Members, [{ '@odata.id': `/redfish/v1/Systems/${A}` }]);
    assert.equal((await get(`/redfish/v1/Systems/${B}`)).status, 404, 'another node is not found, not forbidden');
    const b = await get(`/redfish/v1/Systems/${B}`, { Authorization: basic('other', 'pw-b') });
    assert.equal(b.status, 200);
    assert.equal((await get(`/redfish/v1/Systems/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`)).status, 404);
    assert.equal((await get('/redfish/v1/Managers')).json['Members@odata.count'], 1);
  });

  it('redirects a node addressed by name to its UUID', async function () {
    const r = await get('/redfish/v1/Systems/node-a/Processors');
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), `/redfish/v1/Systems/${A}/Processors`);
    assert.equal((await get('/redfish/v1/Systems/node-b')).status, 404, 'a name the credentials do not open');
  });

  it('opens, lists and closes Redfish sessions; a closed token no longer works', async function () {
    const bad = await call('POST', '/redfish/v1/SessionService/Sessions', {
      body: { UserName: 'admin', Password: 'x' },
    });
    assert.equal(bad.status, 401);
    const login = await call('POST', '/redfish/v1/SessionService/Sessions', {
      body: { UserName: 'admin', Password: 'pw-a' },
    });
    assert.equal(login.status, 201);
    const token = login.headers.get('x-auth-token') ?? '';
    const location = login.headers.get('location') ?? '';
    assert.ok(token.length >= 32);
    assert.match(location, /^\/redfish\/v1\/SessionService\/Sessions\/[0-9a-f]+$/);
    const withToken = { 'X-Auth-Token': token };
    assert.equal((await get(`/redfish/v1/Systems/${A}`, withToken)).status, 200);
    const list = await get('/redfish/v1/SessionService/Sessions', withToken);
    assert.deepEqual(list.json.Members, [{ '@odata.id': location }]);
    assert.equal(
      (await get(location, { Authorization: basic('other', 'pw-b') })).status,
      404,
      "another user's session",
    );
    assert.equal((await call('DELETE', location, { headers: withToken })).status, 204);
    assert.equal((await get(`/redfish/v1/Systems/${A}`, withToken)).status, 401);
  });

  it('ends sessions whose credentials were forgotten', async function () {
    const login = await call('POST', '/redfish/v1/SessionService/Sessions', {
      body: { UserName: 'admin', Password: 'pw-a' },
    });
    const token = login.headers.get('x-auth-token') ?? '';
    service.forget('admin');
    assert.equal((await get(`/redfish/v1/Systems/${A}`, { 'X-Auth-Token': token })).status, 401);
  });

  it('describes the system as Ironic reads it', async function () {
    const s = await get(`/redfish/v1/Systems/${A}`);
    assert.equal(s.json.PowerState, 'Off');
    assert.deepEqual(s.json.MemorySummary, { TotalSystemMemoryGiB: 1.5, Status: { State: 'Enabled', Health: 'OK' } });
    const boot = s.json.Boot as Record<string, unknown>;
    assert.equal(boot.BootSourceOverrideTarget, 'Pxe');
    assert.equal(boot.BootSourceOverrideMode, 'UEFI');
    assert.deepEqual(boot['BootSourceOverrideTarget@Redfish.AllowableValues'], ['Pxe', 'Hdd', 'Cd']);
    assert.deepEqual((s.json.Links as Record<string, unknown>).ManagedBy, [
      { '@odata.id': `/redfish/v1/Managers/${A}` },
    ]);
    assert.deepEqual(s.json.VirtualMedia, { '@odata.id': `/redfish/v1/Systems/${A}/VirtualMedia` });
    assert.ok(s.json.SecureBoot, 'a UEFI q35 node offers Secure Boot');
    const m = await get(`/redfish/v1/Managers/${A}`);
    assert.deepEqual(m.json.VirtualMedia, s.json.VirtualMedia, 'one collection, linked from both');
    assert.equal((await get(`/redfish/v1/Managers/${A}/VirtualMedia/Cd`)).json.Id, 'Cd');
    const nic = await get(`/redfish/v1/Systems/${A}/EthernetInterfaces/52:54:00:aa:bb:01`);
    assert.equal(nic.json.MACAddress, '52:54:00:aa:bb:01');
    const cpu = await get(`/redfish/v1/Systems/${A}/Processors/CPU1`);
    assert.equal(cpu.json.TotalThreads, 1);
    assert.equal((await get(`/redfish/v1/Systems/${A}/Processors/CPU2`)).status, 404);
    const drive = await get(`/redfish/v1/Systems/${A}/Storage/1/Drives/node-a-vol0`);
    assert.equal(drive.json.CapacityBytes, 10 * 1024 ** 3);
    const simple = await get(`/redfish/v1/Systems/${A}/SimpleStorage/virtio`);
    assert.deepEqual(
      (simple.json.Devices as { CapacityBytes: number }[]).map((d) => d.CapacityBytes),
      [10 * 1024 ** 3],
    );
    assert.equal((await get(`/redfish/v1/Chassis/${A}`)).json.ChassisType, 'RackMount');
    // A legacy node: no Secure Boot, and asking for it is a 404 rather than a 5xx sushy would retry.
    const legacy = await get(`/redfish/v1/Systems/${B}/SecureBoot`, { Authorization: basic('other', 'pw-b') });
    assert.equal(legacy.status, 404);
  });

  it('maps reset types to power actions, doing nothing where the node already is', async function () {
    const reset = (t: unknown): Promise<Res> =>
      call('POST', `/redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset`, {
        headers: A_AUTH,
        body: { ResetType: t },
      });
    assert.equal((await reset('ForceOff')).status, 204);
    assert.deepEqual(backend.actions, [], 'already off');
    for (const t of [
      'On',
      'ForceRestart',
      'GracefulRestart',
      'Nmi',
      'PowerCycle',
      'GracefulShutdown',
      'PushPowerButton',
    ])
      assert.equal((await reset(t)).status, 204, t);
    assert.deepEqual(backend.actions, [
      'power:on',
      'power:cycle',
      'power:reset',
      'power:nmi',
      'power:cycle',
      'power:soft_off',
      'power:on',
    ]);
    const bad = await reset('Explode');
    assert.equal(bad.status, 400);
    assert.equal(errorId(bad), 'Base.1.8.ActionParameterNotSupported');
    const none = await call('POST', `/redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset`, {
      headers: A_AUTH,
      body: {},
    });
    assert.equal(none.status, 400);
    const get405 = await get(`/redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset`);
    assert.equal(get405.status, 405);
    assert.equal(get405.headers.get('allow'), 'POST');
    const junk = await call('POST', `/redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset`, {
      headers: A_AUTH,
      body: '{no',
    });
    assert.equal(junk.status, 400);
    assert.equal(errorId(junk), 'Base.1.8.MalformedJSON');
  });

  it('patches the boot device and mode, honouring If-Match with weak and strong tags', async function () {
    const sys = `/redfish/v1/Systems/${A}`;
    const patch = (body: unknown, headers: Record<string, string> = {}): Promise<Res> =>
      call('PATCH', sys, { headers: { ...A_AUTH, ...headers }, body });
    const etag = (await get(sys)).headers.get('etag') ?? '';
    assert.match(etag, /^"[^"]+"$/);
    assert.equal((await patch({ Boot: { BootSourceOverrideTarget: 'Hdd' } }, { 'If-Match': '"stale"' })).status, 412);
    assert.equal(
      (
        await patch(
          { Boot: { BootSourceOverrideTarget: 'Hdd', BootSourceOverrideEnabled: 'Once' } },
          { 'If-Match': `W/${etag}` },
        )
      ).status,
      204,
    );
    assert.deepEqual(backend.actions, ['boot:disk:once']);
    const again = await get(sys);
    assert.notEqual(again.headers.get('etag'), etag, 'the ETag follows the document');
    assert.equal((again.json.Boot as Record<string, unknown>).BootSourceOverrideEnabled, 'Once');
    assert.equal(
      (await patch({ Boot: { BootSourceOverrideMode: 'Legacy' } }, { 'If-Match': again.headers.get('etag') ?? '' }))
        .status,
      204,
    );
    assert.equal(((await get(sys)).json.Boot as Record<string, unknown>).BootSourceOverrideMode, 'Legacy');
    const lower = await patch({ Boot: { BootSourceOverrideMode: 'Uefi' } });
    assert.equal(lower.status, 400, 'the value is case-sensitive');
    assert.match((lower.json.error as { message: string }).message, /UEFI, Legacy/);
    assert.equal((await patch({})).status, 400);
    assert.equal((await patch({ Boot: {} })).status, 400);
    assert.equal((await patch({ Boot: { BootSourceOverrideTarget: 'BiosSetup' } })).status, 400);
    assert.equal((await patch({ AssetTag: 'x' })).status, 400);
    assert.equal((await patch({ IndicatorLED: 'Blinking' })).status, 204);
    assert.equal((await get(sys)).json.IndicatorLED, 'Blinking');
  });

  it('fetches virtual media over HTTP (with credentials and redirects) and ejects it', async function () {
    const vm = `/redfish/v1/Systems/${A}/VirtualMedia/Cd`;
    const insert = (body: unknown): Promise<Res> =>
      call('POST', `${vm}/Actions/VirtualMedia.InsertMedia`, { headers: A_AUTH, body });
    assert.equal((await insert({ Image: `${imageBase}/moved.iso` })).status, 204);
    assert.deepEqual(backend.media.bytes, image);
    assert.equal(backend.media.writeProtected, true);
    const doc = await get(vm);
    assert.equal(doc.json.Inserted, true);
    assert.equal(doc.json.Image, `${imageBase}/moved.iso`);
    assert.equal(doc.json.ImageName, 'moved.iso');
    // sushy ejects with no body and no Content-Type.
    assert.equal((await call('POST', `${vm}/Actions/VirtualMedia.EjectMedia`, { headers: A_AUTH })).status, 204);
    assert.equal((await get(vm)).json.Inserted, false);
    assert.equal(
      (await insert({ Image: `${imageBase}/private.iso`, UserName: 'img', Password: 'secret' })).status,
      204,
    );
    assert.equal((await insert({ Image: `${imageBase}/private.iso`, UserName: 'img' })).status, 400);
    const missing = await insert({ Image: `${imageBase}/none.iso` });
    assert.equal(missing.status, 400);
    assert.match((missing.json.error as { message: string }).message, /answered 404/);
    assert.equal((await insert({ Image: `${imageBase}/broken.iso` })).status, 502);
    assert.equal((await insert({ Image: 'http://127.0.0.1:9/none.iso' })).status, 502);
    assert.equal((await insert({ Image: 'ftp://x/y.iso' })).status, 400);
    assert.equal((await insert({ Image: `${imageBase}/boot.iso`, TransferProtocolType: 'HTTPS' })).status, 400);
    assert.equal((await insert({})).status, 400);
    // PATCH-style eject, as sushy does when a service offers no actions.
    assert.equal((await call('PATCH', vm, { headers: A_AUTH, body: { Image: null, Inserted: false } })).status, 204);
    assert.equal((await get(vm)).json.Inserted, false);
    assert.equal((await call('PATCH', vm, { headers: A_AUTH, body: { VerifyCertificate: true } })).status, 204);
    assert.equal((await get(vm)).json.VerifyCertificate, true);
    assert.deepEqual(await readdir(scratch), [], 'downloads are cleaned up');
  });

  it('keeps BIOS settings and Secure Boot through the backend', async function () {
    const bios = `/redfish/v1/Systems/${A}/BIOS`;
    const attrs = (await get(bios)).json.Attributes as Record<string, unknown>;
    assert.equal(attrs.BootMode, 'Uefi');
    assert.equal(attrs.NumCores, 10);
    const p = await call('PATCH', `${bios}/Settings`, {
      headers: A_AUTH,
      body: { Attributes: { NumCores: 4, BootMode: 'Bios' } },
    });
    assert.equal(p.status, 204);
    const after = (await get(bios)).json.Attributes as Record<string, unknown>;
    assert.equal(after.NumCores, 4);
    assert.equal(after.BootMode, 'Bios', 'BootMode switches the firmware');
    assert.equal(
      (
        await call('PATCH', `${bios}/Settings`, {
          headers: A_AUTH,
          body: { Attributes: { SecureBootStatus: 'Enabled' } },
        })
      ).status,
      400,
    );
    assert.equal((await call('POST', `${bios}/Actions/Bios.ResetBios`, { headers: A_AUTH })).status, 204);
    assert.equal(((await get(bios)).json.Attributes as Record<string, unknown>).NumCores, 10);
    await call('PATCH', `${bios}/Settings`, { headers: A_AUTH, body: { Attributes: { BootMode: 'Uefi' } } });
    const sb = `/redfish/v1/Systems/${A}/SecureBoot`;
    assert.equal((await call('PATCH', sb, { headers: A_AUTH, body: { SecureBootEnable: 'yes' } })).status, 400);
    assert.equal((await call('PATCH', sb, { headers: A_AUTH, body: { SecureBootEnable: true } })).status, 204);
    assert.equal((await get(sb)).json.SecureBootEnable, true);
    const keys = await call('POST', `${sb}/Actions/SecureBoot.ResetKeys`, {
      headers: A_AUTH,
      body: { ResetKeysType: 'ResetAllKeysToDefault' },
    });
    assert.equal(keys.status, 204);
    assert.ok(backend.actions.includes('firmware:{"resetNvram":true}'));
  });

  it('reports the CPU architecture: x86 / x86-64, and ARM / ARM-A64 for an aarch64 system, which has no Legacy boot', async function () {
    backend.nodes.set(B, status(B, 'node-b', 'uefi', 'aarch64'));
    const B_AUTH = { Authorization: basic('other', 'pw-b') };
    const cpu = (uuid: string, auth: Record<string, string>): Promise<Res> =>
      get(`/redfish/v1/Systems/${uuid}/Processors/CPU0`, auth);
    const x86 = (await cpu(A, A_AUTH)).json;
    assert.deepEqual([x86.ProcessorArchitecture, x86.InstructionSet], ['x86', 'x86-64']);
    const arm = (await cpu(B, B_AUTH)).json;
    assert.deepEqual([arm.ProcessorArchitecture, arm.InstructionSet], ['ARM', 'ARM-A64']);
    assert.equal(arm.TotalThreads, 1);
    const system = (await get(`/redfish/v1/Systems/${B}`, B_AUTH)).json;
    const summary = system.ProcessorSummary as Record<string, unknown>;
    assert.equal(summary.Count, 2);
    assert.equal(summary.Model, 'QEMU TCG CPU (aarch64)');
    assert.equal(
      ((await get(`/redfish/v1/Systems/${A}`)).json.ProcessorSummary as Record<string, unknown>).Model,
      'QEMU TCG CPU (x86_64)',
    );
    const boot = system.Boot as Record<string, unknown>;
    assert.deepEqual(boot['BootSourceOverrideMode@Redfish.AllowableValues'], ['UEFI']);
    const legacy = await call('PATCH', `/redfish/v1/Systems/${B}`, {
      headers: B_AUTH,
      body: { Boot: { BootSourceOverrideMode: 'Legacy' } },
    });
    assert.equal(legacy.status, 400);
    assert.match(JSON.stringify(legacy.json), /aarch64 system has no BIOS/);
    const bios = await call('PATCH', `/redfish/v1/Systems/${B}/BIOS/Settings`, {
      headers: B_AUTH,
      body: { Attributes: { BootMode: 'Bios' } },
    });
    assert.equal(bios.status, 400);
    assert.ok(!backend.actions.some((a) => a.startsWith('firmware:')), 'nothing reached the backend');
    // Secure Boot on virt where the host has AAVMF with Secure Boot, and not where it has none.
    assert.ok(system.SecureBoot, 'a UEFI virt node offers Secure Boot');
    backend.firmware.aarch64 = { uefi: true, secureBoot: false };
    assert.equal((await get(`/redfish/v1/Systems/${B}`, B_AUTH)).json.SecureBoot, undefined);
    assert.equal((await get(`/redfish/v1/Systems/${B}/SecureBoot`, B_AUTH)).status, 404);
    backend.firmware.aarch64 = { uefi: false, secureBoot: false };
    const noFirmware = (await get(`/redfish/v1/Systems/${B}`, B_AUTH)).json.Boot as Record<string, unknown>;
    assert.deepEqual(noFirmware['BootSourceOverrideMode@Redfish.AllowableValues'], []);
  });

  it('never answers an expected GET with a 5xx', async function () {
    for (const path of [
      '/redfish/v1/Nope',
      `/redfish/v1/Systems/${A}/Memory`,
      `/redfish/v1/Systems/${A}/VirtualMedia/Floppy`,
      `/redfish/v1/Systems/${A}/Storage/2`,
      `/redfish/v1/Systems/${A}/EthernetInterfaces/00:00:00:00:00:00`,
      '/elsewhere',
    ]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(errorId(r), 'Base.1.8.ResourceMissingAtURI', path);
    }
    backend.nodes.delete(A);
    const gone = await get(`/redfish/v1/Systems/${A}`);
    assert.equal(gone.status, 404, 'a node deleted under the BMC');
  });

  it('answers a path segment that is not valid percent-encoding with 404, never 500, signed in or not', async function () {
    for (const path of [
      '/redfish/v1/Systems/%zz',
      `/redfish/v1/Systems/${A}/%C0%AF`,
      '/redfish/v1/Systems/node-a/%E0%80',
      '/redfish/v1/SessionService/Sessions/%',
      // Targets the URL parser would read as a (bad) host.
      '//',
      '//x:99999/redfish/v1',
    ]) {
      for (const headers of [A_AUTH, {}]) {
        const r = await get(path, headers);
        assert.equal(r.status, 404, `${path} ${JSON.stringify(r.json)}`);
        assert.equal(errorId(r), 'Base.1.8.ResourceMissingAtURI', path);
      }
    }
  });

  it('answers CONNECT with 405 and a Redfish error instead of dropping the connection', async function () {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(service.port, '127.0.0.1', () => {
        socket.write('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n');
      });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
      socket.on('close', () => {
        resolve(text);
      });
      socket.on('error', reject);
      setTimeout(() => {
        socket.destroy();
      }, 5000);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 405 /, raw.slice(0, 200) || 'no response at all');
    assert.match(head, /\r\ncontent-type: application\/json/i);
    assert.match(head, /\r\nallow: /i);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    assert.equal(Buffer.byteLength(body), length);
    const json = JSON.parse(body) as { error: { code: string } };
    assert.equal(json.error.code, 'Base.1.8.OperationNotAllowed');
  });

  it('answers a 10 MB body with its error (413, or 401 without credentials) before closing, even when the client asked to close', async function () {
    // The client is its own process, as a real one is: sharing this event loop with the server
    // would pace its writes to the server's reads and hide the race.
    const client = `
      const { connect } = require('node:net');
      const [port, head] = [Number(process.argv[1]), process.argv[2]];
      const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from(head), Buffer.alloc(10485760, 97)])));
      let text = '', error = '';
      const done = (v) => { process.stdout.write(v); process.exit(0); };
      socket.on('data', (d) => { text += d.toString('latin1'); if (text.includes('\\r\\n')) done(text.split('\\r\\n')[0]); });
      socket.on('error', (e) => (error = e.message));
      socket.on('close', () => done('nothing (' + (error || 'closed') + ')'));
      setTimeout(() => done('no answer in 20 s'), 20000);`;
    const statusOf = async (head: string): Promise<string> =>
      (await execFileAsync(process.execPath, ['-e', client, String(service.port), head], { timeout: 30_000 })).stdout;
    const length = 10 * 1024 * 1024;
    for (let round = 0; round < 4; round++)
      for (const close of ['Connection: close\r\n', '']) {
        const login = await statusOf(
          `POST /redfish/v1/SessionService/Sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${close}\r\n`,
        );
        assert.match(login, /^HTTP\/1\.1 413 /, `login, ${close ? 'close' : 'keep-alive'}: ${login}`);
        const anonymous = await statusOf(
          `POST /redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${close}\r\n`,
        );
        assert.match(
          anonymous,
          /^HTTP\/1\.1 401 /,
          `reset without credentials, ${close ? 'close' : 'keep-alive'}: ${anonymous}`,
        );
      }
  });

  it('does not count a client that leaves in the middle of its body as a server failure', async function () {
    const warnings: string[] = [];
    const log = { ...nullLogger, warn: (m: string, f?: object) => void warnings.push(`${m} ${JSON.stringify(f)}`) };
    const watched = new RedfishService({
      listenAddress: '127.0.0.1',
      port: 0,
      tls: null,
      backend,
      log,
      scratchDir: scratch,
    });
    await watched.start();
    try {
      for (const path of [
        '/redfish/v1/SessionService/Sessions',
        `/redfish/v1/Systems/${A}/Actions/ComputerSystem.Reset`,
      ]) {
        await new Promise<void>((resolve, reject) => {
          const socket = connect(watched.port, '127.0.0.1', () => {
            socket.write(
              `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('admin', 'pw-a')}\r\nContent-Length: 1000\r\n\r\n{"ResetType":`,
            );
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 100);
          });
          socket.on('error', reject);
        });
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(warnings, []);
    } finally {
      await watched.close();
    }
  });

  it('serves HTTPS with the given certificate', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'tenks-rf-tls-'));
    try {
      await execFileAsync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]);
      const cert = await readFile(join(dir, 'cert.pem'));
      const tls = new RedfishService({
        listenAddress: '127.0.0.1',
        port: 0,
        tls: { cert, key: await readFile(join(dir, 'key.pem')) },
        backend,
        log: nullLogger,
        scratchDir: scratch,
      });
      await tls.start();
      try {
        assert.equal(tls.scheme, 'https');
        const body = await new Promise<string>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: '127.0.0.1',
              port: tls.port,
              path: `/redfish/v1/Systems/${A}`,
              ca: cert,
              servername: 'localhost',
              headers: A_AUTH,
            },
            (res) => {
              let t = '';
              res.on('data', (c: Buffer) => (t += c.toString()));
              res.on('end', () => {
                resolve(t);
              });
            },
          );
          req.on('error', reject);
          req.end();
        });
        assert.equal((JSON.parse(body) as { Id: string }).Id, A);
      } finally {
        await tls.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
