import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { TenksError } from '../../common/errors.js';
import { domainXml, METADATA_NS, metadataXml, parseMetadata } from '../../agent/compute/domain-xml.js';
import { DEFAULT_FIRMWARE, type DomainSpec, type NodeMetadata } from '../../agent/compute/hypervisor.js';
import { compileNodeSpec, rawNodeSpec, rawVolume } from '../../agent/compute/node-spec.js';

type XNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  alwaysCreateTextNode: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
});

/** Parses `xml` after checking it is well-formed; returns the root element. */
function parse(xml: string, root: string): XNode {
  // XMLValidator is deprecated in favour of fast-xml-validator, which is not a dependency here.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}\n${xml}`);
  return one(parser.parse(xml) as XNode, root);
}

function kids(n: XNode, tag: string): XNode[] {
  const v = n[tag];
  if (v === undefined) return [];
  assert.ok(Array.isArray(v), `<${tag}> is not a list`);
  return v as XNode[];
}

/** The `<disk device='disk'>` elements (every domain also has a CD drive). */
function hardDisks(devices: XNode): XNode[] {
  return kids(devices, 'disk').filter((d) => at(d, 'device') === 'disk');
}

function one(n: XNode, tag: string): XNode {
  const k = kids(n, tag);
  assert.equal(k.length, 1, `expected exactly one <${tag}>`);
  return k[0]!;
}

function at(n: XNode, name: string): string | undefined {
  const v = n[`@_${name}`];
  assert.ok(v === undefined || typeof v === 'string');
  return v;
}

function text(n: XNode): string {
  const v = n['#text'];
  return typeof v === 'string' ? v : '';
}

function metadata(fields: Partial<NodeMetadata> = {}): NodeMetadata {
  const spec = compileNodeSpec(
    rawNodeSpec({
      cluster: 'c1',
      name: 'n1',
      uuid: '11111111-2222-4333-8444-555555555555',
      volumes: [rawVolume({ capacity: '10GiB' }), rawVolume({ image: '/img/x.qcow2' })],
      labels: { note: `<b>&'"]]> x` },
    }),
  );
  return {
    version: 1,
    cluster: 'c1',
    name: 'n1',
    uuid: '11111111-2222-4333-8444-555555555555',
    agent: 'hv1',
    specHash: '0123456789abcdef',
    spec,
    ownedVolumes: ['n1-vol0', 'n1-vol1'],
    bootDevice: 'network',
    bootPersistent: true,
    persistentBootDevice: 'network',
    firmware: { ...DEFAULT_FIRMWARE },
    media: null,
    ...fields,
  };
}

function domainSpec(fields: Partial<DomainSpec> = {}): DomainSpec {
  return {
    name: 'n1',
    uuid: '11111111-2222-4333-8444-555555555555',
    memoryMb: 2048,
    vcpus: 2,
    arch: 'x86_64',
    machine: 'q35',
    cpuMode: null,
    bootMode: 'uefi',
    secureBoot: false,
    engine: 'qemu',
    emulator: null,
    clockOffset: 'utc',
    trustGuestRxFilters: false,
    cdrom: null,
    disks: [
      { source: { type: 'volume', pool: 'tenks', volume: 'n1-vol0' }, format: 'qcow2' },
      { source: { type: 'volume', pool: 'tenks', volume: 'n1-vol1' }, format: 'raw' },
    ],
    nics: [],
    bootOrder: ['network', 'disk'],
    consoleLogPath: null,
    vnc: false,
    metadata: metadata(),
    ...fields,
  };
}

function dom(fields: Partial<DomainSpec> = {}, type = 'kvm'): XNode {
  return parse(domainXml(domainSpec(fields), type), 'domain');
}

function devicesOf(d: XNode): XNode {
  return one(d, 'devices');
}

describe('domainXml', () => {
  it('produces a well-formed domain with name, uuid, memory, vcpus and type', () => {
    const d = dom({}, 'qemu');
    assert.equal(at(d, 'type'), 'qemu');
    assert.equal(text(one(d, 'name')), 'n1');
    assert.equal(text(one(d, 'uuid')), '11111111-2222-4333-8444-555555555555');
    const mem = one(d, 'memory');
    assert.equal(at(mem, 'unit'), 'MiB');
    assert.equal(text(mem), '2048');
    assert.equal(text(one(d, 'vcpu')), '2');
  });

  it('uses EFI firmware with secure boot disabled for uefi', () => {
    const os = one(dom({ bootMode: 'uefi' }), 'os');
    assert.equal(at(os, 'firmware'), 'efi');
    const features = kids(one(os, 'firmware'), 'feature');
    const secureBoot = features.find((f) => at(f, 'name') === 'secure-boot');
    assert.ok(secureBoot, 'secure-boot feature present');
    assert.equal(at(secureBoot, 'enabled'), 'no');
    const type = one(os, 'type');
    assert.equal(text(type), 'hvm');
    assert.equal(at(type, 'machine'), 'q35');
    assert.equal(at(type, 'arch'), 'x86_64');
  });

  it('uses no firmware selection for bios', () => {
    const os = one(dom({ bootMode: 'bios', machine: 'pc' }), 'os');
    assert.equal(at(os, 'firmware'), undefined);
    assert.deepEqual(kids(os, 'firmware'), []);
    assert.equal(at(one(os, 'type'), 'machine'), 'pc');
  });

  it('boots in the given order: network then hd', () => {
    const boots = (order: DomainSpec['bootOrder']): (string | undefined)[] =>
      kids(one(dom({ bootOrder: order }), 'os'), 'boot').map((b) => at(b, 'dev'));
    assert.deepEqual(boots(['network', 'disk']), ['network', 'hd']);
    assert.deepEqual(boots(['disk', 'network']), ['hd', 'network']);
    assert.deepEqual(boots(['cdrom']), ['cdrom']);
  });

  it('attaches pool volumes as virtio disks vda, vdb', () => {
    const disks = hardDisks(one(dom(), 'devices'));
    assert.equal(disks.length, 2);
    assert.deepEqual(
      disks.map((d) => [at(d, 'type'), at(d, 'device'), at(one(d, 'target'), 'dev'), at(one(d, 'target'), 'bus')]),
      [
        ['volume', 'disk', 'vda', 'virtio'],
        ['volume', 'disk', 'vdb', 'virtio'],
      ],
    );
    assert.deepEqual(
      disks.map((d) => [at(one(d, 'source'), 'pool'), at(one(d, 'source'), 'volume'), at(one(d, 'driver'), 'type')]),
      [
        ['tenks', 'n1-vol0', 'qcow2'],
        ['tenks', 'n1-vol1', 'raw'],
      ],
    );
  });

  it('attaches files and block devices by path', () => {
    const disks = hardDisks(
      one(
        dom({
          disks: [
            { source: { type: 'file', path: '/srv/a.img' }, format: 'raw' },
            { source: { type: 'block', path: '/dev/vg/lv' }, format: 'raw' },
          ],
        }),
        'devices',
      ),
    );
    assert.equal(at(disks[0]!, 'type'), 'file');
    assert.equal(at(one(disks[0]!, 'source'), 'file'), '/srv/a.img');
    assert.equal(at(disks[1]!, 'type'), 'block');
    assert.equal(at(one(disks[1]!, 'source'), 'dev'), '/dev/vg/lv');
  });

  it('gives every disk a distinct target', () => {
    const disks = Array.from({ length: 30 }, (_, i) => ({
      source: { type: 'volume' as const, pool: 'p', volume: `v${i}` },
      format: 'qcow2',
    }));
    const targets = hardDisks(one(dom({ disks }), 'devices')).map((d) => at(one(d, 'target'), 'dev'));
    assert.equal(new Set(targets).size, 30);
    assert.equal(targets[25], 'vdz');
  });

  it('refuses more than 260 disks', () => {
    const disks = Array.from({ length: 261 }, () => ({ source: { type: 'file' as const, path: '/x' }, format: 'raw' }));
    assert.throws(
      () => domainXml(domainSpec({ disks }), 'kvm'),
      (e: unknown) => e instanceof TenksError && e.code === 'INVALID_SPEC',
    );
  });

  it('writes the serial console to a log file only when set', () => {
    const without = one(one(dom({ consoleLogPath: null }), 'devices'), 'serial');
    assert.deepEqual(kids(without, 'log'), []);
    const serial = one(one(dom({ consoleLogPath: '/var/log/tenks/libvirt/n1-console.log' }), 'devices'), 'serial');
    const log = one(serial, 'log');
    assert.equal(at(log, 'file'), '/var/log/tenks/libvirt/n1-console.log');
    assert.equal(at(log, 'append'), 'on');
    assert.equal(kids(one(dom(), 'devices'), 'console').length, 1);
  });

  it('has no graphics unless vnc is set', () => {
    const devices = one(dom({ vnc: false }), 'devices');
    assert.deepEqual(kids(devices, 'graphics'), []);
    assert.deepEqual(kids(devices, 'video'), []);
  });

  it('listens for VNC on 127.0.0.1 only', () => {
    const xml = domainXml(domainSpec({ vnc: true }), 'kvm');
    const g = one(one(parse(xml, 'domain'), 'devices'), 'graphics');
    assert.equal(at(g, 'type'), 'vnc');
    assert.equal(at(g, 'listen'), '127.0.0.1');
    const listens = kids(g, 'listen');
    assert.ok(listens.length > 0);
    for (const l of listens) {
      assert.equal(at(l, 'type'), 'address');
      assert.equal(at(l, 'address'), '127.0.0.1');
    }
    assert.doesNotMatch(xml, /0\.0\.0\.0|::/);
  });

  it('omits the cpu element when cpuMode is null', () => {
    assert.deepEqual(kids(dom({ cpuMode: null }), 'cpu'), []);
    assert.equal(at(one(dom({ cpuMode: 'host-passthrough' }), 'cpu'), 'mode'), 'host-passthrough');
  });

  it('describes bridge, OVS and direct NICs with virtio and ua- aliases', () => {
    const nics: DomainSpec['nics'] = [
      { mac: '52:54:00:00:00:01', attach: { type: 'bridge', bridge: 'br-p1', openvswitch: false }, alias: 'n1-p1' },
      { mac: '52:54:00:00:00:02', attach: { type: 'bridge', bridge: 'br-ovs', openvswitch: true }, alias: 'n1-p2' },
      { mac: '52:54:00:00:00:03', attach: { type: 'direct', device: 'veth3' }, alias: 'n1-p3' },
    ];
    const ifs = kids(one(dom({ nics }), 'devices'), 'interface');
    assert.deepEqual(
      ifs.map((i) => [
        at(i, 'type'),
        at(one(i, 'mac'), 'address'),
        at(one(i, 'model'), 'type'),
        at(one(i, 'alias'), 'name'),
      ]),
      [
        ['bridge', '52:54:00:00:00:01', 'virtio', 'ua-n1-p1'],
        ['bridge', '52:54:00:00:00:02', 'virtio', 'ua-n1-p2'],
        ['direct', '52:54:00:00:00:03', 'virtio', 'ua-n1-p3'],
      ],
    );
    assert.deepEqual(kids(ifs[0]!, 'virtualport'), []);
    assert.equal(at(one(ifs[1]!, 'virtualport'), 'type'), 'openvswitch');
    assert.equal(at(one(ifs[2]!, 'source'), 'dev'), 'veth3');
    assert.equal(at(one(ifs[2]!, 'source'), 'mode'), 'passthrough');
  });

  it('sets trustGuestRxFilters on macvtap NICs only, when asked', () => {
    const nics: DomainSpec['nics'] = [
      { mac: '52:54:00:00:00:01', attach: { type: 'bridge', bridge: 'br-p1', openvswitch: false }, alias: 'n1-p1' },
      { mac: '52:54:00:00:00:03', attach: { type: 'direct', device: 'veth3' }, alias: 'n1-p3' },
    ];
    const trust = (on: boolean): (string | undefined)[] =>
      kids(one(dom({ nics, trustGuestRxFilters: on }), 'devices'), 'interface').map((i) =>
        at(i, 'trustGuestRxFilters'),
      );
    assert.deepEqual(trust(true), [undefined, 'yes']);
    assert.deepEqual(trust(false), [undefined, undefined]);
  });

  it('writes the clock offset: utc, localtime, variable, or a time zone', () => {
    const clock = (offset: string): [string | undefined, string | undefined, string | undefined] => {
      const c = one(dom({ clockOffset: offset }), 'clock');
      return [at(c, 'offset'), at(c, 'timezone'), at(c, 'basis')];
    };
    assert.deepEqual(clock('utc'), ['utc', undefined, undefined]);
    assert.deepEqual(clock('localtime'), ['localtime', undefined, undefined]);
    assert.deepEqual(clock('variable'), ['variable', undefined, 'utc']);
    assert.deepEqual(clock('Europe/London'), ['timezone', 'Europe/London', undefined]);
  });

  it('names the emulator only when one is given', () => {
    assert.deepEqual(kids(one(dom(), 'devices'), 'emulator'), []);
    const devices = one(dom({ emulator: '/usr/bin/qemu-system-x86_64' }), 'devices');
    assert.equal(text(one(devices, 'emulator')), '/usr/bin/qemu-system-x86_64');
  });

  it('escapes odd characters in names, paths and labels', () => {
    const odd = `a<b>&c'd"e`;
    const spec = domainSpec({
      name: odd,
      consoleLogPath: `/log/${odd}.log`,
      disks: [{ source: { type: 'volume', pool: odd, volume: odd }, format: 'qcow2' }],
      metadata: metadata({ cluster: odd, name: odd, ownedVolumes: [odd] }),
    });
    const xml = domainXml(spec, 'kvm');
    const d = parse(xml, 'domain');
    assert.equal(text(one(d, 'name')), odd);
    assert.equal(at(one(one(one(d, 'devices'), 'serial'), 'log'), 'file'), `/log/${odd}.log`);
    const src = one(hardDisks(one(d, 'devices'))[0]!, 'source');
    assert.equal(at(src, 'pool'), odd);
    assert.equal(at(src, 'volume'), odd);
    const node = one(one(d, 'metadata'), 'tenks:node');
    assert.equal(at(node, 'cluster'), odd);
    assert.equal(at(node, 'name'), odd);
    // The spec JSON (with a label full of markup) survives as element text.
    const specJson = JSON.parse(text(one(node, 'tenks:spec'))) as { labels: Record<string, string> };
    assert.equal(specJson.labels.note, `<b>&'"]]> x`);
    assert.deepEqual(parseMetadata(xml), spec.metadata);
  });

  it('gives every domain a read-only CD drive: empty, or holding the virtual media volume', () => {
    const cd = (fields: Partial<DomainSpec>): XNode =>
      kids(one(dom(fields), 'devices'), 'disk').find((d) => at(d, 'device') === 'cdrom')!;
    const empty = cd({});
    assert.equal(at(one(empty, 'target'), 'bus'), 'sata', 'SATA on q35');
    assert.equal(empty.source, undefined, 'an empty drive has no source');
    assert.ok(empty.readonly !== undefined);
    assert.equal(at(one(cd({ machine: 'pc' }), 'target'), 'bus'), 'ide', 'IDE on i440fx');
    const full = cd({ cdrom: { type: 'volume', pool: 'tenks', volume: 'n1-vmedia-cd' } });
    assert.equal(at(full, 'type'), 'volume');
    assert.equal(at(one(full, 'source'), 'volume'), 'n1-vmedia-cd');
  });

  it('turns Secure Boot on with SMM only for UEFI nodes that ask for it', () => {
    const features = (fields: Partial<DomainSpec>): string[] =>
      kids(one(one(dom(fields), 'os'), 'firmware'), 'feature').map((f) => `${at(f, 'name')}=${at(f, 'enabled')}`);
    assert.deepEqual(features({}), ['secure-boot=no', 'enrolled-keys=no']);
    assert.deepEqual(features({ secureBoot: true }), ['secure-boot=yes', 'enrolled-keys=yes']);
    assert.ok(one(dom({ secureBoot: true }), 'features').smm !== undefined);
    assert.equal(one(dom({}), 'features').smm, undefined);
    assert.equal(one(dom({ bootMode: 'bios', secureBoot: true }), 'os').firmware, undefined);
  });

  it('has the x86 devices (APIC, VGA with VNC) on x86_64 and the test driver arch when given', () => {
    const d = dom({ vnc: true });
    assert.ok(one(d, 'features').apic !== undefined);
    assert.equal(at(one(one(one(d, 'devices'), 'video'), 'model'), 'type'), 'vga');
    assert.equal(at(one(one(dom({}, 'qemu'), 'os'), 'type'), 'arch'), 'x86_64');
    const test = parse(domainXml(domainSpec(), 'test', 'i686'), 'domain');
    assert.equal(at(one(one(test, 'os'), 'type'), 'arch'), 'i686');
  });

  describe('aarch64', () => {
    const arm = (fields: Partial<DomainSpec> = {}): XNode =>
      dom({ arch: 'aarch64', machine: 'virt', cpuMode: 'maximum', ...fields }, 'qemu');

    it('is a virt machine of arch aarch64 booting UEFI, under TCG with the maximum CPU', () => {
      const d = arm();
      assert.equal(at(d, 'type'), 'qemu');
      const os = one(d, 'os');
      assert.equal(at(os, 'firmware'), 'efi');
      assert.equal(at(one(os, 'type'), 'arch'), 'aarch64');
      assert.equal(at(one(os, 'type'), 'machine'), 'virt');
      assert.deepEqual(
        kids(os, 'boot').map((b) => at(b, 'dev')),
        ['network', 'hd'],
      );
      assert.equal(at(one(d, 'cpu'), 'mode'), 'maximum');
      assert.deepEqual(kids(devicesOf(d), 'emulator'), [], 'libvirt picks qemu-system-aarch64 for the arch');
    });

    it('has ACPI but no x86 features (APIC, SMM), even with Secure Boot', () => {
      const features = one(arm({ secureBoot: true }), 'features');
      assert.ok(features.acpi !== undefined);
      assert.equal(features.apic, undefined);
      assert.equal(features.pae, undefined);
      assert.equal(features.smm, undefined);
      const fw = kids(one(one(arm({ secureBoot: true }), 'os'), 'firmware'), 'feature').map(
        (f) => `${at(f, 'name')}=${at(f, 'enabled')}`,
      );
      assert.deepEqual(fw, ['secure-boot=yes', 'enrolled-keys=yes']);
    });

    it('puts the CD drive on SCSI behind a virtio-scsi controller (virt has no SATA or IDE)', () => {
      const devices = devicesOf(arm({ cdrom: { type: 'volume', pool: 'tenks', volume: 'n1-vmedia-cd' } }));
      const cd = kids(devices, 'disk').find((x) => at(x, 'device') === 'cdrom')!;
      assert.equal(at(one(cd, 'target'), 'bus'), 'scsi');
      assert.equal(at(one(cd, 'target'), 'dev'), 'sda');
      const scsi = kids(devices, 'controller').filter((c) => at(c, 'type') === 'scsi');
      assert.deepEqual(
        scsi.map((c) => at(c, 'model')),
        ['virtio-scsi'],
      );
    });

    it('keeps disks and NICs on virtio, so PXE comes from the virtio NIC', () => {
      const nics: DomainSpec['nics'] = [
        { mac: '52:54:00:00:00:01', attach: { type: 'bridge', bridge: 'br', openvswitch: true }, alias: 'n1-p1' },
      ];
      const devices = devicesOf(arm({ nics }));
      assert.deepEqual(
        hardDisks(devices).map((x) => at(one(x, 'target'), 'bus')),
        ['virtio', 'virtio'],
      );
      assert.equal(at(one(one(devices, 'interface'), 'model'), 'type'), 'virtio');
    });

    it('has graphics only with VNC: a virtio GPU (no VGA on virt) and USB input devices', () => {
      const none = devicesOf(arm());
      assert.deepEqual(kids(none, 'graphics'), []);
      assert.deepEqual(kids(none, 'video'), []);
      assert.deepEqual(kids(none, 'input'), []);
      const vnc = devicesOf(arm({ vnc: true }));
      assert.equal(at(one(vnc, 'graphics'), 'listen'), '127.0.0.1');
      assert.equal(at(one(one(vnc, 'video'), 'model'), 'type'), 'virtio');
      assert.deepEqual(
        kids(vnc, 'input').map((i) => `${at(i, 'type')}/${at(i, 'bus')}`),
        ['keyboard/usb', 'tablet/usb'],
      );
      assert.ok(kids(vnc, 'controller').some((c) => at(c, 'type') === 'usb' && at(c, 'model') === 'qemu-xhci'));
    });

    it('keeps the serial console and its log', () => {
      const serial = one(devicesOf(arm({ consoleLogPath: '/var/log/tenks/libvirt/n1-console.log' })), 'serial');
      assert.equal(at(one(serial, 'log'), 'file'), '/var/log/tenks/libvirt/n1-console.log');
    });
  });

  it('keeps firmware and virtual media state in the metadata', () => {
    const m = metadata({
      firmware: { ...DEFAULT_FIRMWARE, bootMode: 'bios', secureBoot: true, bios: { NumCores: 4, QuietBoot: false } },
      media: { image: 'http://x/a.iso?b=1&c=2', volume: 'n1-vmedia-cd', inserted: true, writeProtected: true },
    });
    assert.deepEqual(parseMetadata(domainXml(domainSpec({ metadata: m }), 'kvm')), m);
  });

  it('reads metadata written before firmware state existed with the defaults', () => {
    const xml = domainXml(domainSpec(), 'kvm').replace(/<tenks:bmc>[\s\S]*?<\/tenks:bmc>/, '');
    const m = parseMetadata(xml);
    assert.ok(m);
    assert.deepEqual(m.firmware, DEFAULT_FIRMWARE);
    assert.equal(m.media, null);
  });

  it('embeds the tenks metadata in its namespace', () => {
    const node = one(one(dom(), 'metadata'), 'tenks:node');
    assert.equal(at(node, 'xmlns:tenks'), METADATA_NS);
    assert.equal(at(node, 'version'), '1');
    assert.equal(at(node, 'spec-hash'), '0123456789abcdef');
    assert.deepEqual(
      kids(node, 'tenks:owned-volume').map((v) => at(v, 'name')),
      ['n1-vol0', 'n1-vol1'],
    );
  });
});

describe('metadataXml / parseMetadata', () => {
  it('round-trips without a prefix', () => {
    const m = metadata();
    const xml = metadataXml(m);
    assert.match(xml, /^<node /);
    parse(xml, 'node');
    assert.deepEqual(parseMetadata(xml), m);
  });

  it('round-trips with a prefix', () => {
    const m = metadata({ bootDevice: 'disk', bootPersistent: false, ownedVolumes: [] });
    const xml = metadataXml(m, 'tenks');
    const node = parse(xml, 'tenks:node');
    assert.equal(at(node, 'xmlns:tenks'), METADATA_NS);
    assert.deepEqual(parseMetadata(xml), m);
  });

  it('round-trips through a whole domain XML', () => {
    const m = metadata({ bootDevice: 'cdrom' });
    assert.deepEqual(parseMetadata(domainXml(domainSpec({ metadata: m }), 'kvm')), m);
  });

  it('reads metadata as libvirt re-serialises it (double quotes, literal apostrophes)', () => {
    // Written before owners were recorded: no agent attribute.
    const m = metadata({ agent: null });
    const json = JSON.stringify(m.spec).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const xml =
      `<tenks:node xmlns:tenks="${METADATA_NS}" version="1" cluster="c1" name="n1" uuid="${m.uuid}" ` +
      `spec-hash="${m.specHash}" boot-device="network" boot-persistent="yes">\n` +
      `  <tenks:owned-volume name="n1-vol0"/>\n  <tenks:owned-volume name="n1-vol1"/>\n` +
      `  <tenks:spec>${json}</tenks:spec>\n</tenks:node>\n`;
    parse(xml, 'tenks:node');
    assert.deepEqual(parseMetadata(xml), m);
  });

  it('reads characters written as character references, as libxml2 writes some', () => {
    const m = metadata({ cluster: 'c1', spec: { ...metadata().spec, labels: { note: 'café ☕' } } });
    const xml = metadataXml(m)
      .replace(/é/g, '&#xE9;')
      .replace(/☕/g, '&#9749;')
      .replace(" cluster='c1'", " cluster='&#99;1'");
    assert.ok(!xml.includes('é') && !xml.includes('☕'));
    assert.deepEqual(parseMetadata(xml), m);
  });

  it('keeps the managing agent, and reads metadata without one as null (made before owners were recorded)', () => {
    const m = metadata({ agent: 'hv-2.lab' });
    assert.equal(parseMetadata(metadataXml(m))?.agent, 'hv-2.lab');
    assert.equal(parseMetadata(metadataXml({ ...m, agent: null }))?.agent, null);
    assert.ok(!metadataXml({ ...m, agent: null }).includes('agent='));
  });

  it('returns null for garbage and foreign XML', () => {
    const m = metadata();
    const cases = [
      '',
      'garbage',
      '<<<>>>',
      '<foo/>',
      "<domain type='kvm'><name>x</name><devices/></domain>",
      "<metadata><app:info xmlns:app='urn:x' owner='me'/></metadata>",
      metadataXml({ ...m, version: 2 as unknown as 1 }),
      metadataXml(m).replace(/<spec>[\s\S]*<\/spec>/, ''),
      metadataXml(m).replace(/<spec>[\s\S]*<\/spec>/, '<spec>{not json</spec>'),
      metadataXml(m).replace(/ uuid='[^']*'/, ''),
      metadataXml(m).replace(/ spec-hash='[^']*'/, ''),
    ];
    for (const xml of cases) assert.equal(parseMetadata(xml), null, `parsed: ${xml.slice(0, 80)}`);
  });

  it('defaults the boot device to network and persistence to yes when missing', () => {
    const xml = metadataXml(metadata({ bootDevice: 'disk', bootPersistent: false }))
      .replace(/ boot-device='[^']*'/, '')
      .replace(/ boot-persistent='[^']*'/, '');
    const got = parseMetadata(xml);
    assert.ok(got);
    assert.equal(got.bootDevice, 'network');
    assert.equal(got.bootPersistent, true);
  });
});
