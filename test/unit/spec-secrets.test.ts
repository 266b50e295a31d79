import assert from 'node:assert/strict';
import { TenksError } from '../../common/errors.js';
import {
  compileClusterSpec,
  isSecretKey,
  parseClusterSpec,
  redactSpecSecrets,
  replaceSpecSecrets,
  specSecrets,
  REDACTED,
  SECRET_SPEC_FIELDS,
} from '../../common/spec/index.js';
import { parseYaml } from '../../common/config.js';

const SPEC = `# lab spec
name: lab1
ipmi_username: admin
ipmi_password: "ipmi-pw" # the BMCs' password
redfish_password: rf-pw
node_types:
  t0: { memory_mb: 256, vcpus: 1, vault_token: tok-1 }
specs:
  - type: t0
    count: 1
`;

describe('cluster spec secrets', function () {
  it('knows the secret fields of the schema and pass-through keys named like secrets', function () {
    assert.deepEqual([...SECRET_SPEC_FIELDS], ['ipmi_password', 'redfish_password']);
    for (const k of ['ipmi_password', 'redfish_password', 'os_password', 'vault_token', 'client_secret'])
      assert.ok(isSecretKey(k), k);
    for (const k of ['ipmi_username', 'redfish_username', 'name', 'deploy_kernel', 'cloud'])
      assert.ok(!isSecretKey(k), k);
  });

  it('finds every secret with its path and its text as written', function () {
    assert.deepEqual(specSecrets(SPEC), [
      { path: 'ipmi_password', value: 'ipmi-pw', source: '"ipmi-pw"' },
      { path: 'redfish_password', value: 'rf-pw', source: 'rf-pw' },
      { path: 'node_types.t0.vault_token', value: 'tok-1', source: 'tok-1' },
    ]);
  });

  it('redacts only the values: comments, order and the other keys stay as written', function () {
    const out = redactSpecSecrets(SPEC);
    assert.equal(out, SPEC.replace('"ipmi-pw"', REDACTED).replace('rf-pw', REDACTED).replace('tok-1', REDACTED));
    assert.ok(!/ipmi-pw|rf-pw|tok-1/.test(out));
    // Still a valid spec (nothing secret in it).
    const { spec } = parseClusterSpec(out, 'redacted');
    assert.equal(spec.ipmi.password, REDACTED);
    assert.equal(spec.name, 'lab1');
  });

  it('redacts values reached through aliases where their anchor is, keeping the anchor', function () {
    const text = 'x-creds: &pw s3cret\nipmi_password: *pw\nname: lab\n';
    const out = redactSpecSecrets(text);
    assert.equal(out, `x-creds: &pw ${REDACTED}\nipmi_password: *pw\nname: lab\n`);
    assert.deepEqual(parseYaml(out, 't'), { 'x-creds': REDACTED, ipmi_password: REDACTED, name: 'lab' });
  });

  it('handles block scalars, flow mappings, nested secrets and secret collections', function () {
    const text = [
      'redfish_password: |-',
      '  multi',
      '  line',
      'extra: {client_secret: "a,b", other: 1}',
      'passwords: [one, two]',
      'tail: 1',
      '',
    ].join('\n');
    const out = redactSpecSecrets(text);
    assert.deepEqual(parseYaml(out, 't'), {
      redfish_password: REDACTED,
      extra: { client_secret: REDACTED, other: 1 },
      passwords: [REDACTED, REDACTED],
      tail: 1,
    });
  });

  it('replaces and restores values byte for byte', function () {
    const text = "ipmi_password: >-\n  folded\n  pw\n\nredfish_password: 'it''s' # c\nname: lab\n";
    const sources: string[] = [];
    const hidden = replaceSpecSecrets(text, (s) => {
      sources.push(s.source);
      return `"h${sources.length - 1}"`;
    });
    assert.equal(hidden, 'ipmi_password: "h0"\n\nredfish_password: "h1" # c\nname: lab\n');
    const back = replaceSpecSecrets(hidden, (s) => sources[Number(String(s.value).slice(1))] ?? null);
    assert.equal(back, text);
    const untouched = replaceSpecSecrets(text, () => null);
    assert.equal(untouched, text);
  });

  it('leaves a spec without secrets as it is, and refuses text that is not YAML', function () {
    assert.equal(redactSpecSecrets('name: lab\n'), 'name: lab\n');
    assert.equal(redactSpecSecrets(''), '');
    assert.throws(
      () => redactSpecSecrets('ipmi_password: [unclosed\n', 'lab.yaml'),
      (e: unknown) =>
        e instanceof TenksError && e.code === 'INVALID_SPEC' && /lab\.yaml:\d+:\d+/.test(e.details[0]?.field ?? ''),
    );
  });

  it('never shows a secret in validation errors', function () {
    try {
      compileClusterSpec({
        ipmi_password: 'x'.repeat(30),
        node_types: { t: { vcpus: 1, memory_mb: 64, vault_token: 5 } },
      });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof TenksError);
      assert.ok(!JSON.stringify(e.details).includes('xxxxxxxxxx'), JSON.stringify(e.details));
    }
  });
});
