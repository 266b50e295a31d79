import assert from 'node:assert/strict';
import { TenksError } from '../../common/errors.js';
import { compileNodeSpec, rawNodeSpec, rawVolume, specHash, type RawNodeSpec } from '../../agent/compute/node-spec.js';

function raw(fields: Partial<RawNodeSpec> = {}): RawNodeSpec {
  return rawNodeSpec({ cluster: 'c1', name: 'n1', ...fields });
}

/** The INVALID_SPEC error compileNodeSpec throws for `spec`. */
function specError(spec: RawNodeSpec, base?: string): TenksError {
  try {
    if (base === undefined) compileNodeSpec(spec);
    else compileNodeSpec(spec, base);
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_SPEC');
    return e;
  }
  assert.fail('expected compileNodeSpec to throw');
}

function fields(spec: RawNodeSpec): string[] {
  return specError(spec).details.map((d) => d.field);
}

/** Asserts the spec fails with exactly one error, at `field`, whose message matches `message`. */
function assertOnlyError(spec: RawNodeSpec, field: string, message?: RegExp): void {
  const e = specError(spec);
  assert.deepEqual(
    e.details.map((d) => d.field),
    [field],
  );
  assert.equal(e.field, field);
  if (message) assert.match(e.details[0]!.message, message);
}

describe('compileNodeSpec', () => {
  describe('defaults', () => {
    it('compiles a minimal spec', () => {
      const s = compileNodeSpec(raw());
      assert.deepEqual(s, {
        cluster: 'c1',
        name: 'n1',
        uuid: null,
        nodeType: '',
        memoryMb: 1024,
        vcpus: 1,
        machine: null,
        cpuMode: null,
        bootMode: 'uefi',
        volumes: [],
        nics: [],
        consoleLog: false,
        vnc: false,
        labels: {},
      });
    });

    it('defaults boot mode to uefi and keeps bios', () => {
      assert.equal(compileNodeSpec(raw({ bootMode: '' })).bootMode, 'uefi');
      assert.equal(compileNodeSpec(raw({ bootMode: 'bios' })).bootMode, 'bios');
      assert.equal(compileNodeSpec(raw({ bootMode: 'uefi' })).bootMode, 'uefi');
    });

    it('names volumes vol0, vol1, ... and defaults their format to qcow2', () => {
      const s = compileNodeSpec(
        raw({
          volumes: [
            rawVolume({ capacity: '10GiB' }),
            rawVolume({ name: 'data', capacity: '1G' }),
            rawVolume({ capacity: '512MiB' }),
          ],
        }),
      );
      assert.deepEqual(
        s.volumes.map((v) => [v.name, v.format, v.capacityBytes]),
        [
          ['vol0', 'qcow2', 10 * 1024 ** 3],
          ['data', 'qcow2', 1024 ** 3],
          ['vol2', 'qcow2', 512 * 1024 ** 2],
        ],
      );
      assert.deepEqual(s.volumes[0]!.source, { kind: 'blank' });
    });

    it('compiles each kind of volume source', () => {
      const s = compileNodeSpec(
        raw({
          volumes: [
            rawVolume({ image: '/img/a.qcow2', format: 'raw' }),
            rawVolume({ backingImage: '/img/b.qcow2', capacity: '20GiB' }),
            rawVolume({ existing: 'shared-disk' }),
          ],
        }),
      );
      assert.deepEqual(s.volumes, [
        { name: 'vol0', capacityBytes: 0, format: 'raw', source: { kind: 'image', path: '/img/a.qcow2' } },
        {
          name: 'vol1',
          capacityBytes: 20 * 1024 ** 3,
          format: 'qcow2',
          source: { kind: 'backing', path: '/img/b.qcow2' },
        },
        { name: 'vol2', capacityBytes: 0, format: 'qcow2', source: { kind: 'existing', ref: 'shared-disk' } },
      ]);
    });

    it('lower-cases UUID and MACs, keeps an unset MAC null, and copies options', () => {
      const s = compileNodeSpec(
        raw({
          uuid: 'A1B2C3D4-0000-4000-8000-00000000000F',
          machine: 'pc-q35-8.2',
          cpuMode: 'host-model',
          nics: [
            { physnet: 'physnet1', mac: '52:54:00:AB:CD:EF' },
            { physnet: 'physnet2', mac: '' },
          ],
          consoleLogEnabled: true,
          vncEnabled: true,
          nodeType: 'type0',
        }),
      );
      assert.equal(s.uuid, 'a1b2c3d4-0000-4000-8000-00000000000f');
      assert.deepEqual(s.nics, [
        { physnet: 'physnet1', mac: '52:54:00:ab:cd:ef' },
        { physnet: 'physnet2', mac: null },
      ]);
      assert.equal(s.machine, 'pc-q35-8.2');
      assert.equal(s.cpuMode, 'host-model');
      assert.equal(s.consoleLog, true);
      assert.equal(s.vnc, true);
      assert.equal(s.nodeType, 'type0');
    });

    it('copies labels rather than sharing the caller object', () => {
      const labels = { role: 'compute' };
      const s = compileNodeSpec(raw({ labels }));
      assert.deepEqual(s.labels, { role: 'compute' });
      labels.role = 'changed';
      assert.equal(s.labels.role, 'compute');
    });

    it('accepts a 63-character name and a 32-character volume name', () => {
      const name = 'a'.repeat(63);
      assert.equal(compileNodeSpec(raw({ name })).name, name);
      const vol = 'v'.repeat(32);
      assert.equal(compileNodeSpec(raw({ volumes: [rawVolume({ name: vol, capacity: '1G' })] })).volumes[0]!.name, vol);
    });
  });

  describe('validation', () => {
    it('requires cluster and node names', () => {
      assertOnlyError(raw({ cluster: '' }), 'node.cluster', /cluster name is required/);
      assertOnlyError(raw({ name: '' }), 'node.name', /node name is required/);
    });

    for (const bad of ['a/b', '-node', '.node', '_node', 'a'.repeat(64), 'a b', 'nöde', 'a:b']) {
      it(`rejects the node name ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 8)}...(${bad.length})` : bad)}`, () => {
        assertOnlyError(raw({ name: bad }), 'node.name', /is not a usable node name/);
      });
    }

    it('rejects a cluster name unusable by libvirt', () => {
      assertOnlyError(raw({ cluster: 'my/cluster' }), 'node.cluster', /not a usable cluster name/);
    });

    it('rejects a malformed UUID', () => {
      assertOnlyError(raw({ uuid: 'not-a-uuid' }), 'node.uuid', /is not a UUID/);
      assertOnlyError(raw({ uuid: 'a1b2c3d4-0000-4000-8000-00000000000' }), 'node.uuid');
    });

    it('rejects too little or fractional memory', () => {
      assertOnlyError(raw({ memoryMb: 63 }), 'node.memory_mb', /at least 64/);
      assertOnlyError(raw({ memoryMb: 0 }), 'node.memory_mb');
      assertOnlyError(raw({ memoryMb: 1024.5 }), 'node.memory_mb');
      assert.equal(compileNodeSpec(raw({ memoryMb: 64 })).memoryMb, 64);
    });

    it('rejects vcpus out of 1..512', () => {
      assertOnlyError(raw({ vcpus: 0 }), 'node.vcpus');
      assertOnlyError(raw({ vcpus: 513 }), 'node.vcpus');
      assertOnlyError(raw({ vcpus: 1.5 }), 'node.vcpus');
      assert.equal(compileNodeSpec(raw({ vcpus: 512 })).vcpus, 512);
    });

    it('rejects a bad machine type and an unknown cpu mode', () => {
      assertOnlyError(raw({ machine: 'Q35' }), 'node.machine');
      assertOnlyError(raw({ machine: 'q35;rm' }), 'node.machine');
      assertOnlyError(raw({ cpuMode: 'custom' }), 'node.cpu_mode', /unknown cpu_mode 'custom'/);
    });

    it('rejects an unknown boot mode', () => {
      assertOnlyError(raw({ bootMode: 'efi' }), 'node.boot_mode', /unknown boot mode 'efi'/);
      assertOnlyError(raw({ bootMode: 'UEFI' }), 'node.boot_mode');
    });

    it('rejects volume names unusable in file names', () => {
      assertOnlyError(raw({ volumes: [rawVolume({ name: 'a.b', capacity: '1G' })] }), 'node.volumes[0].name');
      assertOnlyError(raw({ volumes: [rawVolume({ name: 'v'.repeat(33), capacity: '1G' })] }), 'node.volumes[0].name');
      assertOnlyError(
        raw({ volumes: [rawVolume({ capacity: '1G' }), rawVolume({ name: '-x', capacity: '1G' })] }),
        'node.volumes[1].name',
      );
    });

    it('rejects duplicate volume names, including a default one', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ name: 'data', capacity: '1G' }), rawVolume({ name: 'data', capacity: '2G' })] }),
        'node.volumes[1].name',
        /duplicate volume name 'data' \(also volumes\[0\]\)/,
      );
      assertOnlyError(
        raw({ volumes: [rawVolume({ name: 'vol1', capacity: '1G' }), rawVolume({ capacity: '1G' })] }),
        'node.volumes[1].name',
        /duplicate volume name 'vol1'/,
      );
    });

    // Duplicates must be indexed in the raw list, even when an earlier volume is invalid.
    it('names the right volume in a duplicate error after an invalid volume', () => {
      const e = specError(
        raw({
          volumes: [rawVolume({}), rawVolume({ name: 'd', capacity: '1G' }), rawVolume({ name: 'd', capacity: '1G' })],
        }),
      );
      assert.deepEqual(
        e.details.map((d) => d.field),
        ['node.volumes[0].capacity', 'node.volumes[2].name'],
      );
      assert.match(e.details[1]!.message, /also volumes\[1\]/);
    });

    it('rejects two sources on one volume', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ image: '/img/a', existing: 'shared' })] }),
        'node.volumes[0]',
        /at most one of image, backing_image and existing \(got image, existing\)/,
      );
      assertOnlyError(
        raw({
          volumes: [rawVolume({ capacity: '1G' }), rawVolume({ image: '/a', backingImage: '/b', existing: 'c' })],
        }),
        'node.volumes[1]',
        /got image, backing_image, existing/,
      );
    });

    it('rejects relative image paths', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ image: 'images/a.qcow2' })] }),
        'node.volumes[0].image',
        /absolute path/,
      );
      assertOnlyError(
        raw({ volumes: [rawVolume({ backingImage: 'a.qcow2', capacity: '1G' })] }),
        'node.volumes[0].backing_image',
        /absolute path/,
      );
    });

    it('rejects an unknown format and a raw volume with a backing image', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ capacity: '1G', format: 'vmdk' })] }),
        'node.volumes[0].format',
        /unknown volume format 'vmdk'/,
      );
      assertOnlyError(
        raw({ volumes: [rawVolume({ backingImage: '/img/a.qcow2', format: 'raw' })] }),
        'node.volumes[0].format',
        /backing_image must be qcow2/,
      );
    });

    it('requires a capacity for a blank volume only', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ capacity: '1G' }), rawVolume({})] }),
        'node.volumes[1].capacity',
        /required for a blank volume/,
      );
      assert.doesNotThrow(() =>
        compileNodeSpec(raw({ volumes: [rawVolume({ image: '/a' }), rawVolume({ existing: 'x' })] })),
      );
    });

    it('rejects a bad capacity with the size parser reason', () => {
      assertOnlyError(
        raw({ volumes: [rawVolume({ capacity: '10XB' })] }),
        'node.volumes[0].capacity',
        /unknown size unit 'XB'/,
      );
      assertOnlyError(
        raw({ volumes: [rawVolume({ capacity: '1G' }), rawVolume({ capacity: '0' })] }),
        'node.volumes[1].capacity',
      );
    });

    it('requires a usable physnet on each NIC', () => {
      assertOnlyError(raw({ nics: [{ physnet: '', mac: '' }] }), 'node.nics[0].physnet', /physnet is required/);
      assertOnlyError(
        raw({
          nics: [
            { physnet: 'p1', mac: '' },
            { physnet: 'bad/net', mac: '' },
          ],
        }),
        'node.nics[1].physnet',
      );
    });

    it('rejects a malformed MAC', () => {
      for (const mac of ['52:54:00:00:00', '52-54-00-00-00-01', '52:54:00:00:00:0g', '5254.0000.0001']) {
        assertOnlyError(raw({ nics: [{ physnet: 'p1', mac }] }), 'node.nics[0].mac', /is not a MAC address/);
      }
    });

    it('rejects a multicast MAC', () => {
      assertOnlyError(raw({ nics: [{ physnet: 'p1', mac: '01:00:5e:00:00:01' }] }), 'node.nics[0].mac', /multicast/);
      assertOnlyError(raw({ nics: [{ physnet: 'p1', mac: 'FF:FF:FF:FF:FF:FF' }] }), 'node.nics[0].mac', /multicast/);
      assert.doesNotThrow(() => compileNodeSpec(raw({ nics: [{ physnet: 'p1', mac: '02:00:00:00:00:01' }] })));
    });

    it('rejects a duplicate MAC regardless of case', () => {
      assertOnlyError(
        raw({
          nics: [
            { physnet: 'p1', mac: '52:54:00:aa:bb:cc' },
            { physnet: 'p2', mac: '52:54:00:00:00:01' },
            { physnet: 'p2', mac: '52:54:00:AA:BB:CC' },
          ],
        }),
        'node.nics[2].mac',
        /duplicate MAC '52:54:00:aa:bb:cc' \(also nics\[0\]\)/,
      );
    });

    it('rejects unusable label keys', () => {
      assertOnlyError(raw({ labels: { 'bad key': 'x' } }), 'node.labels.bad key');
      assert.doesNotThrow(() => compileNodeSpec(raw({ labels: { 'tenks.dev/role': 'x', a_b: '' } })));
    });

    it('prefixes field paths with the given base', () => {
      const e = specError(raw({ name: '', volumes: [rawVolume({})] }), 'specs[3]');
      assert.deepEqual(
        e.details.map((d) => d.field),
        ['specs[3].name', 'specs[3].volumes[0].capacity'],
      );
    });

    it('reports every problem at once in one error', () => {
      const e = specError(
        raw({
          cluster: '',
          name: 'a/b',
          uuid: 'x',
          memoryMb: 1,
          vcpus: 0,
          bootMode: 'floppy',
          volumes: [rawVolume({ capacity: '1G' }), rawVolume({ capacity: 'lots' }), rawVolume({ image: 'rel' })],
          nics: [
            { physnet: 'p1', mac: '01:00:00:00:00:00' },
            { physnet: '', mac: '' },
          ],
          labels: { '?': 'x' },
        }),
      );
      assert.deepEqual(
        e.details.map((d) => d.field),
        [
          'node.cluster',
          'node.name',
          'node.uuid',
          'node.memory_mb',
          'node.vcpus',
          'node.boot_mode',
          'node.volumes[1].capacity',
          'node.volumes[2].image',
          'node.nics[0].mac',
          'node.nics[1].physnet',
          'node.labels.?',
        ],
      );
      assert.equal(e.field, 'node.cluster');
      // The message lists every problem, one per line, with its path.
      const lines = e.message.split('\n');
      assert.equal(lines.length, e.details.length);
      for (const [i, d] of e.details.entries()) assert.equal(lines[i], `${d.field}: ${d.message}`);
    });

    it('reports errors of several volumes and NICs together', () => {
      assert.deepEqual(
        fields(
          raw({
            volumes: [rawVolume({}), rawVolume({ name: 'x!', capacity: '1G' })],
            nics: [
              { physnet: 'p', mac: 'nope' },
              { physnet: 'p', mac: 'nope2' },
            ],
          }),
        ),
        ['node.volumes[0].capacity', 'node.volumes[1].name', 'node.nics[0].mac', 'node.nics[1].mac'],
      );
    });
  });
});

describe('specHash', () => {
  it('is a 16-hex-digit hash', () => {
    assert.match(specHash(compileNodeSpec(raw())), /^[0-9a-f]{16}$/);
  });

  it('is stable under key order', () => {
    const a = compileNodeSpec(raw({ labels: { a: '1', b: '2', c: '3' }, volumes: [rawVolume({ capacity: '1G' })] }));
    const b = compileNodeSpec(raw({ labels: { c: '3', a: '1', b: '2' }, volumes: [rawVolume({ capacity: '1G' })] }));
    assert.notDeepEqual(Object.keys(a.labels), Object.keys(b.labels));
    assert.equal(specHash(a), specHash(b));
    // Same spec with its top-level keys in reverse order.
    const reversed = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    assert.notDeepEqual(Object.keys(reversed), Object.keys(a));
    assert.equal(specHash(reversed), specHash(a));
  });

  it('changes when memory changes', () => {
    const a = compileNodeSpec(raw({ memoryMb: 1024 }));
    const b = compileNodeSpec(raw({ memoryMb: 2048 }));
    assert.notEqual(specHash(a), specHash(b));
  });

  it('changes with volumes, labels and NICs', () => {
    const base = specHash(compileNodeSpec(raw()));
    assert.notEqual(specHash(compileNodeSpec(raw({ volumes: [rawVolume({ capacity: '1G' })] }))), base);
    assert.notEqual(specHash(compileNodeSpec(raw({ labels: { a: '' } }))), base);
    assert.notEqual(specHash(compileNodeSpec(raw({ nics: [{ physnet: 'p', mac: '' }] }))), base);
  });

  it('is equal for equal specs', () => {
    assert.equal(
      specHash(compileNodeSpec(raw({ memoryMb: 4096 }))),
      specHash(compileNodeSpec(raw({ memoryMb: 4096 }))),
    );
  });
});

describe('upstream libvirt-vm settings on the agent', () => {
  it('leaves specs that do not use them with the hash they had before the settings existed', () => {
    // Hash of this spec computed by the agent before engine, emulator, console log dir/owner,
    // trustGuestRxFilters and clock offset were added: nodes made then must stay unchanged.
    const spec = compileNodeSpec(
      raw({
        cluster: 'c1',
        name: 'n1',
        memoryMb: 2048,
        vcpus: 2,
        volumes: [rawVolume({ name: 'vol0', capacity: '1GiB' })],
        nics: [{ physnet: 'physnet1', mac: '52:54:00:12:34:56' }],
        consoleLogEnabled: true,
        labels: { a: 'b' },
      }),
    );
    assert.equal(specHash(spec), '197d86a5097a1e44');
  });

  it('keeps the settings that are given, and trustGuestRxFilters only for a node with NICs', () => {
    const spec = compileNodeSpec(
      raw({
        engine: 'qemu',
        emulator: '/usr/bin/qemu-system-x86_64',
        consoleLogDir: '/var/log/kolla/tenks/',
        consoleLogOwner: '42436',
        trustGuestRxFilters: true,
        clockOffset: 'Europe/London',
        nics: [{ physnet: 'p', mac: '' }],
      }),
    );
    assert.equal(spec.engine, 'qemu');
    assert.equal(spec.emulator, '/usr/bin/qemu-system-x86_64');
    assert.equal(spec.consoleLogDir, '/var/log/kolla/tenks');
    assert.equal(spec.consoleLogOwner, '42436');
    assert.equal(spec.trustGuestRxFilters, true);
    assert.equal(spec.clockOffset, 'Europe/London');
    const noNics = compileNodeSpec(raw({ trustGuestRxFilters: true }));
    assert.equal('trustGuestRxFilters' in noNics, false);
    assert.equal(specHash(noNics), specHash(compileNodeSpec(raw())));
  });

  it('refuses bad values, naming each field', () => {
    assert.deepEqual(
      fields(
        raw({
          engine: 'xen',
          emulator: 'qemu-system-x86_64',
          consoleLogDir: 'logs',
          consoleLogOwner: 'a b',
          clockOffset: 'utc; rm',
        }),
      ),
      ['node.engine', 'node.emulator', 'node.console_log_dir', 'node.console_log_owner', 'node.clock_offset'],
    );
  });

  it('accepts an emulator template it can render, and refuses one it cannot', () => {
    const kayobe =
      "{% if ansible_facts.os_family == 'RedHat' %}/usr/libexec/qemu-kvm{% else %}/usr/bin/qemu-system-x86_64{% endif %}";
    assert.equal(compileNodeSpec(raw({ emulator: kayobe })).emulator, kayobe);
    assert.deepEqual(fields(raw({ emulator: '{{ lookup("env", "QEMU") }}' })), ['node.emulator']);
  });
});

describe('guest architecture on the agent', () => {
  it('defaults to x86_64, left out of the spec so existing hashes stay the same', () => {
    const spec = compileNodeSpec(raw());
    assert.equal('arch' in spec, false);
    assert.deepEqual(compileNodeSpec(raw({ arch: 'x86_64' })), spec);
    assert.equal(specHash(compileNodeSpec(raw({ arch: 'x86_64' }))), specHash(spec));
  });

  it('keeps aarch64, which changes the hash', () => {
    const spec = compileNodeSpec(raw({ arch: 'aarch64' }));
    assert.equal(spec.arch, 'aarch64');
    assert.notEqual(specHash(spec), specHash(compileNodeSpec(raw())));
  });

  it('refuses an unknown architecture, naming the field', () => {
    assertOnlyError(raw({ arch: 'riscv64' }), 'node.arch', /unknown architecture 'riscv64' \(use x86_64 or aarch64\)/);
  });

  it('refuses BIOS for aarch64: there is none', () => {
    assertOnlyError(raw({ arch: 'aarch64', bootMode: 'bios' }), 'node.boot_mode', /aarch64 .*UEFI .*no BIOS/);
    assert.equal(compileNodeSpec(raw({ arch: 'aarch64' })).bootMode, 'uefi');
  });
});
