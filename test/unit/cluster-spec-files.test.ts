import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TenksError } from '../../common/errors.js';
import {
  CLUSTER_SCHEMA_PATH,
  clusterJsonSchema,
  expandNodes,
  loadClusterSpecFile,
  parseClusterSpec,
} from '../../common/spec/index.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));

async function rejection(p: Promise<unknown>): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('cluster spec files', () => {
  it('compiles the upstream-style override unchanged, warning only about Ansible settings', async () => {
    const { spec, warnings } = await loadClusterSpecFile(repo('examples/upstream-override.yml'));
    assert.deepEqual(
      warnings.map((w) => w.field),
      ['ansible_python_interpreter', 'python_upper_constraints_url'],
    );
    assert.equal(spec.name, 'tenks');
    assert.equal(spec.bridgeType, 'openvswitch');
    assert.deepEqual(spec.ipmi, {
      address: '192.0.2.10',
      portRange: { start: 6230, end: 6260 },
      username: 'admin',
      password: 's3cr3t-lab',
    });
    const ns = expandNodes(spec);
    assert.deepEqual(
      ns.map((n) => n.name),
      ['ctl0', 'ctl1', 'ctl2', 'cmp0', 'cmp1', 'cmp2', 'cmp3', 'cmp4', 'cmp5', 'cmp6', 'cmp7', 'old0', 'old1'],
    );
    const old = ns.find((n) => n.name === 'old0');
    assert.equal(old?.bootMode, 'bios', 'from ironic_config.properties.capabilities');
    assert.deepEqual(
      old.volumes.map((v) => v.name),
      ['disk0'],
    );
    assert.deepEqual(ns.find((n) => n.name === 'ctl0')?.ironicConfig?.interfaces, {
      boot: 'ipxe',
      deploy: 'direct',
      network: 'neutron',
    });
    assert.deepEqual(
      spec.novaFlavors.map((f) => f.name),
      ['bm.controller', 'bm.compute', 'baremetal_legacy'],
    );
  });

  it("compiles upstream's minimal override shape", () => {
    // The shape of upstream's override.yml.example: a type, a spec with a resource class, one mapping.
    const text = [
      'node_types:',
      '  type0:',
      '    memory_mb: 1024',
      '    vcpus: 1',
      '    volumes:',
      '      - capacity: 2GB',
      '    physical_networks:',
      '      - physnet0',
      'specs:',
      '  - type: type0',
      '    count: 3',
      '    ironic_config:',
      '      resource_class: my_rc',
      'physnet_mappings:',
      '  physnet0: brfoo',
      '',
    ].join('\n');
    const { spec, warnings } = parseClusterSpec(text, 'override.yml');
    // No deploy images: Ironic's own configuration supplies them, as upstream; nothing to warn about.
    assert.deepEqual(warnings, []);
    const ns = expandNodes(spec);
    assert.deepEqual(
      ns.map((n) => n.name),
      ['tk0', 'tk1', 'tk2'],
    );
    assert.equal(ns[0]?.volumes[0]?.capacityBytes, 2_000_000_000);
    assert.equal(ns[0].driver, 'ipmi');
    assert.equal(ns[0].bootMode, 'uefi');
  });

  it('compiles the quickstart cluster', async () => {
    const { spec, warnings } = await loadClusterSpecFile(repo('examples/quickstart.yaml'));
    assert.deepEqual(warnings, []);
    assert.equal(spec.name, 'quickstart');
    const ns = expandNodes(spec);
    assert.deepEqual(
      ns.map((n) => [n.name, n.memoryMb, n.bootMode, n.driver, n.physnets, n.ironicConfig]),
      [
        ['tk0', 256, 'bios', 'ipmi', ['physnet1'], null],
        ['tk1', 256, 'bios', 'ipmi', ['physnet1'], null],
      ],
    );
    assert.deepEqual(
      ns[0]?.volumes.map((v) => v.capacityBytes),
      [1024 ** 3],
    );
  });

  it('reports YAML syntax errors with file, line and column', () => {
    try {
      parseClusterSpec('specs:\n  - type: a\n    count: [1\n', 'lab.yaml');
      assert.fail('expected a syntax error');
    } catch (e) {
      assert.ok(e instanceof TenksError);
      assert.equal(e.code, 'INVALID_SPEC');
      assert.match(e.details[0]?.field ?? '', /^lab\.yaml:\d+:\d+$/);
    }
  });

  it('reports duplicate YAML keys', () => {
    assert.throws(
      () => parseClusterSpec('name: a\nname: b\n', 'dup.yaml'),
      (e: unknown) => e instanceof TenksError && /^dup\.yaml:2:\d+$/.test(e.details[0]?.field ?? ''),
    );
  });

  it('names the file in the hint of spec errors', () => {
    assert.throws(
      () => parseClusterSpec('specs:\n  - type: nope\n    count: 1\n', 'lab.yaml'),
      (e: unknown) =>
        e instanceof TenksError && e.hint === 'fix lab.yaml and try again' && e.details[0]?.field === 'specs[0].type',
    );
  });

  it('says NOT_FOUND for a missing file', async () => {
    const e = await rejection(loadClusterSpecFile(repo('examples/no-such-cluster.yaml')));
    assert.equal(e.code, 'NOT_FOUND');
  });

  it('has an up-to-date JSON Schema committed (regenerate: npx tsx scripts/gen-schema.ts)', async () => {
    const committed: unknown = JSON.parse(await readFile(repo(CLUSTER_SCHEMA_PATH), 'utf8'));
    assert.deepEqual(committed, JSON.parse(JSON.stringify(clusterJsonSchema())));
  });

  it('describes every top-level key and the defaults in the JSON Schema', () => {
    const schema = clusterJsonSchema() as { properties: Record<string, { description?: string; default?: unknown }> };
    for (const [key, prop] of Object.entries(schema.properties))
      assert.ok(prop.description, `${key} has no description`);
    assert.equal(schema.properties.bridge_type?.default, 'openvswitch');
    assert.equal(schema.properties.node_name_prefix?.default, 'tk');
  });
});
