import assert from 'node:assert/strict';
import {
  cdromBus,
  domainFirmware,
  offersUefi,
  poolTarget,
  volumeFormat,
  withoutFirmwareSelection,
} from '../../agent/compute/libvirt-xml.js';
import { parseXml } from '../../agent/compute/xml.js';

/** A UEFI domain as libvirt 9 writes its inactive definition once firmware was selected (trimmed). */
const UEFI_DOMAIN = `<domain type='qemu'>
  <name>n1</name>
  <uuid>4b62c2b0-3155-4b8d-8979-1606e7136c5d</uuid>
  <metadata>
    <tenks:node xmlns:tenks="https://tenks.dev/xmlns/node/1" version="1" cluster="c" name="n&amp;x" uuid="u">
      <tenks:spec>{"a":"&lt;b&gt; &amp; 'q' \\"d\\""}</tenks:spec>
    </tenks:node>
  </metadata>
  <memory unit='KiB'>65536</memory>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <firmware>
      <feature enabled='no' name='enrolled-keys'/>
      <feature enabled='no' name='secure-boot'/>
    </firmware>
    <loader readonly='yes' secure='no' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/n1&amp;x_VARS.fd</nvram>
    <boot dev='network'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='tenks' volume='n1-vol0'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <interface type='direct' trustGuestRxFilters='yes'>
      <mac address='52:54:00:12:34:56'/>
      <source dev='tv-n1-0' mode='passthrough'/>
      <alias name='ua-nic0'/>
    </interface>
  </devices>
</domain>
`;

describe('reading libvirt XML', () => {
  describe('domain definitions', () => {
    it('tells firmware libvirt selects (UEFI) from a named loader and from BIOS', () => {
      assert.deepEqual(domainFirmware(UEFI_DOMAIN), { selectsEfi: true, hasLoader: true });
      const autoselected = withoutFirmwareSelection(UEFI_DOMAIN);
      assert.deepEqual(domainFirmware(autoselected), { selectsEfi: true, hasLoader: false });
      const loaderOnly =
        "<domain><os><type>hvm</type><loader readonly='yes' type='pflash'>/x.fd</loader></os></domain>";
      assert.deepEqual(domainFirmware(loaderOnly), { selectsEfi: false, hasLoader: true });
      const bios = "<domain><os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os></domain>";
      assert.deepEqual(domainFirmware(bios), { selectsEfi: false, hasLoader: false });
    });

    it('finds the bus of the CD drive, not of the first disk', () => {
      assert.equal(cdromBus(UEFI_DOMAIN), 'sata');
      const ide = "<domain><devices><disk device='cdrom'><target dev='hdc' bus='ide'/></disk></devices></domain>";
      assert.equal(cdromBus(ide), 'ide');
      const scsi = "<domain><devices><disk device='cdrom'><target dev='sda' bus='scsi'/></disk></devices></domain>";
      assert.equal(cdromBus(scsi), 'scsi');
      assert.equal(cdromBus("<domain><devices><disk device='cdrom'/></devices></domain>"), 'sata');
      const noCd = "<domain><devices><disk device='disk'><target bus='virtio'/></disk></devices></domain>";
      assert.equal(cdromBus(noCd), null);
      assert.equal(cdromBus('<domain><devices/></domain>'), null);
    });

    it('drops the selected loader and NVRAM, and keeps everything else as it was written', () => {
      const fresh = withoutFirmwareSelection(UEFI_DOMAIN);
      assert.doesNotMatch(fresh, /<loader|<nvram/);
      const expected = UEFI_DOMAIN.replace(/\n\s*<loader[^\n]*<\/loader>/, '').replace(
        /\n\s*<nvram[^\n]*<\/nvram>/,
        '',
      );
      // Same document (but for the white space the two elements stood in): elements, attributes
      // and text, entities still escaped in the output.
      const unindented = (xml: string): unknown => parseXml(xml.replace(/>\s+</g, '><'));
      assert.deepEqual(unindented(fresh), unindented(expected));
      assert.match(fresh, /name="n&amp;x"/);
      assert.match(fresh, /&lt;b&gt; &amp; 'q'/);
      assert.match(fresh, /<firmware>\s*<feature enabled="no" name="enrolled-keys"\/>/);
      assert.match(fresh, /<acpi\/>/);
    });

    it('keeps a double quote read from an apostrophe-quoted attribute', () => {
      const fresh = withoutFirmwareSelection(
        `<domain><name>a</name><description x='say "hi"'/><os><loader>/x</loader></os></domain>`,
      );
      assert.deepEqual(parseXml(fresh), { domain: { name: 'a', description: { '@x': 'say "hi"' }, os: '' } });
    });
  });

  describe('domain capabilities', () => {
    const caps = (os: string): string => `<domainCapabilities><arch>x86_64</arch>${os}</domainCapabilities>`;

    it('sees UEFI where libvirt can select EFI firmware, or lists loaders', () => {
      assert.ok(
        offersUefi(
          caps(
            "<os supported='yes'><enum name='firmware'><value>efi</value></enum><loader supported='yes'>" +
              "<value>/usr/share/OVMF/OVMF_CODE_4M.fd</value><enum name='type'><value>rom</value><value>pflash</value></enum>" +
              '</loader></os>',
          ),
        ),
      );
      assert.ok(
        offersUefi(caps("<os supported='yes'><enum name='firmware'><value>bios</value><value>efi</value></enum></os>")),
      );
      assert.ok(
        offersUefi(caps("<os supported='yes'><loader supported='yes'><value>/x/AAVMF_CODE.fd</value></loader></os>")),
      );
    });

    it('sees no UEFI where neither firmware nor loaders are offered', () => {
      assert.equal(
        offersUefi(
          caps(
            "<os supported='yes'><enum name='firmware'/><loader supported='yes'><enum name='type'><value>rom</value>" +
              "<value>pflash</value></enum><enum name='secure'><value>no</value></enum></loader></os>",
          ),
        ),
        false,
      );
      assert.equal(offersUefi(caps("<os supported='no'/>")), false);
      assert.equal(
        offersUefi(caps("<os supported='yes'><loader supported='no'><value>/x.fd</value></loader></os>")),
        false,
      );
    });
  });

  describe('storage', () => {
    it('reads the type and target path of a pool', () => {
      const dir =
        "<pool type='dir'>\n  <name>tenks</name>\n  <source>\n  </source>\n  <target>\n    <path>/var/lib/tenks/pool</path>\n" +
        '    <permissions>\n      <mode>0711</mode>\n    </permissions>\n  </target>\n</pool>\n';
      assert.deepEqual(poolTarget(dir), { type: 'dir', path: '/var/lib/tenks/pool' });
      const lvm =
        "<pool type='logical'><name>tenks</name><source><name>vg0</name><format type='lvm2'/></source>" +
        '<target><path>/dev/vg0</path></target></pool>';
      assert.deepEqual(poolTarget(lvm), { type: 'logical', path: '/dev/vg0' });
      assert.deepEqual(poolTarget("<pool type='dir'><name>x</name></pool>"), { type: 'dir', path: null });
    });

    it("reads a volume's format from its target, not its backing store", () => {
      const vol =
        "<volume type='file'><name>v1</name><capacity unit='bytes'>1048576</capacity><target><path>/p/v1</path>" +
        "<format type='qcow2'/></target><backingStore><path>/img/base.raw</path><format type='raw'/></backingStore></volume>";
      assert.equal(volumeFormat(vol), 'qcow2');
      const noFormat =
        "<volume><name>v1</name><target><path>/p/v1</path></target><backingStore><format type='raw'/></backingStore></volume>";
      assert.equal(volumeFormat(noFormat), 'unknown');
    });
  });

  describe('the XML reader', () => {
    it('gives attributes, child elements (lists where asked) and decoded text, without namespace prefixes', () => {
      const xml =
        '<?xml version="1.0"?><!-- a comment --><t:node xmlns:t="urn:x" t:version="1" name="a&amp;b">' +
        '<t:owned-volume name="v0"/><t:spec>{&quot;k&quot;:&#65;}</t:spec><e unit="b">12</e><x/></t:node>';
      assert.deepEqual(parseXml(xml, ['owned-volume']), {
        node: {
          '@version': '1',
          '@name': 'a&b',
          'owned-volume': [{ '@name': 'v0' }],
          spec: '{"k":A}',
          e: { '@unit': 'b', '#text': '12' },
          x: '',
        },
      });
    });

    it('reads XML, not HTML: link, meta, input and script (as libvirt writes an interface script) are elements', () => {
      const xml =
        "<interface><link state='up'/><meta>m</meta><input type='tablet'>i</input><script path='/etc/qemu-ifup'/></interface>";
      assert.deepEqual(parseXml(xml), {
        interface: {
          link: { '@state': 'up' },
          meta: 'm',
          input: { '@type': 'tablet', '#text': 'i' },
          script: { '@path': '/etc/qemu-ifup' },
        },
      });
    });

    it('repeats an element as a list, and keeps one element of a name in lists as a list of one', () => {
      assert.deepEqual(parseXml('<a><b>1</b><b>2</b><c>3</c></a>', ['c']), { a: { b: ['1', '2'], c: ['3'] } });
    });
  });
});
