/** Checks of the files and directories a daemon's config names, before the daemon changes anything. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkWritableDir, configError, readConfigFile } from '../../common/config-files.js';
import { TenksError } from '../../common/errors.js';
import { splitHostPort } from '../../common/grpc/tls.js';

describe('config files', function () {
  let dir = '';

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-unit-cfg-'));
    await writeFile(join(dir, 'file'), 'x');
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts an existing directory and one that can be created under it', async function () {
    assert.equal(await checkWritableDir(dir, 'state_dir'), null);
    assert.equal(await checkWritableDir(join(dir, 'a', 'b'), 'state_dir'), null);
  });

  it('refuses a directory path that is a file, or lies under one', async function () {
    const self = await checkWritableDir(join(dir, 'file'), 'state_dir');
    assert.equal(self?.field, 'state_dir');
    assert.equal(self.code, 'INVALID_SPEC');
    assert.match(self.message, /is not a directory/);
    const under = await checkWritableDir(join(dir, 'file', 'sub'), 'log_directory');
    assert.equal(under?.field, 'log_directory');
    assert.match(under.message, /'.*file' \(in '.*file\/sub'\) is not a directory/);
  });

  it('names the field of a file that does not exist', async function () {
    await assert.rejects(readConfigFile(join(dir, 'nope.pem'), 'tls.ca_file'), (e: unknown) => {
      assert.ok(e instanceof TenksError);
      assert.equal(e.code, 'INVALID_SPEC');
      assert.equal(e.field, 'tls.ca_file');
      assert.match(e.message, /^tls\.ca_file: '.*nope\.pem' does not exist$/);
      return true;
    });
  });

  it('reports every problem in one error, with the first one code and field', function () {
    const e = configError([
      { field: 'tls.key_file', code: 'PERMISSION', message: 'not allowed to read' },
      { field: 'state_dir', code: 'INVALID_SPEC', message: 'is not a directory' },
    ]);
    assert.equal(e.code, 'PERMISSION');
    assert.equal(e.field, 'tls.key_file');
    assert.deepEqual(
      e.details.map((d) => d.field),
      ['tls.key_file', 'state_dir'],
    );
    assert.equal(e.message, 'tls.key_file: not allowed to read\nstate_dir: is not a directory');
  });

  it('refuses a listen port above 65535', function () {
    assert.throws(
      () => splitHostPort('127.0.0.1:70000'),
      (e: unknown) => e instanceof TenksError && e.field === 'listen' && e.message.includes('above 65535'),
    );
    assert.deepEqual(splitHostPort('[::1]:65535'), { host: '::1', port: 65535 });
  });
});
