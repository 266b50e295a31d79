import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenksError } from '../../common/errors.js';
import { prepareConsoleLogDir, resolveOwner } from '../../agent/compute/console-log-dir.js';

describe('console log directories (libvirt_vm_default_console_log_dir, libvirt_vm_log_owner)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tenks-cld-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resolves a uid as user and group, and a name through passwd and group', async () => {
    await mkdir(join(dir, 'etc'));
    await writeFile(
      join(dir, 'etc/passwd'),
      'root:x:0:0::/root:/bin/sh\nnova:x:42436:42436::/:/bin/false\nlone:x:2001:100::/:/bin/false\n',
    );
    await writeFile(join(dir, 'etc/group'), 'root:x:0:\nnova:x:42436:\n');
    assert.deepEqual(await resolveOwner('42436', join(dir, 'etc')), { uid: 42436, gid: 42436 });
    assert.deepEqual(await resolveOwner('nova', join(dir, 'etc')), { uid: 42436, gid: 42436 });
    // No group of the same name: the user's primary group.
    assert.deepEqual(await resolveOwner('lone', join(dir, 'etc')), { uid: 2001, gid: 100 });
    await assert.rejects(resolveOwner('nobody-here', join(dir, 'etc')), (e: unknown) => {
      assert.ok(e instanceof TenksError);
      assert.equal(e.field, 'node.console_log_owner');
      assert.match(e.message, /nobody-here/);
      return true;
    });
  });

  it('creates the directory, and with an owner gives it and its files to that owner, mode 0770', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const logs = join(dir, 'kolla/tenks');
    await prepareConsoleLogDir(logs, undefined);
    assert.ok((await stat(logs)).isDirectory());
    await writeFile(join(logs, 'tk0-console.log'), 'boot\n');
    await prepareConsoleLogDir(logs, '42436');
    for (const p of [logs, join(logs, 'tk0-console.log')]) {
      const st = await stat(p);
      assert.equal(st.uid, 42436, p);
      assert.equal(st.gid, 42436, p);
    }
    assert.equal((await stat(logs)).mode & 0o777, 0o770);
  });
});
