import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { advertiseFor, compileAgentConfig } from '../../agent/config.js';
import { compileCoordinatorConfig } from '../../coordinator/config.js';
import { TenksError } from '../../common/errors.js';

function configError(raw: unknown): TenksError {
  try {
    compileAgentConfig(raw);
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_SPEC');
    return e;
  }
  assert.fail('expected compileAgentConfig to throw');
}

describe('compileAgentConfig', () => {
  // Regression (fixed): a bad listen address was found only when the gRPC server started, after
  // libvirt, the network plane and the Redfish server were already up.
  it('refuses a listen address that is not host:port, before starting anything', () => {
    for (const listen of ['nope', '0.0.0.0', ':7443', '::1:7443']) {
      const e = configError({ listen });
      assert.equal(e.details[0]?.field, 'listen', listen);
    }
    assert.equal(compileAgentConfig({ listen: '[::1]:7443', insecure_loopback: true }).listen, '[::1]:7443');
    assert.throws(
      () => compileCoordinatorConfig({ listen: 'nope', insecure_loopback: true }),
      (e: unknown) => e instanceof TenksError && e.details[0]?.field === 'listen',
    );
  });

  it('coordinator: the secrets key file defaults beside the rest of the tenks state', () => {
    const c = compileCoordinatorConfig({ insecure_loopback: true });
    assert.equal(c.secretsKeyFile, '/var/lib/tenks/coordinator-secrets.key');
    assert.equal(
      compileCoordinatorConfig({ insecure_loopback: true, secrets_key_file: '/srv/k' }).secretsKeyFile,
      '/srv/k',
    );
    assert.throws(
      () => compileCoordinatorConfig({ insecure_loopback: true, secrets_key_file: '' }),
      (e: unknown) => e instanceof TenksError && e.details[0]?.field === 'secrets_key_file',
    );
  });

  it('refuses an IPMI port range that ends before it starts', () => {
    const e = configError({ bmc: { ipmi_port_range_start: 7000, ipmi_port_range_end: 6000 } });
    assert.equal(e.details[0]?.field, 'bmc.ipmi_port_range_end');
  });

  it('applies every default', () => {
    const want = {
      agentId: hostname(),
      listen: '0.0.0.0:7443',
      advertiseAddress: null,
      tls: null,
      insecureLoopback: false,
      libvirtUri: 'qemu:///system',
      libvirtConcurrency: 16,
      engine: 'auto',
      storage: { poolName: 'tenks', poolType: 'dir', poolPath: '/var/lib/libvirt/tenks_pool', concurrency: 4 },
      bmc: {
        listenAddress: '0.0.0.0',
        advertiseAddress: advertiseFor('0.0.0.0'),
        ipmiPortStart: 6230,
        ipmiPortEnd: 7229,
        redfishPort: 8000,
        redfishTls: false,
        defaultUsername: 'admin',
      },
      allowedImageDirs: ['/var/lib/tenks/images', '/var/lib/libvirt/images'],
      stateDir: '/var/lib/tenks',
      logDirectory: '/var/log/tenks',
      logLevel: 'info',
      shutdownGraceMs: 10_000,
      nats: null,
      heartbeatIntervalMs: 2000,
      // The default id is the host name: unmarked objects of a lab upgraded in place are its own.
      ownsUnmarked: true,
      testCapacity: null,
    };
    assert.deepEqual(compileAgentConfig({}), want);
    assert.deepEqual(compileAgentConfig(undefined), want);
    assert.deepEqual(compileAgentConfig(null), want);
    assert.deepEqual(compileAgentConfig({ storage: {} }), want);
  });

  it('refuses image directories that are not absolute', () => {
    const [d] = configError({ allowed_image_dirs: ['/srv/images', 'images'] }).details;
    assert.ok(d);
    assert.equal(d.field, 'allowed_image_dirs[1]');
    assert.match(d.message, /absolute/);
    assert.deepEqual(compileAgentConfig({ allowed_image_dirs: [] }).allowedImageDirs, []);
  });

  it('owns unmarked objects by default only under the default agent id', () => {
    assert.equal(compileAgentConfig({ agent_id: 'second' }).ownsUnmarked, false);
    assert.equal(compileAgentConfig({ agent_id: 'second', owns_unmarked: true }).ownsUnmarked, true);
    assert.equal(compileAgentConfig({ owns_unmarked: false }).ownsUnmarked, false);
  });

  it('takes test_capacity only with the test driver, each figure in its unit', () => {
    for (const libvirt_uri of ['qemu:///system', 'qemu:///embed?root=/tmp/x', 'qemu+ssh://root@hv/system']) {
      const [d] = configError({ libvirt_uri, test_capacity: { memory_mb: 1024 } }).details;
      assert.equal(d?.field, 'test_capacity', libvirt_uri);
      assert.match(d.message, /test driver/);
    }
    // Not given: libvirt's figures, whatever the URI.
    assert.equal(compileAgentConfig({ libvirt_uri: 'qemu:///system' }).testCapacity, null);
    assert.deepEqual(
      compileAgentConfig({
        libvirt_uri: 'test:///default',
        test_capacity: { memory_mb: 4096, cpus: 64, pool_gib: 2048 },
      }).testCapacity,
      { memoryBytes: 4096 * 2 ** 20, cpus: 64, poolCapacityBytes: 2048 * 2 ** 30, arches: null },
    );
    assert.deepEqual(compileAgentConfig({ libvirt_uri: 'test:///default', test_capacity: { cpus: 8 } }).testCapacity, {
      memoryBytes: null,
      cpus: 8,
      poolCapacityBytes: null,
      arches: null,
    });
    assert.equal(
      configError({ libvirt_uri: 'test:///default', test_capacity: { memory_gb: 1 } }).details[0]?.field,
      'test_capacity.memory_gb',
    );
    // Architectures: sorted, once each; only those tenks makes nodes of.
    assert.deepEqual(
      compileAgentConfig({
        libvirt_uri: 'test:///default',
        test_capacity: { arches: ['aarch64', 'x86_64', 'aarch64'] },
      }).testCapacity?.arches,
      ['aarch64', 'x86_64'],
    );
    const [bad] = configError({ libvirt_uri: 'test:///default', test_capacity: { arches: ['riscv64'] } }).details;
    assert.equal(bad?.field, 'test_capacity.arches[0]');
    assert.match(bad.message, /x86_64 or aarch64/);
    assert.equal(
      configError({ libvirt_uri: 'test:///default', test_capacity: { arches: [] } }).details[0]?.field,
      'test_capacity.arches',
    );
  });

  it('refuses Redfish over HTTPS without the agent certificate', () => {
    const e = configError({ bmc: { redfish_tls: true } });
    assert.equal(e.details[0]?.field, 'bmc.redfish_tls');
  });

  it('maps every option to its compiled name', () => {
    const c = compileAgentConfig({
      agent_id: 'hv-1',
      listen: '127.0.0.1:9000',
      advertise_address: 'hv1.example:9000',
      tls: { ca_file: '/etc/tenks/ca.pem', cert_file: '/etc/tenks/cert.pem', key_file: '/etc/tenks/key.pem' },
      insecure_loopback: true,
      libvirt_uri: 'qemu+ssh://root@hv/system',
      libvirt_concurrency: 4,
      engine: 'qemu',
      storage: { pool_name: 'p', pool_type: 'logical', pool_path: 'vg0', concurrency: 2 },
      bmc: {
        listen_address: '::',
        advertise_address: '2001:db8::1',
        ipmi_port_range_start: 0,
        ipmi_port_range_end: 0,
        redfish_port: 8443,
        redfish_tls: true,
        default_username: 'root',
      },
      allowed_image_dirs: ['/srv/images'],
      state_dir: '/tmp/state',
      log_directory: '/tmp/logs',
      log_level: 'debug',
      shutdown_grace_s: 2.5,
      nats: { servers: 'nats://n1:4222,nats://n2:4222', user: 'tenks', password: 'pw', replicas: 3 },
      heartbeat_interval_s: 0.5,
    });
    assert.deepEqual(c, {
      agentId: 'hv-1',
      listen: '127.0.0.1:9000',
      advertiseAddress: 'hv1.example:9000',
      tls: { caFile: '/etc/tenks/ca.pem', certFile: '/etc/tenks/cert.pem', keyFile: '/etc/tenks/key.pem' },
      insecureLoopback: true,
      libvirtUri: 'qemu+ssh://root@hv/system',
      libvirtConcurrency: 4,
      engine: 'qemu',
      storage: { poolName: 'p', poolType: 'logical', poolPath: 'vg0', concurrency: 2 },
      bmc: {
        listenAddress: '::',
        advertiseAddress: '2001:db8::1',
        ipmiPortStart: 0,
        ipmiPortEnd: 0,
        redfishPort: 8443,
        redfishTls: true,
        defaultUsername: 'root',
      },
      allowedImageDirs: ['/srv/images'],
      stateDir: '/tmp/state',
      logDirectory: '/tmp/logs',
      logLevel: 'debug',
      shutdownGraceMs: 2500,
      nats: {
        servers: ['nats://n1:4222', 'nats://n2:4222'],
        tls: null,
        user: 'tenks',
        password: 'pw',
        token: null,
        credsFile: null,
        replicas: 3,
      },
      heartbeatIntervalMs: 500,
      ownsUnmarked: false,
      testCapacity: null,
    });
  });

  it('rejects an unknown top-level key, naming it', () => {
    const e = configError({ libvirt_uri: 'test:///default', libvirt_url: 'x' });
    assert.equal(e.details.length, 1);
    assert.match(e.details[0]!.message, /libvirt_url/);
  });

  it('rejects an unknown key inside storage with its path', () => {
    const e = configError({ storage: { pool_nme: 'x' } });
    assert.equal(e.details.length, 1);
    assert.equal(e.details[0]!.field, 'storage.pool_nme');
    assert.match(e.details[0]!.message, /pool_nme/);
  });

  it('rejects an unknown key inside tls', () => {
    const e = configError({ tls: { ca_file: 'a', cert_file: 'b', key_file: 'c', password: 'd' } });
    assert.deepEqual(
      e.details.map((d) => d.field),
      ['tls.password'],
    );
    assert.match(e.message, /password/);
  });

  it('puts the unknown key itself in the field path', () => {
    assert.deepEqual(
      configError({ libvirt_url: 'x' }).details.map((d) => d.field),
      ['libvirt_url'],
    );
    assert.deepEqual(
      configError({ storage: { pool_nme: 'x' } }).details.map((d) => d.field),
      ['storage.pool_nme'],
    );
  });

  it('rejects a bad pool_type at storage.pool_type', () => {
    const e = configError({ storage: { pool_type: 'zfs' } });
    assert.deepEqual(
      e.details.map((d) => d.field),
      ['storage.pool_type'],
    );
    assert.equal(e.field, 'storage.pool_type');
  });

  it('reports every bad value at once with its path', () => {
    const e = configError({
      agent_id: 'bad id',
      libvirt_concurrency: 0,
      storage: { concurrency: 65, pool_path: '' },
      log_level: 'trace',
      shutdown_grace_s: -1,
      tls: { ca_file: 'a' },
    });
    assert.deepEqual(e.details.map((d) => d.field).sort(), [
      'agent_id',
      'libvirt_concurrency',
      'log_level',
      'shutdown_grace_s',
      'storage.concurrency',
      'storage.pool_path',
      'tls.cert_file',
      'tls.key_file',
    ]);
  });

  it('rejects a config that is not a mapping', () => {
    for (const raw of ['listen: x', 42, ['a']]) assert.equal(configError(raw).code, 'INVALID_SPEC');
  });
});
