/**
 * The BMC credentials file (agent/bmc/store.ts): what it writes it reads back, and a file that is
 * not what it wrote is refused with an error naming the file and each wrong field, never a password.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BmcStore, type BmcRecord } from '../../agent/bmc/store.js';
import { isTenksError } from '../../common/index.js';

const UUID = '11111111-2222-4333-8444-555555555555';
const RECORD: BmcRecord = { name: 'tk0', username: 'admin', password: 'pw-never-shown', ipmiPort: 6230, redfish: true };

describe('BMC credentials file', function () {
  let dir = '';
  let path = '';

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-unit-bmc-store-'));
    path = join(dir, 'bmc-x.json');
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  /** Loading the file at `path` (holding `content`) fails with an INTERNAL error whose message matches every pattern. */
  async function refused(content: string, ...patterns: RegExp[]): Promise<void> {
    await writeFile(path, content);
    await assert.rejects(new BmcStore(path).load(), (e: unknown) => {
      assert.ok(isTenksError(e), String(e));
      assert.equal(e.code, 'INTERNAL');
      assert.match(e.message, new RegExp(`'${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`), 'names the file');
      for (const p of patterns) assert.match(e.message, p);
      assert.doesNotMatch(e.message, /pw-never-shown/, 'no password in the error');
      return true;
    });
  }

  it('starts empty without a file, and reads back what it wrote (mode 0600)', async function () {
    path = join(dir, 'state', 'bmc-x.json');
    const store = new BmcStore(path);
    await store.load();
    assert.deepEqual(store.entries(), []);
    await store.set(UUID, RECORD);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = new BmcStore(path);
    await again.load();
    assert.deepEqual(again.entries(), [[UUID, RECORD]]);
    assert.deepEqual([...again.usedPorts()], [6230]);
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { version: number }).version, 1);
  });

  it('refuses a file that is not JSON, naming the file', async function () {
    await refused('{"version": 1, "nodes": {', /is not valid JSON/);
  });

  it('refuses records with missing or wrong fields, naming the file and each field', async function () {
    const doc = {
      version: 1,
      nodes: {
        [UUID]: { ...RECORD, ipmiPort: '6230', password: 42 },
        other: { name: 'tk1', username: 'admin', password: 'pw-never-shown', ipmiPort: 70000 },
      },
    };
    await refused(
      JSON.stringify(doc),
      new RegExp(`nodes\\.${UUID}\\.ipmiPort`),
      new RegExp(`nodes\\.${UUID}\\.password`),
      /nodes\.other\.ipmiPort/,
      /nodes\.other\.redfish/,
    );
  });

  it('refuses another format version or a file without records', async function () {
    await refused(JSON.stringify({ version: 2, nodes: {} }), /version/);
    await refused(JSON.stringify({ version: 1 }), /nodes/);
    await refused(JSON.stringify([]), /\(root\)|expected object/);
  });
});
