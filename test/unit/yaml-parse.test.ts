import assert from 'node:assert/strict';
import { TenksError, type FieldError } from '../../common/errors.js';
import { parseClusterSpec } from '../../common/spec/index.js';

// YAML the fuzz benchmark (bench/fuzz.ts) found rejected without a field path: errors thrown by
// the YAML library as they are (a ReferenceError), a stack overflow's message, and a warning
// printed on stderr. Each must be one INVALID_SPEC error naming where the problem is.

/** The field errors of a spec text that must be rejected. */
function problems(text: string): FieldError[] {
  try {
    parseClusterSpec(text, 'lab.yaml');
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_SPEC');
    assert.ok(e.details.length > 0, 'the error lists its problems');
    return [...e.details];
  }
  assert.fail('expected the spec to be rejected');
}

const SPEC = `name: lab
node_types:
  t:
    memory_mb: 1024
    vcpus: 1
specs:
  - type: t
    count: 1
`;

describe('cluster spec YAML', () => {
  it('refuses an alias bomb (billion laughs), naming the key it is used at', () => {
    const bomb = [
      'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(',')}]`),
    ].join('\n');
    const found = problems(`${bomb}\n${SPEC}physnet_mappings: *l8\n`);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0]?.field ?? '', /^l\d(\[\d\])?$|^physnet_mappings$/);
    assert.match(found[0]?.message ?? '', /alias/i);
    assert.match(found[0]?.message ?? '', /line \d+, column \d+/);
  });

  it('refuses an alias with no anchor before it, naming its field', () => {
    const found = problems(SPEC.replace('type: t', 'type: *nowhere'));
    assert.deepEqual(
      found.map((f) => f.field),
      ['specs[0].type'],
    );
    assert.match(found[0]?.message ?? '', /\*nowhere/);
    assert.match(found[0]?.message ?? '', /anchor/);
  });

  it('refuses a mapping key that is a list or a mapping, naming where, without a process warning', () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const found = problems(`${SPEC}? [a, b]\n: 1\nnode_types_extra:\n  ? {x: 1}\n  : 2\n`);
      assert.deepEqual(found.map((f) => f.field).sort(), ['(root)', 'node_types_extra']);
      for (const f of found) assert.match(f.message, /key .*(list|mapping)/);
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message),
      [],
    );
  });

  it('says a too deeply nested document is nested too deeply, not that a stack overflowed', () => {
    const found = problems(`${SPEC}physnet_mappings: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    // How many levels the parser manages depends on the stack left (mocha's workers differ).
    for (const f of found) {
      assert.match(f.field, /^lab\.yaml:9:\d+$/);
      assert.doesNotMatch(f.message, /call stack/i);
      assert.match(f.message, /nested too deeply/);
    }
  });

  it('refuses a tag it does not know (the value was used as if untagged), naming where, without a process warning', () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      for (const tag of ['!!python/object/apply:os.system', '!custom', '!<tag:example.com,2000:x>']) {
        const found = problems(SPEC.replace('name: lab', `name: ${tag} lab`));
        assert.deepEqual(
          found.map((f) => f.field),
          ['lab.yaml:1:7'],
          tag,
        );
        assert.match(found[0]?.message ?? '', /tag/i);
      }
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.message),
      [],
    );
  });
});
