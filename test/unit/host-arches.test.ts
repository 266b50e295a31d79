import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenksError } from '../../common/errors.js';
import { heartbeatArches, type AgentHeartbeat } from '../../common/nats/heartbeat.js';
import { parseCapabilities } from '../../agent/compute/libvirt-capabilities.js';
import { readFirmwareDescriptors, secureBootArchesOf } from '../../agent/compute/firmware-descriptors.js';

/** A `<guest>` of `virConnectGetCapabilities` XML, as libvirt writes it. */
function guest(arch: string, domains: string[], osType = 'hvm'): string {
  return (
    `<guest><os_type>${osType}</os_type><arch name='${arch}'><wordsize>64</wordsize>` +
    `<emulator>/usr/bin/qemu-system-${arch}</emulator>` +
    domains.map((d) => `<domain type='${d}'/>`).join('') +
    '</arch></guest>'
  );
}

function caps(...guests: string[]): string {
  return `<capabilities><host><cpu><arch>x86_64</arch></cpu></host>${guests.join('')}</capabilities>`;
}

/** A QEMU firmware descriptor (the fields tenks reads). */
function descriptor(arch: string, features: string[], types = ['uefi']): unknown {
  return {
    'interface-types': types,
    mapping: { device: 'flash' },
    targets: [{ architecture: arch, machines: ['virt-*', 'pc-q35-*'] }],
    features,
  };
}

describe('guest architectures of a host', () => {
  describe('parseCapabilities', () => {
    it('lists every hvm guest architecture libvirt runs (Debian 12 with qemu-system-x86 and -arm)', () => {
      const c = parseCapabilities(
        caps(
          guest('armv6l', ['qemu']),
          guest('armv7l', ['qemu']),
          guest('aarch64', ['qemu']),
          guest('i686', ['qemu', 'kvm']),
          guest('x86_64', ['qemu', 'kvm']),
        ),
      );
      assert.deepEqual(c.arches, ['aarch64', 'armv6l', 'armv7l', 'i686', 'x86_64']);
      assert.deepEqual(c.kvmArches, ['i686', 'x86_64']);
      assert.equal(c.domainType, 'kvm');
      assert.equal(c.engine, 'kvm');
      assert.equal(c.arch, 'x86_64');
    });

    it('runs x86_64 only where only qemu-system-x86 is installed, under TCG without KVM', () => {
      const c = parseCapabilities(caps(guest('i686', ['qemu']), guest('x86_64', ['qemu'])));
      assert.deepEqual(c.arches, ['i686', 'x86_64']);
      assert.deepEqual(c.kvmArches, []);
      assert.equal(c.engine, 'qemu');
      assert.equal(c.domainType, 'qemu');
    });

    it('accepts a host that runs aarch64 only', () => {
      const c = parseCapabilities(caps(guest('aarch64', ['qemu', 'kvm'])));
      assert.deepEqual(c.arches, ['aarch64']);
      assert.deepEqual(c.kvmArches, ['aarch64']);
      // KVM is chosen (and probed) for x86_64 guests; others run under TCG unless KVM is listed for them.
      assert.equal(c.engine, 'qemu');
    });

    it('ignores guests that are not hvm', () => {
      const c = parseCapabilities(caps(guest('x86_64', ['qemu']), guest('aarch64', ['xen'], 'xen')));
      assert.deepEqual(c.arches, ['x86_64']);
    });

    it("reads the test driver's i686 guest as x86_64, the only architecture it runs", () => {
      const c = parseCapabilities(caps(guest('i686', ['test']), guest('i686', ['test'], 'xen')));
      assert.equal(c.domainType, 'test');
      assert.equal(c.arch, 'i686', 'x86_64 nodes are defined as i686 there');
      assert.deepEqual(c.arches, ['x86_64']);
      assert.deepEqual(c.kvmArches, []);
    });

    it('refuses a host with neither x86_64 nor aarch64 guests', () => {
      assert.throws(
        () => parseCapabilities(caps(guest('armv7l', ['qemu']))),
        (e: unknown) => e instanceof TenksError && e.code === 'UNSUPPORTED' && e.message.includes('x86_64 or aarch64'),
      );
    });
  });

  describe('Secure Boot firmware descriptors', () => {
    it('finds the architectures with UEFI Secure Boot firmware', () => {
      assert.deepEqual(
        secureBootArchesOf([
          descriptor('aarch64', ['verbose-static']),
          descriptor('aarch64', ['enrolled-keys', 'secure-boot', 'verbose-static']),
          descriptor('x86_64', ['acpi-s3', 'requires-smm', 'secure-boot']),
          descriptor('riscv64', ['secure-boot'], ['bios']),
          { targets: 'garbage' },
          null,
          'not an object',
        ]),
        ['aarch64', 'x86_64'],
      );
    });

    it('reads descriptors from the directories in order, a name in the first hiding the second', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tenks-fw-'));
      try {
        const etc = join(dir, 'etc');
        const share = join(dir, 'share');
        await mkdir(etc);
        await mkdir(share);
        await writeFile(
          join(share, '40-edk2-aarch64-secure.json'),
          JSON.stringify(descriptor('aarch64', ['secure-boot'])),
        );
        await writeFile(
          join(share, '50-edk2-x86_64-secure.json'),
          JSON.stringify(descriptor('x86_64', ['secure-boot'])),
        );
        // A site override that hides the x86_64 Secure Boot firmware.
        await writeFile(join(etc, '50-edk2-x86_64-secure.json'), JSON.stringify(descriptor('x86_64', [])));
        await writeFile(join(share, '99-broken.json'), '{');
        await writeFile(join(share, 'README'), 'not a descriptor');
        const found = await readFirmwareDescriptors([etc, share, join(dir, 'missing')]);
        assert.equal(found.length, 2);
        assert.deepEqual(secureBootArchesOf(found), ['aarch64']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('heartbeats', () => {
    const base = { uefiAvailable: true } as AgentHeartbeat;

    it('reads the architectures an agent reports', () => {
      assert.deepEqual(heartbeatArches({ ...base, arches: ['aarch64', 'x86_64'], uefiArches: ['aarch64'] }), {
        arches: ['aarch64', 'x86_64'],
        uefiArches: ['aarch64'],
      });
    });

    it('reads a heartbeat of an agent older than architectures as x86_64, with UEFI when it had OVMF', () => {
      assert.deepEqual(heartbeatArches(base), { arches: ['x86_64'], uefiArches: ['x86_64'] });
      assert.deepEqual(heartbeatArches({ ...base, uefiAvailable: false }), { arches: ['x86_64'], uefiArches: [] });
    });
  });
});
