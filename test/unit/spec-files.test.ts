/** Several spec files as one (common/spec/spec-files.ts): Ansible's `-e @a.yml -e @b.yml` merge. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { TenksError } from '../../common/errors.js';
import { mergeSpecFiles, parseClusterSpecFiles, type SpecFile } from '../../common/spec/index.js';
import { sharedMissing, sharedPath } from '../../bench/shared-dir.js';

const A: SpecFile = {
  source: 'a.yml',
  text: [
    'name: lab',
    'node_types:',
    '  small: { memory_mb: 256, vcpus: 1 }',
    '  big: { memory_mb: 4096, vcpus: 4 }',
    'specs:',
    '  - { type: small, count: 2 }',
    'ipmi_username: admin',
  ].join('\n'),
};
const B: SpecFile = {
  source: 'b.yml',
  text: ['node_types:', '  tiny: { memory_mb: 128, vcpus: 1 }', 'specs:', '  - { type: tiny, count: 3 }'].join('\n'),
};

function invalid(files: SpecFile[]): TenksError {
  try {
    parseClusterSpecFiles(files);
  } catch (e) {
    if (e instanceof TenksError && e.code === 'INVALID_SPEC') return e;
    throw e;
  }
  assert.fail('expected INVALID_SPEC');
}

describe('spec files merged in order', () => {
  it("replaces a top-level key wholesale, as Ansible's default hash_behaviour (replace) does", () => {
    const { merged, origins } = mergeSpecFiles([A, B]);
    // node_types of a.yml is gone entirely: no deep merge.
    assert.deepEqual(merged.node_types, { tiny: { memory_mb: 128, vcpus: 1 } });
    assert.deepEqual(merged.specs, [{ type: 'tiny', count: 3 }]);
    assert.equal(merged.name, 'lab');
    assert.deepEqual(Object.fromEntries(origins), {
      name: 'a.yml',
      node_types: 'b.yml',
      specs: 'b.yml',
      ipmi_username: 'a.yml',
    });
  });

  it('compiles the merge, and sends it as YAML named after all the files', () => {
    const m = parseClusterSpecFiles([A, B]);
    assert.equal(m.source, 'a.yml + b.yml');
    assert.equal(m.compiled.spec.name, 'lab');
    assert.deepEqual(Object.keys(m.compiled.spec.nodeTypes), ['tiny']);
    assert.equal(m.compiled.spec.specs[0]?.count, 3);
    assert.deepEqual(parse(m.specYaml), mergeSpecFiles([A, B]).merged);
  });

  it('one file: sent as written, errors as before', () => {
    const m = parseClusterSpecFiles([A]);
    assert.equal(m.specYaml, A.text);
    assert.equal(m.source, 'a.yml');
    const e = invalid([{ source: 'one.yml', text: 'specs: [{ type: nope, count: 1 }]' }]);
    assert.equal(e.details[0]?.message, "unknown node type 'nope' (none are defined)");
    assert.equal(e.hint, 'fix one.yml and try again');
  });

  it('a field error names the file its top-level key came from', () => {
    const bad: SpecFile = { source: 'b.yml', text: 'specs:\n  - { type: small, count: -1 }\n' };
    const e = invalid([A, bad]);
    assert.deepEqual(
      e.details.map((d) => `${d.field}: ${d.message}`),
      ['specs[0].count: must be 0 or more (from b.yml)'],
    );
    const e2 = invalid([{ source: 'a.yml', text: 'ipmi_port_range_start: 99999' }, B]);
    assert.match(e2.message, /^ipmi_port_range_start: ports are 1-65535 \(from a\.yml\)$/m);
    // A cross-file reference: the spec (b.yml) names a type a.yml does not define.
    const e3 = invalid([A, { source: 'c.yml', text: 'specs: [{ type: huge, count: 1 }]' }]);
    assert.match(e3.message, /^specs\[0\]\.type: unknown node type 'huge'.* \(from c\.yml\)$/m);
  });

  it('warnings name their file too', () => {
    const m = parseClusterSpecFiles([A, { source: 'extra.yml', text: 'virtualenv_path: /opt/venv\n' }]);
    assert.deepEqual(
      m.compiled.warnings.map((w) => `${w.field}: ${w.message}`),
      ['virtualenv_path: has no effect in tenks (tenks installs no Python); ignored (from extra.yml)'],
    );
  });

  it('an empty file adds nothing; a file that is not a mapping, or not YAML, is named', () => {
    assert.equal(parseClusterSpecFiles([A, { source: 'empty.yml', text: '# nothing\n' }]).compiled.spec.name, 'lab');
    const e = invalid([A, { source: 'list.yml', text: '- a\n- b\n' }]);
    assert.deepEqual(e.details, [{ field: 'list.yml:(root)', message: 'a cluster spec is a mapping of settings' }]);
    const y = invalid([A, { source: 'broken.yml', text: 'a: [1,\n' }]);
    assert.match(y.details[0]?.field ?? '', /^broken\.yml:\d+:\d+$/);
  });

  it('an upstream file and an override of it: the override names the cluster', async function () {
    const f = sharedPath('compat', 'stackhpc-aufn-tenks-compute.yml');
    if (f === null) {
      console.log(`      skipped: ${sharedMissing('compat', 'stackhpc-aufn-tenks-compute.yml')}`);
      this.skip();
    }
    const text = await readFile(f, 'utf8');
    const m = parseClusterSpecFiles([
      { source: f, text },
      { source: 'mine.yml', text: 'name: lab-compute\nipmi_port_range_start: 7000\nipmi_port_range_end: 7010\n' },
    ]);
    assert.equal(m.compiled.spec.name, 'lab-compute');
    assert.equal(m.compiled.spec.nameSource, 'name');
    assert.deepEqual(m.compiled.spec.ipmi.portRange, { start: 7000, end: 7010 });
    assert.equal(m.compiled.spec.specs[0]?.count, 2);
  });
});
