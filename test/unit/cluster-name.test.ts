/** The cluster name of a spec without `name`: from upstream's state_file_path (common/spec/cluster-name.ts). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import {
  clusterNameFromStateFile,
  compileClusterSpec,
  describeNameSource,
  parseClusterSpec,
  resolveClusterName,
  stateFileName,
} from '../../common/spec/index.js';
import { TenksError } from '../../common/errors.js';
import { sharedMissing, sharedPath } from '../../bench/shared-dir.js';

const COMPAT = sharedPath('compat');
/** The values of stackhpc/a-universe-from-nothing, verbatim (after YAML's folding). */
const AUFN_COMPUTE = "{{ '/'.join([(playbook_dir | dirname), 'state-compute.yml']) }}";
const AUFN_STORAGE = "{{ '/'.join([(playbook_dir | dirname), 'state-storage.yml']) }}";
/** Upstream Tenks' default (ansible/group_vars/all). */
const UPSTREAM_DEFAULT = "{{ '/'.join([(playbook_dir | dirname), 'state.yml']) }}";

const nameOf = (stateFilePath: string): string => {
  const r = resolveClusterName(null, stateFilePath);
  assert.ok(r.ok, JSON.stringify(r));
  return r.identity.name;
};

describe('cluster name from state_file_path', () => {
  it('plain paths: the basename, without extension and a leading state-/state_/state.', () => {
    assert.equal(nameOf('/etc/tenks/state-compute.yml'), 'compute');
    assert.equal(nameOf('state_storage.yaml'), 'storage');
    assert.equal(nameOf('/srv/State.Lab2.json'), 'lab2');
    assert.equal(nameOf('/srv/my lab/Overcloud_VMs.yml'), 'overcloud-vms');
    assert.equal(nameOf('/var/lib/tenks/state.yml'), 'tenks');
    assert.equal(nameOf('relative/statefile.yml'), 'statefile');
    assert.equal(nameOf('/srv/compute'), 'compute');
  });

  it("a-universe-from-nothing's values, verbatim, and upstream's default", () => {
    assert.equal(stateFileName(AUFN_COMPUTE), 'state-compute.yml');
    assert.equal(nameOf(AUFN_COMPUTE), 'compute');
    assert.equal(nameOf(AUFN_STORAGE), 'storage');
    assert.equal(nameOf(UPSTREAM_DEFAULT), 'tenks');
  });

  it('Jinja: the text after the last }} when it holds a file name, else the last literal', () => {
    assert.equal(stateFileName('{{ playbook_dir }}/state-ci.yml'), 'state-ci.yml');
    assert.equal(nameOf('{{ playbook_dir }}/state-ci.yml'), 'ci');
    assert.equal(nameOf("{{ lookup('env', 'HOME') }}/tenks/{{ 'x' }}/state.yml"), 'tenks');
    // Only an extension after the expression: the literal inside names the file.
    assert.equal(nameOf("{{ playbook_dir ~ '/state-edge' }}.yml"), 'edge');
    assert.equal(nameOf("{{ (playbook_dir, 'state-b.yml') | join('/') }}"), 'b');
    assert.equal(nameOf("{% if x %}{{ 'state-x.yml' }}{% else %}{{ 'state-y.yml' }}{% endif %}"), 'y');
    assert.equal(nameOf('{{ "/tmp/state-dq.yml" }}'), 'dq');
  });

  it('cuts to 63 characters and drops the dashes that would end it', () => {
    const long = `state-${'a'.repeat(62)}_b.yml`;
    assert.equal(clusterNameFromStateFile(long.slice(long.lastIndexOf('/') + 1)), 'a'.repeat(62));
    assert.equal(nameOf(`/x/${'b'.repeat(70)}.yml`), 'b'.repeat(63));
  });

  it('garbage: an error naming state_file_path and asking for a name', () => {
    for (const bad of [
      '{{ some_var }}',
      '/var/lib/tenks/',
      '{{ base }}.yml',
      '/x/___.yml',
      "{{ playbook_dir ~ '/' }}",
    ]) {
      const r = resolveClusterName(null, bad);
      assert.ok(!r.ok, `${bad}: ${JSON.stringify(r)}`);
      assert.equal(r.error.field, 'state_file_path');
      assert.match(r.error.message, /give the cluster a name \(name: \.\.\.\)/);
    }
    assert.throws(
      () => compileClusterSpec({ state_file_path: '{{ some_var }}' }),
      (err: unknown) =>
        err instanceof TenksError &&
        err.code === 'INVALID_SPEC' &&
        err.field === 'state_file_path' &&
        err.message.includes('give the cluster a name'),
    );
    assert.throws(() => compileClusterSpec({ state_file_path: ['a'] }), /state_file_path: expected string/);
  });

  it('name wins, with a warning when state_file_path says otherwise; empty values are absent', () => {
    const both = compileClusterSpec({ name: 'lab', state_file_path: AUFN_COMPUTE });
    assert.equal(both.spec.name, 'lab');
    assert.equal(both.spec.nameSource, 'name');
    assert.deepEqual(
      both.warnings.filter((w) => w.field === 'name').map((w) => w.message),
      ["'lab' is used; state_file_path alone would have named the cluster 'compute'"],
    );
    const agree = compileClusterSpec({ name: 'compute', state_file_path: AUFN_COMPUTE });
    assert.deepEqual(agree.warnings, []);
    // A name given with a state file that names nothing is fine: the name is all tenks needs.
    assert.equal(compileClusterSpec({ name: 'x', state_file_path: '{{ v }}' }).spec.name, 'x');
    const empty = compileClusterSpec({ name: null, state_file_path: '' });
    assert.equal(empty.spec.name, 'tenks');
    assert.equal(empty.spec.nameSource, 'default');
  });

  it('the compiled spec says where its name came from', () => {
    const s = compileClusterSpec({ state_file_path: AUFN_STORAGE }).spec;
    assert.equal(s.name, 'storage');
    assert.equal(s.nameSource, 'state_file_path');
    assert.equal(s.stateFilePath, AUFN_STORAGE);
    assert.equal(describeNameSource(s), "state_file_path 'state-storage.yml'");
    assert.equal(describeNameSource(compileClusterSpec({}).spec), 'default');
    assert.equal(describeNameSource(compileClusterSpec({ name: 'a' }).spec), 'name');
  });

  it("a-universe-from-nothing's three files are three clusters: tenks, compute, storage", async function () {
    const dir: string | null = COMPAT;
    if (dir === null) {
      console.log(`      skipped: ${sharedMissing('compat')}`);
      this.skip();
    }
    const names: string[] = [];
    for (const f of ['stackhpc-aufn-tenks.yml', 'stackhpc-aufn-tenks-compute.yml', 'stackhpc-aufn-tenks-storage.yml']) {
      const text: string = await readFile(`${dir}/${f}`, 'utf8');
      const { spec, warnings } = parseClusterSpec(text, f);
      names.push(spec.name);
      assert.ok(!warnings.some((w) => w.field === 'state_file_path'), JSON.stringify(warnings));
      const raw = (parse(text) as { state_file_path?: string }).state_file_path ?? null;
      assert.equal(spec.stateFilePath, raw);
    }
    assert.deepEqual(names, ['tenks', 'compute', 'storage']);
  });
});
