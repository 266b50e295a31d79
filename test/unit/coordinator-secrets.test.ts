import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenksError } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/logger.js';
import { parseClusterSpec, specSecrets } from '../../common/spec/index.js';
import {
  isSealed,
  openSecretBox,
  sealSpec,
  SecretBox,
  unsealSpec,
  SEALED_PREFIX,
} from '../../coordinator/secrets/index.js';

const SPEC = `name: lab1
ipmi_username: admin
ipmi_password: "ipmi-pw" # the BMCs' password
redfish_password: |-
  rf
  pw
node_types:
  t0: { memory_mb: 256, vcpus: 1 }
specs: [{ type: t0, count: 1 }]
`;

function permissionError(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof TenksError, String(e));
    assert.equal(e.code, 'PERMISSION');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('coordinator secrets', function () {
  const box = new SecretBox(randomBytes(32), '/etc/tenks/a.key');

  describe('SecretBox', function () {
    it('seals values recognisably, differently each time, and opens them', function () {
      const a = box.seal('pässword');
      const b = box.seal('pässword');
      assert.ok(a.startsWith(SEALED_PREFIX) && isSealed(a));
      assert.match(a, /^sealed:v1:[A-Za-z0-9+/]+=*$/);
      assert.notEqual(a, b, 'a fresh nonce per sealing');
      assert.ok(!a.includes('pässword'));
      assert.equal(box.open(a), 'pässword');
      assert.equal(box.open(box.seal('')), '');
      assert.ok(!isSealed('password') && !isSealed(7));
    });

    it('refuses, naming the key file, a value sealed under another key', function () {
      const other = new SecretBox(randomBytes(32), '/etc/tenks/b.key');
      permissionError(
        () => other.open(box.seal('pw')),
        /sealed with key [0-9a-f]{8}, not with the key in \/etc\/tenks\/b\.key/,
      );
    });

    it('refuses an altered value, naming the key file', function () {
      const sealed = Buffer.from(box.seal('password').slice(SEALED_PREFIX.length), 'base64');
      sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
      permissionError(
        () => box.open(SEALED_PREFIX + sealed.toString('base64')),
        /does not open with the key in \/etc\/tenks\/a\.key/,
      );
    });
  });

  describe('specs', function () {
    it('seals every secret in place and nothing else, and unsealing gives the spec back byte for byte', function () {
      const sealed = sealSpec(box, SPEC);
      assert.ok(!/ipmi-pw|rf\n|pw\n/.test(sealed), sealed);
      const secrets = specSecrets(sealed);
      assert.deepEqual(
        secrets.map((s) => s.path),
        ['ipmi_password', 'redfish_password'],
      );
      assert.ok(secrets.every((s) => isSealed(s.value)));
      assert.ok(sealed.startsWith('name: lab1\nipmi_username: admin\nipmi_password: "sealed:v1:'));
      assert.ok(sealed.includes('" # the BMCs\' password\n'), 'comments stay');
      assert.equal(unsealSpec(box, sealed), SPEC);
      assert.equal(parseClusterSpec(unsealSpec(box, sealed)).spec.redfish.password, 'rf\npw');
    });

    it('loads specs stored before sealing (plain secrets) as they are', function () {
      assert.equal(unsealSpec(box, SPEC), SPEC);
      assert.equal(unsealSpec(box, ''), '');
    });

    it('opens exactly one sealing: a submitted value that looks sealed stays that value', function () {
      const text = `redfish_password: "${box.seal('inner')}"\n`;
      assert.equal(unsealSpec(box, sealSpec(box, text)), text);
    });

    it('with the wrong key: PERMISSION naming the key file', function () {
      const other = new SecretBox(randomBytes(32), '/srv/other.key');
      permissionError(() => unsealSpec(other, sealSpec(box, SPEC)), /\/srv\/other\.key/);
    });
  });

  describe('key file', function () {
    let dir = '';
    beforeEach(async function () {
      dir = await mkdtemp(join(tmpdir(), 'tenks-key-'));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it('is created 0600 (in a new 0700 directory) when missing, and read back the same afterwards', async function () {
      const file = join(dir, 'state', 'coordinator-secrets.key');
      const logged: string[] = [];
      const log: Logger = { ...nullLogger, info: (m: string) => logged.push(m) };
      const first = await openSecretBox(file, log);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'state'))).mode & 0o777, 0o700);
      assert.match(await readFile(file, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
      assert.deepEqual(logged, ['secrets key created']);
      const again = await openSecretBox(file, nullLogger);
      assert.equal(again.keyId, first.keyId);
      assert.equal(again.open(first.seal('x')), 'x');
    });

    it('two coordinators starting at once end up with one key', async function () {
      const file = join(dir, 'k');
      const boxes = await Promise.all([1, 2, 3, 4].map(() => openSecretBox(file, nullLogger)));
      assert.equal(new Set(boxes.map((b) => b.keyId)).size, 1);
    });

    it('refuses a file that does not hold a key, naming the option', async function () {
      const file = join(dir, 'k');
      await writeFile(file, 'not a key\n', { mode: 0o600 });
      await assert.rejects(openSecretBox(file, nullLogger), (e: unknown) => {
        assert.ok(e instanceof TenksError);
        assert.equal(e.code, 'INVALID_SPEC');
        assert.equal(e.field, 'secrets_key_file');
        assert.ok(e.message.includes(file));
        return true;
      });
    });

    it('warns when the key file is readable by others', async function () {
      const file = join(dir, 'k');
      await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o644 });
      const warned: string[] = [];
      await openSecretBox(file, { ...nullLogger, warn: (m: string) => warned.push(m) });
      assert.deepEqual(warned, ['secrets key file is readable by others than its owner']);
    });
  });
});
