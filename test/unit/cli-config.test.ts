import assert from 'node:assert/strict';
import {
  DEFAULT_COORDINATOR,
  configFileCandidates,
  dialOptions,
  loadCliConfigFile,
  parseCliConfigFile,
  resolveCliSettings,
  type CliConfigFile,
} from '../../cli/config.js';
import { TenksError } from '../../common/errors.js';

function thrown(f: () => unknown): TenksError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected it to throw');
}

async function rejected(p: Promise<unknown>): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected it to reject');
}

const FILE: CliConfigFile = {
  path: '/etc/tenks/tenksctl.yaml',
  coordinator: 'file-host:7442',
  agent: 'file-agent:7443',
  caFile: '/etc/tenks/pki/ca.pem',
  certFile: '/etc/tenks/pki/client.pem',
  keyFile: '/etc/tenks/pki/client-key.pem',
  nats: ['nats://file-nats:4222'],
  output: 'yaml',
};

describe('tenksctl config', () => {
  describe('precedence', () => {
    it('uses the defaults without flags, environment or file', () => {
      const s = resolveCliSettings({}, {}, null);
      assert.equal(s.coordinator, DEFAULT_COORDINATOR);
      assert.equal(s.coordinator, '127.0.0.1:7442');
      assert.equal(s.agent, '127.0.0.1:7443');
      assert.equal(s.nats, null, 'NATS URLs come from GetInfo by default');
      assert.equal(s.output, 'table');
      assert.equal(s.insecure, false);
      assert.equal(s.timeoutMs, 120_000);
      assert.equal(s.configFile, null);
    });

    it('takes the file over the defaults', () => {
      const s = resolveCliSettings({}, {}, FILE);
      assert.equal(s.coordinator, 'file-host:7442');
      assert.equal(s.agent, 'file-agent:7443');
      assert.deepEqual(s.nats, ['nats://file-nats:4222']);
      assert.equal(s.output, 'yaml');
      assert.equal(s.caFile, '/etc/tenks/pki/ca.pem');
      assert.equal(s.configFile, '/etc/tenks/tenksctl.yaml');
    });

    it('takes the environment over the file', () => {
      const s = resolveCliSettings(
        {},
        {
          TENKS_COORDINATOR: 'env-host:1',
          TENKS_AGENT: 'env-agent:2',
          TENKS_NATS: 'nats://a:4222, nats://b:4222',
          TENKS_CA: '/env/ca.pem',
        },
        FILE,
      );
      assert.equal(s.coordinator, 'env-host:1');
      assert.equal(s.agent, 'env-agent:2');
      assert.deepEqual(s.nats, ['nats://a:4222', 'nats://b:4222']);
      assert.equal(s.caFile, '/env/ca.pem');
      assert.equal(s.certFile, '/etc/tenks/pki/client.pem', 'per file: the others still come from the file');
    });

    it('takes flags over the environment', () => {
      const s = resolveCliSettings(
        { coordinator: 'flag-host:3', nats: 'nats://flag:4222', output: 'json', ca: '/flag/ca.pem', timeout: '2.5' },
        { TENKS_COORDINATOR: 'env-host:1', TENKS_NATS: 'nats://env:4222', TENKS_CA: '/env/ca.pem' },
        FILE,
      );
      assert.equal(s.coordinator, 'flag-host:3');
      assert.deepEqual(s.nats, ['nats://flag:4222']);
      assert.equal(s.output, 'json');
      assert.equal(s.caFile, '/flag/ca.pem');
      assert.equal(s.timeoutMs, 2500);
    });

    it('ignores empty environment variables', () => {
      const s = resolveCliSettings({}, { TENKS_COORDINATOR: '', TENKS_NATS: '' }, FILE);
      assert.equal(s.coordinator, 'file-host:7442');
      assert.deepEqual(s.nats, ['nats://file-nats:4222']);
    });

    it('lets TLS files from flags or environment override insecure: true in the file', () => {
      const file: CliConfigFile = { path: '/f.yaml', insecure: true };
      assert.equal(resolveCliSettings({}, {}, file).insecure, true);
      assert.equal(resolveCliSettings({ ca: 'ca', cert: 'c', key: 'k' }, {}, file).insecure, false);
      assert.equal(resolveCliSettings({}, { TENKS_CERT: 'c' }, file).insecure, false);
      assert.equal(resolveCliSettings({ insecure: true, ca: 'ca' }, {}, FILE).insecure, true, '--insecure wins');
      assert.equal(resolveCliSettings({}, { TENKS_INSECURE: '1' }, FILE).insecure, true);
      assert.equal(resolveCliSettings({}, { TENKS_INSECURE: 'false' }, file).insecure, false);
    });

    it('reports every bad flag and variable at once, by name', () => {
      const e = thrown(() =>
        resolveCliSettings(
          { coordinator: 'no-port', output: 'xml', timeout: '-1' },
          { TENKS_AGENT: 'also bad', TENKS_NATS: 'http://x', TENKS_INSECURE: 'maybe' },
          null,
        ),
      );
      assert.equal(e.code, 'INVALID_SPEC');
      assert.deepEqual(e.details.map((d) => d.field).sort(), [
        '--coordinator',
        '--timeout',
        '-o',
        'TENKS_AGENT',
        'TENKS_INSECURE',
        'TENKS_NATS',
      ]);
    });
  });

  describe('config file', () => {
    it('parses every key, and resolves relative paths against the file', () => {
      const c = parseCliConfigFile(
        [
          'coordinator: coord.example:7442',
          'agent: "[::1]:7443"',
          'ca_file: pki/ca.pem',
          'cert_file: /abs/client.pem',
          'key_file: ../key.pem',
          'server_name: localhost',
          'insecure: false',
          'nats: [nats://n1:4222, tls://n2:4222]',
          'output: json',
        ].join('\n'),
        '/etc/tenks/tenksctl.yaml',
      );
      assert.deepEqual(c, {
        path: '/etc/tenks/tenksctl.yaml',
        coordinator: 'coord.example:7442',
        agent: '[::1]:7443',
        caFile: '/etc/tenks/pki/ca.pem',
        certFile: '/abs/client.pem',
        keyFile: '/etc/key.pem',
        serverName: 'localhost',
        insecure: false,
        nats: ['nats://n1:4222', 'tls://n2:4222'],
        output: 'json',
      });
    });

    it('takes one NATS URL as a string, and an empty file as no settings', () => {
      assert.deepEqual(parseCliConfigFile('nats: nats://n1:4222\n', '/x.yaml').nats, ['nats://n1:4222']);
      assert.deepEqual(parseCliConfigFile('', '/x.yaml'), { path: '/x.yaml' });
      assert.deepEqual(parseCliConfigFile('# only a comment\n', '/x.yaml'), { path: '/x.yaml' });
    });

    it('names the file and the path of every bad field', () => {
      const e = thrown(() =>
        parseCliConfigFile(
          'coordinator: 7442\nnats: [nats://ok:4222, "not a url"]\noutput: xml\ninsecure: "yes"\ncoordinatr: x\n',
          '/home/u/.config/tenks/tenksctl.yaml',
        ),
      );
      assert.equal(e.code, 'INVALID_SPEC');
      assert.match(e.message, /\/home\/u\/\.config\/tenks\/tenksctl\.yaml/);
      assert.deepEqual(e.details.map((d) => d.field).sort(), [
        'coordinator',
        'coordinatr',
        'insecure',
        'nats[1]',
        'output',
      ]);
      assert.match(e.message, /coordinatr: unknown key 'coordinatr'/);
    });

    it('gives the line and column of a YAML syntax error', () => {
      const e = thrown(() => parseCliConfigFile('coordinator: [unclosed\n', '/x.yaml'));
      assert.equal(e.code, 'INVALID_SPEC');
      assert.match(e.details[0]?.field ?? '', /^\/x\.yaml:\d+:\d+$/);
    });

    it('refuses a file that is not a mapping', () => {
      const e = thrown(() => parseCliConfigFile('- a\n- b\n', '/x.yaml'));
      assert.equal(e.details[0]?.field, '(root)');
    });
  });

  describe('finding the file', () => {
    it('tries --config, else TENKS_CONFIG, else the user file, then /etc', () => {
      assert.deepEqual(configFileCandidates({ config: '/c.yaml' }, { TENKS_CONFIG: '/e.yaml' }, '/home/u'), [
        { path: '/c.yaml', required: true },
      ]);
      assert.deepEqual(configFileCandidates({}, { TENKS_CONFIG: '/e.yaml' }, '/home/u'), [
        { path: '/e.yaml', required: true },
      ]);
      assert.deepEqual(configFileCandidates({}, {}, '/home/u'), [
        { path: '/home/u/.config/tenks/tenksctl.yaml', required: false },
        { path: '/etc/tenks/tenksctl.yaml', required: false },
      ]);
      assert.equal(
        configFileCandidates({}, { XDG_CONFIG_HOME: '/xdg' }, '/home/u')[0]?.path,
        '/xdg/tenks/tenksctl.yaml',
      );
    });

    it('falls back to /etc when the user has no file, and to none', async () => {
      const files: Record<string, string> = { '/etc/tenks/tenksctl.yaml': 'coordinator: sys:7442\n' };
      const read = (p: string): Promise<string | null> => Promise.resolve(files[p] ?? null);
      const c = await loadCliConfigFile({}, {}, '/home/u', read);
      assert.equal(c?.coordinator, 'sys:7442');
      files['/home/u/.config/tenks/tenksctl.yaml'] = 'coordinator: user:7442\n';
      assert.equal((await loadCliConfigFile({}, {}, '/home/u', read))?.coordinator, 'user:7442');
      assert.equal(await loadCliConfigFile({}, {}, '/nobody', () => Promise.resolve(null)), null);
    });

    it('insists that a file named by TENKS_CONFIG exists', async () => {
      const e = await rejected(
        loadCliConfigFile({}, { TENKS_CONFIG: '/missing.yaml' }, '/home/u', () => Promise.resolve(null)),
      );
      assert.equal(e.code, 'NOT_FOUND');
      assert.equal(e.field, 'TENKS_CONFIG');
      assert.match(e.message, /\/missing\.yaml/);
    });
  });

  describe('dialOptions', () => {
    it('needs all three TLS files unless insecure', () => {
      const e = thrown(() => dialOptions(resolveCliSettings({ ca: 'ca' }, {}, null), '127.0.0.1:7442'));
      assert.equal(e.code, 'INVALID_SPEC');
      assert.equal(e.field, '--cert');
      const ok = dialOptions(resolveCliSettings({ insecure: true }, {}, null), '127.0.0.1:7442');
      assert.equal(ok.tls, null);
      const tls = dialOptions(resolveCliSettings({ serverName: 'coord' }, {}, FILE), 'h:1');
      assert.deepEqual(tls, {
        address: 'h:1',
        tls: { caFile: FILE.caFile, certFile: FILE.certFile, keyFile: FILE.keyFile },
        serverName: 'coord',
      });
    });
  });
});
