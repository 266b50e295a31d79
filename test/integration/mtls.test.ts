/** The agent's gRPC listener with mutual TLS: only clients with a certificate of the agent's CA get in. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { compileAgentConfig } from '../../agent/config.js';
import { AgentDaemon } from '../../agent/daemon.js';
import type { Connection } from '../../agent/native/index.js';
import type { ErrorCode, TenksError } from '../../common/errors.js';
import type { LogFields, Logger } from '../../common/logger.js';
import { AgentClient, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { LOOPBACK_BMC } from '../helpers/net.js';
import { cleanupLibvirt, openLibvirt, rejectsWith, suffix, TEST_URI } from './helpers.js';

const execFileAsync = promisify(execFile);
const MAKE_CERTS = new URL('../../deploy/make-certs.sh', import.meta.url).pathname;
/** The certificates name DNS:localhost; the client dials 127.0.0.1 and verifies that name. */
const SERVER_NAME = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

describe('agent mTLS (test driver)', function () {
  const run = suffix();
  const pool = `tenks-it-tls-${run}`;
  let dir = '';
  let conn: Connection | undefined;
  let agent: TestAgent | undefined;
  const clients: AgentClient[] = [];
  const pem: Record<string, Buffer> = {};

  function client(creds: ChannelCredentials): AgentClient {
    assert.ok(agent);
    const c = new AgentClient(agent.address, creds, SERVER_NAME);
    clients.push(c);
    return c;
  }

  /**
   * Starts a daemon on `raw`, which must fail with `code` before it touched anything: no pool, no
   * state directory, nothing logged about libvirt, the network or a listener. Cleans up its scratch
   * directory and pool either way.
   */
  async function startMustFail(raw: Record<string, unknown>, code: ErrorCode): Promise<TenksError> {
    const scratch = await mkdtemp(join(tmpdir(), 'tenks-test-'));
    const failPool = `tenks-it-tlsfail-${suffix()}`;
    const logged: string[] = [];
    const recorder: Logger = {
      debug: (m: string) => logged.push(m),
      info: (m: string) => logged.push(m),
      warn: (m: string) => logged.push(m),
      error: (m: string, f?: LogFields) => logged.push(`${m} ${JSON.stringify(f)}`),
      child: () => recorder,
    };
    try {
      const config = compileAgentConfig({
        libvirt_uri: TEST_URI,
        log_directory: join(scratch, 'log'),
        state_dir: join(scratch, 'state'),
        storage: { pool_name: failPool, pool_path: join(scratch, 'pool') },
        bmc: LOOPBACK_BMC,
        ...raw,
      });
      const started = AgentDaemon.start(config, recorder).then(async (daemon) => {
        await daemon.stop(1000);
        return daemon;
      });
      const err = await rejectsWith(started, code);
      assert.ok(conn);
      assert.equal(await conn.findPool(failPool), null, 'no pool was defined');
      await assert.rejects(access(join(scratch, 'state')), 'no state directory was made');
      assert.deepEqual(logged, [], 'nothing was started');
      return err;
    } finally {
      if (conn) await cleanupLibvirt(conn, { domainPart: failPool, pool: failPool });
      await rm(scratch, { recursive: true, force: true });
    }
  }

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'tenks-tls-'));
    await execFileAsync('bash', [MAKE_CERTS, join(dir, 'ca'), 'agent', 'client'], { timeout: 20_000 });
    await execFileAsync('bash', [MAKE_CERTS, join(dir, 'other'), 'client'], { timeout: 20_000 });
    for (const [key, file] of Object.entries({
      ca: 'ca/ca.pem',
      clientCert: 'ca/client.pem',
      clientKey: 'ca/client-key.pem',
      otherCa: 'other/ca.pem',
      otherCert: 'other/client.pem',
      otherKey: 'other/client-key.pem',
    }))
      pem[key] = await readFile(join(dir, file));
    conn = await openLibvirt();
    agent = await startTestAgent({
      libvirt_uri: TEST_URI,
      listen: '127.0.0.1:0',
      insecure_loopback: false,
      storage: { pool_name: pool },
      tls: {
        ca_file: join(dir, 'ca/ca.pem'),
        cert_file: join(dir, 'ca/agent.pem'),
        key_file: join(dir, 'ca/agent-key.pem'),
      },
    });
  });

  after(async function () {
    for (const c of clients) c.close();
    if (conn) await cleanupLibvirt(conn, { domainPart: run, pool });
    await agent?.stop();
    await conn?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves a client with a certificate of its CA', async function () {
    const c = client(credentials.createSsl(pem.ca, pem.clientKey, pem.clientCert));
    const { host } = await c.hostInfo({ timeoutMs: 10_000 });
    assert.equal(host?.pool?.name, pool);
  });

  it('refuses a client without a certificate', async function () {
    const c = client(credentials.createSsl(pem.ca));
    const err = await rejectsWith(c.hostInfo({ timeoutMs: 10_000 }), 'UNAVAILABLE');
    assert.doesNotMatch(err.message, /deadline/i);
  });

  it('refuses a client whose certificate comes from another CA', async function () {
    const c = client(credentials.createSsl(pem.ca, pem.otherKey, pem.otherCert));
    await rejectsWith(c.hostInfo({ timeoutMs: 10_000 }), 'UNAVAILABLE');
  });

  it('is not trusted by a client of another CA', async function () {
    const c = client(credentials.createSsl(pem.otherCa, pem.otherKey, pem.otherCert));
    await rejectsWith(c.hostInfo({ timeoutMs: 10_000 }), 'UNAVAILABLE');
  });

  it('refuses a plaintext client', async function () {
    const c = client(credentials.createInsecure());
    await rejectsWith(c.hostInfo({ timeoutMs: 10_000 }), 'UNAVAILABLE');
  });

  it('still serves the good client after refusing the others', async function () {
    const c = client(credentials.createSsl(pem.ca, pem.clientKey, pem.clientCert));
    assert.ok((await c.hostInfo({ timeoutMs: 10_000 })).host);
  });

  it('refuses plaintext on a non-loopback listener (PERMISSION)', async function () {
    const err = await startMustFail({ insecure_loopback: true, listen: '0.0.0.0:0' }, 'PERMISSION');
    assert.equal(err.field, 'listen');
  });

  it('refuses to start without tls unless insecure_loopback is set (INVALID_SPEC)', async function () {
    const err = await startMustFail({ insecure_loopback: false, listen: '127.0.0.1:0' }, 'INVALID_SPEC');
    assert.equal(err.field, 'tls');
  });

  it("refuses a key that is not its certificate's, naming tls.key_file, before touching anything", async function () {
    const err = await startMustFail(
      {
        listen: '127.0.0.1:0',
        tls: {
          ca_file: join(dir, 'ca/ca.pem'),
          cert_file: join(dir, 'ca/agent.pem'),
          key_file: join(dir, 'ca/client-key.pem'),
        },
      },
      'INVALID_SPEC',
    );
    assert.equal(err.field, 'tls.key_file');
    assert.match(err.message, /does not belong to the certificate/);
  });

  it('reports every bad TLS file at once: a missing CA and a key that is not PEM', async function () {
    const garbage = join(dir, 'garbage-key.pem');
    await writeFile(garbage, 'not a key\n');
    const err = await startMustFail(
      {
        listen: '127.0.0.1:0',
        tls: { ca_file: join(dir, 'nope/ca.pem'), cert_file: join(dir, 'ca/agent.pem'), key_file: garbage },
      },
      'INVALID_SPEC',
    );
    assert.deepEqual(
      err.details.map((d) => d.field),
      ['tls.ca_file', 'tls.key_file'],
    );
    assert.match(err.message, /tls\.ca_file: '.*nope\/ca\.pem' does not exist/);
    assert.match(err.message, /tls\.key_file: '.*garbage-key\.pem' is not a PEM private key/);
  });

  it('refuses a Redfish over HTTPS whose key does not match, even with plaintext gRPC on loopback', async function () {
    const err = await startMustFail(
      {
        listen: '127.0.0.1:0',
        insecure_loopback: true,
        tls: {
          ca_file: join(dir, 'ca/ca.pem'),
          cert_file: join(dir, 'ca/agent.pem'),
          key_file: join(dir, 'other/client-key.pem'),
        },
        bmc: { ...LOOPBACK_BMC, redfish_tls: true },
      },
      'INVALID_SPEC',
    );
    assert.equal(err.field, 'tls.key_file');
  });

  it('refuses a listen address that is not on this host (INVALID_SPEC listen)', async function () {
    const err = await startMustFail(
      {
        listen: '192.0.2.1:0',
        tls: {
          ca_file: join(dir, 'ca/ca.pem'),
          cert_file: join(dir, 'ca/agent.pem'),
          key_file: join(dir, 'ca/agent-key.pem'),
        },
      },
      'INVALID_SPEC',
    );
    assert.equal(err.field, 'listen');
    assert.match(err.message, /192\.0\.2\.1 is not an address of this host/);
  });
});
