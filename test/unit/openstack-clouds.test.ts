/**
 * clouds.yaml discovery and compilation: the search path and secure.yaml merge (in temp dirs, with
 * env and cwd passed in, never the real home), cloud selection, OS_* clouds, every auth type,
 * override precedence, TLS keys, and errors that name the file and key but never a secret.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { nullLogger, TenksError } from '../../common/index.js';
import {
  cloudSearchDirs,
  endpointServiceOf,
  loadCloudConfig,
  type CloudAuth,
  type CloudConfig,
} from '../../coordinator/openstack/index.js';

const SECRET = 'hunter2-never-print-me';

let root: string;
let cwd: string;
let home: string;
let etc: string;

/** The search path of a test: cwd, ~/.config/openstack, an /etc stand-in. */
const dirs = (): string[] => [cwd, join(home, '.config', 'openstack'), join(etc, 'openstack')];

async function put(path: string, text: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
}

function load(name: string | null, env: NodeJS.ProcessEnv = {}): Promise<CloudConfig> {
  return loadCloudConfig(name, { env: { HOME: home, ...env }, cwd, searchDirs: dirs(), log: nullLogger });
}

async function rejection(p: Promise<unknown>): Promise<TenksError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TenksError, `expected a TenksError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

const LAB = `
clouds:
  lab:
    auth:
      auth_url: http://keystone.lab:5000
      username: admin
      password: ${SECRET}
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`;

function authOf<T extends CloudAuth['type']>(c: CloudConfig, type: T): Extract<CloudAuth, { type: T }> {
  assert.equal(c.auth.type, type);
  return c.auth as Extract<CloudAuth, { type: T }>;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tenks-clouds-'));
  cwd = join(root, 'cwd');
  home = join(root, 'home');
  etc = join(root, 'etc');
  await mkdir(cwd, { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('clouds.yaml search', () => {
  it('searches cwd, XDG_CONFIG_HOME, ~/.config, XDG_CONFIG_DIRS and /etc/openstack, in that order', () => {
    assert.deepEqual(cloudSearchDirs({ HOME: '/h', XDG_CONFIG_HOME: '/x', XDG_CONFIG_DIRS: '/a:/b' }, '/w'), [
      '/w',
      '/x/openstack',
      '/h/.config/openstack',
      '/a/openstack',
      '/b/openstack',
      '/etc/openstack',
    ]);
    assert.deepEqual(cloudSearchDirs({ HOME: '/h', XDG_CONFIG_HOME: '/h/.config' }, '/w'), [
      '/w',
      '/h/.config/openstack',
      '/etc/xdg/openstack',
      '/etc/openstack',
    ]);
  });

  it('takes the first file found: ./clouds.yaml before ~/.config and /etc', async () => {
    await put(join(cwd, 'clouds.yaml'), LAB.replace('keystone.lab', 'cwd.lab'));
    await put(join(home, '.config/openstack/clouds.yaml'), LAB.replace('keystone.lab', 'home.lab'));
    await put(join(etc, 'openstack/clouds.yaml'), LAB);
    const c = await load('lab');
    assert.equal(authOf(c, 'password').authUrl, 'http://cwd.lab:5000');
    assert.equal(c.source, join(cwd, 'clouds.yaml'));
  });

  it('finds clouds.yml and clouds.json too', async () => {
    await put(join(home, '.config/openstack/clouds.yml'), LAB);
    assert.equal((await load('lab')).source, join(home, '.config/openstack/clouds.yml'));
    await put(
      join(cwd, 'clouds.json'),
      JSON.stringify({ clouds: { j: { auth_type: 'none', baremetal_endpoint_override: 'http://i:6385' } } }),
    );
    const j = await load('j');
    assert.equal(j.auth.type, 'none');
    assert.equal(j.services.baremetal.endpointOverride, 'http://i:6385');
  });

  it('puts OS_CLIENT_CONFIG_FILE first, and fails when it names a missing file', async () => {
    await put(join(cwd, 'clouds.yaml'), LAB);
    const other = await put(join(root, 'elsewhere.yaml'), LAB.replace('keystone.lab', 'other.lab'));
    const c = await load('lab', { OS_CLIENT_CONFIG_FILE: other });
    assert.equal(authOf(c, 'password').authUrl, 'http://other.lab:5000');
    const e = await rejection(load('lab', { OS_CLIENT_CONFIG_FILE: join(root, 'nope.yaml') }));
    assert.equal(e.code, 'NOT_FOUND');
    assert.match(e.message, /OS_CLIENT_CONFIG_FILE names '.*nope\.yaml'/);
  });

  it('uses $XDG_CONFIG_HOME/openstack on the default search path', async () => {
    const xdg = join(root, 'xdg');
    await put(join(xdg, 'openstack/clouds.yaml'), LAB);
    const c = await loadCloudConfig('lab', { env: { HOME: home, XDG_CONFIG_HOME: xdg }, cwd, log: nullLogger });
    assert.equal(c.source, join(xdg, 'openstack/clouds.yaml'));
  });

  it('merges secure.yaml (found on its own search) into the cloud', async () => {
    await put(
      join(cwd, 'clouds.yaml'),
      `clouds:
  lab:
    auth:
      auth_url: http://keystone.lab:5000/v3
      username: admin
      project_id: p1
      user_domain_id: default
    region_name: RegionOne
`,
    );
    await put(join(etc, 'openstack/secure.yaml'), `clouds:\n  lab:\n    auth:\n      password: ${SECRET}\n`);
    const c = await load('lab');
    const a = authOf(c, 'password');
    assert.equal(a.password.reveal(), SECRET);
    assert.deepEqual(a.user, { name: 'admin', domain: { id: 'default' } });
    assert.equal(c.source, `${join(cwd, 'clouds.yaml')} + ${join(etc, 'openstack/secure.yaml')}`);
  });

  it('takes OS_CLIENT_SECURE_FILE first, and a cloud only in secure.yaml', async () => {
    const s = await put(
      join(root, 's.yaml'),
      'clouds:\n  hidden:\n    auth_type: admin_token\n    auth: {token: t, endpoint: "http://n:8774/v2.1"}\n',
    );
    const c = await load('hidden', { OS_CLIENT_SECURE_FILE: s });
    assert.equal(authOf(c, 'admin_token').token.reveal(), 't');
    assert.equal(c.source, s);
  });
});

describe('cloud selection', () => {
  const TWO = `${LAB}  other:\n    auth_type: none\n    baremetal_endpoint_override: http://other:6385\n`;

  it('chooses by name, else OS_CLOUD, else the OS_* cloud, else the only cloud', async () => {
    await put(join(cwd, 'clouds.yaml'), TWO);
    assert.equal((await load('other', { OS_CLOUD: 'lab' })).name, 'other');
    assert.equal((await load(null, { OS_CLOUD: 'lab' })).name, 'lab');
    const env = { OS_AUTH_TYPE: 'none', OS_BAREMETAL_ENDPOINT_OVERRIDE: 'http://env:6385' };
    const e = await load(null, env);
    assert.equal(e.name, 'envvars');
    assert.equal(e.source, 'environment');
    assert.equal((await load(null, { ...env, OS_CLOUD: 'lab' })).name, 'lab');
    assert.equal((await load('envvars', env)).name, 'envvars');
    await put(join(cwd, 'clouds.yaml'), LAB);
    assert.equal((await load(null)).name, 'lab');
  });

  // Regression (fixed): keys were normalized `-` to `_` all the way down, cloud names included, so
  // a cloud called `tenks-test` (which the openstack CLI finds) was 'not found (clouds: tenks_test)'.
  it('keeps cloud names as written while normalizing their keys', async () => {
    await put(
      join(cwd, 'clouds.yaml'),
      'clouds:\n  my-lab:\n    auth-type: none\n    baremetal-endpoint-override: http://lab:6385\n  my_lab2:\n    auth_type: none\n',
    );
    await put(join(cwd, 'secure.yaml'), 'clouds:\n  my-lab:\n    region-name: R1\n');
    const c = await load('my-lab');
    assert.equal(c.name, 'my-lab');
    assert.equal(c.auth.type, 'none');
    assert.equal(c.regionName, 'R1');
    assert.equal(c.services.baremetal.endpointOverride, 'http://lab:6385');
    const e = await rejection(load('my_lab'));
    assert.match(e.message, /clouds: my-lab, my_lab2/);
  });

  it('wants a choice when the file has several clouds', async () => {
    await put(join(cwd, 'clouds.yaml'), TWO);
    const e = await rejection(load(null));
    assert.equal(e.code, 'INVALID_SPEC');
    assert.match(e.message, /clouds: lab, other/);
    assert.match(e.hint ?? '', /OS_CLOUD/);
  });

  it('names the cloud and the file when the cloud is missing', async () => {
    await put(join(cwd, 'clouds.yaml'), TWO);
    const e = await rejection(load('prod'));
    assert.equal(e.code, 'NOT_FOUND');
    assert.match(e.message, /cloud 'prod' not found/);
    assert.ok(e.message.includes(join(cwd, 'clouds.yaml')), e.message);
    assert.match(e.message, /clouds: lab, other/);
  });

  it('names the directories searched when there is no clouds.yaml', async () => {
    const e = await rejection(load('prod'));
    assert.equal(e.code, 'NOT_FOUND');
    for (const d of dirs()) assert.ok(e.message.includes(join(d, 'clouds.{yaml,yml,json}')), e.message);
    const none = await rejection(load(null));
    assert.equal(none.code, 'NOT_FOUND');
    assert.match(none.message, /no OpenStack cloud configured/);
  });

  it('refuses a file cloud named like the OS_* cloud', async () => {
    await put(join(cwd, 'clouds.yaml'), 'clouds:\n  envvars:\n    auth_type: none\n');
    const e = await rejection(load(null, { OS_AUTH_TYPE: 'none' }));
    assert.equal(e.code, 'INVALID_SPEC');
    assert.match(e.hint ?? '', /OS_CLOUD_NAME/);
  });
});

describe('OS_* clouds', () => {
  it('reads the usual variables', async () => {
    const c = await load(null, {
      OS_AUTH_URL: 'https://keystone.example:5000/v3/',
      OS_USERNAME: 'tenks',
      OS_PASSWORD: SECRET,
      OS_PROJECT_NAME: 'baremetal',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_REGION_NAME: 'RegionTwo',
      OS_INTERFACE: 'internal',
      OS_CACERT: '/etc/ssl/lab-ca.pem',
      OS_CERT: '/c.pem',
      OS_KEY: '/k.pem',
      OS_BAREMETAL_ENDPOINT_OVERRIDE: 'http://ironic:6385/',
      OS_BAREMETAL_API_VERSION: '1.78',
      OS_API_TIMEOUT: '12.5',
      OS_TEST_TIMEOUT: '60',
    });
    assert.equal(c.name, 'envvars');
    const a = authOf(c, 'password');
    assert.equal(a.authUrl, 'https://keystone.example:5000/v3');
    assert.deepEqual(a.user, { name: 'tenks', domain: { name: 'Default' } });
    assert.deepEqual(a.scope, { kind: 'project', project: { name: 'baremetal', domain: { id: 'default' } } });
    assert.equal(c.regionName, 'RegionTwo');
    assert.equal(c.services.compute.interface, 'internal');
    assert.equal(c.services.compute.regionName, 'RegionTwo');
    assert.deepEqual(c.services.baremetal, {
      endpointOverride: 'http://ironic:6385',
      interface: 'internal',
      regionName: 'RegionTwo',
      apiVersion: '1.78',
    });
    assert.deepEqual(c.tls, { caFile: '/etc/ssl/lab-ca.pem', certFile: '/c.pem', keyFile: '/k.pem', verify: true });
    assert.equal(c.apiTimeoutMs, 12500);
  });

  it('names variables in errors, and OS_CLOUD_NAME renames the cloud', async () => {
    const e = await rejection(load(null, { OS_AUTH_URL: 'http://k:5000', OS_USERNAME: 'u' }));
    assert.equal(e.message, 'environment: OS_PASSWORD: required for auth_type password');
    const c = await load(null, { OS_CLOUD_NAME: 'mine', OS_AUTH_TYPE: 'none', OS_ENDPOINT: 'http://i:6385' });
    assert.equal(c.name, 'mine');
    assert.equal(authOf(c, 'none').endpoint, 'http://i:6385');
  });

  it('ignores selector-only variables (OS_REGION_NAME alone makes no cloud)', async () => {
    const e = await rejection(load(null, { OS_REGION_NAME: 'R' }));
    assert.equal(e.code, 'NOT_FOUND');
  });

  it('token and endpoint make admin_token; OS_INSECURE turns verification off', async () => {
    const c = await load(null, { OS_TOKEN: 'admin:admin', OS_ENDPOINT: 'http://nova:8774/v2.1', OS_INSECURE: 'true' });
    assert.equal(authOf(c, 'admin_token').token.reveal(), 'admin:admin');
    assert.equal(c.tls.verify, false);
  });
});

describe('auth types', () => {
  async function cloud(yaml: string, name = 'c'): Promise<CloudConfig> {
    await put(join(cwd, 'clouds.yaml'), `clouds:\n  ${name}:\n${yaml.replace(/^/gm, '    ')}\n`);
    return load(name);
  }

  it('password and v3password, with ids, names and the domain shorthands', async () => {
    const byId = authOf(
      await cloud(
        'auth_type: v3password\nauth:\n  auth_url: http://k:5000\n  user_id: u1\n  password: p\n  project_id: 42',
      ),
      'password',
    );
    assert.deepEqual(byId.user, { id: 'u1' });
    assert.deepEqual(byId.scope, { kind: 'project', project: { id: '42' } });
    const shorthand = authOf(
      await cloud(
        'auth:\n  auth_url: http://k:5000\n  username: u\n  password: p\n  project_name: x\n  domain_name: D',
      ),
      'password',
    );
    assert.deepEqual(shorthand.user, { name: 'u', domain: { name: 'D' } });
    assert.deepEqual(shorthand.scope, { kind: 'project', project: { name: 'x', domain: { name: 'D' } } });
    const domainScope = authOf(
      await cloud(
        'auth:\n  auth_url: http://k:5000\n  username: u\n  password: p\n  user_domain_id: default\n  domain_id: d9',
      ),
      'password',
    );
    assert.deepEqual(domainScope.scope, { kind: 'domain', domain: { id: 'd9' } });
    const system = authOf(
      await cloud(
        'auth:\n  auth_url: http://k:5000\n  username: u\n  password: p\n  default_domain_name: Default\n  system_scope: all',
      ),
      'password',
    );
    assert.deepEqual(system.scope, { kind: 'system' });
    assert.deepEqual(system.user, { name: 'u', domain: { name: 'Default' } });
    const tenant = authOf(
      await cloud(
        'auth:\n  auth-url: http://k:5000\n  username: u\n  password: p\n  user-domain-id: default\n  tenant_name: t\n  project_domain_id: default',
      ),
      'password',
    );
    assert.deepEqual(tenant.scope, { kind: 'project', project: { name: 't', domain: { id: 'default' } } });
  });

  it('v3applicationcredential and application_credential, by id or by name and user', async () => {
    const byId = authOf(
      await cloud(
        'auth_type: v3applicationcredential\nauth:\n  auth_url: http://k:5000/v3\n  application_credential_id: ac1\n  application_credential_secret: s',
      ),
      'v3applicationcredential',
    );
    assert.deepEqual(byId.credential, { id: 'ac1' });
    assert.equal(byId.secret.reveal(), 's');
    const byName = authOf(
      await cloud(
        'auth_type: application_credential\nauth:\n  auth_url: http://k:5000\n  application_credential_name: tenks\n  application_credential_secret: s\n  username: u\n  user_domain_name: Default',
      ),
      'v3applicationcredential',
    );
    assert.deepEqual(byName.credential, { name: 'tenks', user: { name: 'u', domain: { name: 'Default' } } });
    const inferred = await cloud(
      'auth:\n  auth_url: http://k:5000\n  application_credential_id: ac1\n  application_credential_secret: s',
    );
    assert.equal(inferred.auth.type, 'v3applicationcredential');
  });

  it('token (Keystone), admin_token / token_endpoint / token without auth_url, http_basic, none', async () => {
    const ks = authOf(
      await cloud('auth_type: v3token\nauth:\n  auth_url: http://k:5000\n  token: tok\n  project_id: p'),
      'token',
    );
    assert.equal(ks.token.reveal(), 'tok');
    const admin = authOf(
      await cloud(
        'auth_type: token_endpoint\nauth:\n  token: admin:admin\n  url: http://nova:8774/v2.1\nbaremetal_endpoint_override: http://i:6385',
      ),
      'admin_token',
    );
    assert.equal(admin.endpoint, 'http://nova:8774/v2.1');
    const tokenNoKs = await cloud('auth_type: token\nauth:\n  token: admin:admin\n  endpoint: http://nova:8774/v2.1');
    assert.equal(tokenNoKs.auth.type, 'admin_token');
    const basic = authOf(
      await cloud('auth_type: http_basic\nauth:\n  username: u\n  password: p\n  endpoint: http://i:6385'),
      'http_basic',
    );
    assert.equal(basic.username, 'u');
    assert.equal(authOf(await cloud('auth_type: None'), 'none').endpoint, null);
    assert.equal((await cloud('auth_type:\nbaremetal_endpoint_override: http://i:6385')).auth.type, 'none');
  });

  it('rejects Keystone v2 and unknown auth types', async () => {
    const v2 = await rejection(cloud('auth_type: v2password\nauth: {auth_url: "http://k:5000"}'));
    assert.equal(v2.code, 'INVALID_SPEC');
    assert.match(v2.message, /clouds\.c\.auth_type: v2password is Keystone v2/);
    const oidc = await rejection(cloud('auth_type: v3oidcpassword'));
    assert.equal(oidc.code, 'UNSUPPORTED');
    assert.match(oidc.message, /auth type 'v3oidcpassword' is not supported/);
    const id2 = await rejection(cloud('identity_api_version: 2\nauth_type: none'));
    assert.match(id2.message, /identity_api_version: Keystone v2 is not supported/);
  });

  it('names the missing key with its path', async () => {
    const file = join(cwd, 'clouds.yaml');
    const cases: [string, string][] = [
      ['auth:\n  username: u\n  password: p', 'clouds.lab.auth.auth_url: required for auth_type password'],
      [
        'auth:\n  auth_url: http://k:5000\n  username: u\n  project_id: p',
        'clouds.lab.auth.password: required for auth_type password',
      ],
      [
        'auth:\n  auth_url: http://k:5000\n  username: u\n  password: p\n  project_id: p',
        'clouds.lab.auth.user_domain_name: required with username (or user_domain_id, domain_name)',
      ],
      [
        'auth:\n  auth_url: http://k:5000\n  user_id: u\n  password: p\n  project_name: x',
        'clouds.lab.auth.project_domain_name: required with project_name (or project_domain_id, domain_name)',
      ],
      [
        'auth:\n  auth_url: http://k:5000\n  user_id: u\n  password: p',
        'clouds.lab.auth.project_name: a scope is required',
      ],
      [
        'auth_type: v3applicationcredential\nauth:\n  auth_url: http://k:5000\n  application_credential_secret: s',
        'clouds.lab.auth.application_credential_id: required',
      ],
      [
        'auth_type: admin_token\nauth:\n  endpoint: http://n:8774',
        'clouds.lab.auth.token: required for auth_type admin_token',
      ],
      ['auth_type: http_basic\nauth:\n  username: u', 'clouds.lab.auth.password: required for auth_type http_basic'],
    ];
    for (const [yaml, message] of cases) {
      const e = await rejection(cloud(yaml, 'lab'));
      assert.equal(e.code, 'INVALID_SPEC', message);
      assert.ok(e.message.startsWith(`${file}: ${message}`), `${e.message}\n  wanted ${message}`);
    }
  });
});

describe('cloud options', () => {
  async function cloud(yaml: string): Promise<CloudConfig> {
    await put(join(cwd, 'clouds.yaml'), `clouds:\n  c:\n${yaml.replace(/^/gm, '    ')}\n`);
    return load('c');
  }

  it('per-service overrides beat <service>_endpoint and the catalog; interface and region per service', async () => {
    const c = await cloud(
      [
        'auth_type: none',
        'interface: internalURL',
        'region_name: R1',
        'baremetal_endpoint_override: http://override:6385/',
        'baremetal_endpoint: http://legacy:6385',
        'compute_endpoint: http://nova:8774/v2.1',
        'placement_interface: admin',
        'image_region_name: R2',
        'baremetal_api_version: 1.50',
        'compute_api_version: 2.61',
      ].join('\n'),
    );
    assert.equal(c.services.baremetal.endpointOverride, 'http://override:6385');
    assert.equal(c.services.baremetal.apiVersion, '1.50', 'kept as written, not the float 1.5');
    assert.equal(c.services.compute.endpointOverride, 'http://nova:8774/v2.1');
    assert.equal(c.services.compute.apiVersion, '2.61');
    assert.equal(c.services.compute.interface, 'internal');
    assert.equal(c.services.placement.interface, 'admin');
    assert.equal(c.services.placement.endpointOverride, null);
    assert.equal(c.services.image.regionName, 'R2');
    assert.equal(c.services.placement.regionName, 'R1');
  });

  it('regions: the chosen one (OS_REGION_NAME, region_name) or the first, with its values', async () => {
    await put(
      join(cwd, 'clouds.yaml'),
      `clouds:
  c:
    auth_type: none
    regions:
      - name: R1
        values:
          baremetal_endpoint_override: http://r1:6385
      - R2
`,
    );
    const first = await load('c');
    assert.equal(first.regionName, 'R1');
    assert.equal(first.services.baremetal.endpointOverride, 'http://r1:6385');
    const second = await load('c', { OS_REGION_NAME: 'R2' });
    assert.equal(second.regionName, 'R2');
    assert.equal(second.services.baremetal.endpointOverride, null);
    const bad = await rejection(load('c', { OS_REGION_NAME: 'R9' }));
    assert.match(bad.message, /clouds\.c\.region_name: 'R9' is not one of the cloud's regions \(R1, R2\)/);
  });

  it('TLS: cacert, cert + key, verify: false, insecure: true (insecure wins)', async () => {
    const c = await cloud('auth_type: none\ncacert: /ca.pem\ncert: /c.pem\nkey: /k.pem');
    assert.deepEqual(c.tls, { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', verify: true });
    assert.equal((await cloud('auth_type: none\nverify: false')).tls.verify, false);
    assert.equal((await cloud('auth_type: none\nverify: true\ninsecure: true')).tls.verify, false);
    assert.equal((await cloud('auth_type: none\ninsecure: "False"')).tls.verify, true);
    const e = await rejection(cloud('auth_type: none\nkey: /k.pem'));
    assert.match(e.message, /clouds\.c\.cert: required with key/);
    const b = await rejection(cloud('auth_type: none\ninsecure: perhaps'));
    assert.match(b.message, /clouds\.c\.insecure: must be true or false/);
  });

  it('maps auth.endpoint to one service without a catalog', () => {
    assert.equal(endpointServiceOf('none'), 'baremetal');
    assert.equal(endpointServiceOf('http_basic'), 'baremetal');
    assert.equal(endpointServiceOf('admin_token'), 'compute');
    assert.equal(endpointServiceOf('password'), null);
  });
});

describe('bad clouds.yaml', () => {
  const file = (): string => join(cwd, 'clouds.yaml');

  it('reports YAML syntax errors with file, line and column', async () => {
    await put(file(), 'clouds:\n  lab:\n    auth: {auth_url: [\n');
    const e = await rejection(load('lab'));
    assert.equal(e.code, 'INVALID_SPEC');
    assert.ok(e.message.startsWith(`${file()}:`), e.message);
    assert.match(e.field ?? '', /clouds\.yaml:\d+:\d+$/);
  });

  it('reports duplicate keys', async () => {
    await put(file(), 'clouds:\n  lab:\n    auth_type: none\n    auth_type: password\n');
    assert.equal((await rejection(load('lab'))).code, 'INVALID_SPEC');
  });

  it('reports wrong shapes with their paths', async () => {
    const cases: [string, string][] = [
      ['- a\n- b\n', "(root): must be a mapping with a 'clouds' key"],
      ['clouds: [a]\n', 'clouds: must be a mapping of cloud names to clouds'],
      ['clouds:\n  lab: 3\n', 'clouds.lab: must be a mapping'],
      ['clouds:\n  lab:\n    auth: nope\n', 'clouds.lab.auth: must be a mapping'],
      ['clouds:\n  lab:\n    auth:\n      auth_url: [x]\n', 'clouds.lab.auth.auth_url: must be a string'],
      ['clouds:\n  lab:\n    auth:\n      auth_url: "ftp://k"\n', 'clouds.lab.auth.auth_url: must be an http(s) URL'],
      [
        'clouds:\n  lab:\n    auth_type: none\n    interface: sideways\n',
        'clouds.lab.interface: must be public, internal or admin',
      ],
      [
        'clouds:\n  lab:\n    auth_type: none\n    baremetal_endpoint_override: not a url\n',
        'clouds.lab.baremetal_endpoint_override: must be an http(s) URL',
      ],
      [
        'clouds:\n  lab:\n    auth_type: none\n    api_timeout: -1\n',
        'clouds.lab.api_timeout: must be a number of seconds above 0',
      ],
      [
        'clouds:\n  lab:\n    auth_type: none\n    baremetal_api_version: one\n',
        'clouds.lab.baremetal_api_version: must be a version',
      ],
    ];
    for (const [yaml, message] of cases) {
      await put(file(), yaml);
      const e = await rejection(load('lab'));
      assert.equal(e.code, 'INVALID_SPEC', message);
      assert.ok(e.message.startsWith(`${file()}: ${message}`), `${e.message}\n  wanted ${message}`);
    }
  });

  it('does not support vendor profiles', async () => {
    await put(file(), 'clouds:\n  lab:\n    profile: vexxhost\n');
    const e = await rejection(load('lab'));
    assert.equal(e.code, 'UNSUPPORTED');
    assert.match(e.message, /clouds\.lab\.profile: vendor profiles are not supported/);
  });
});

describe('secrets', () => {
  it('never appear in errors, JSON or inspect output', async () => {
    await put(join(cwd, 'clouds.yaml'), `${LAB}    interface: bogus\n`);
    const e = await rejection(load('lab'));
    assert.ok(!e.message.includes(SECRET) && !(e.hint ?? '').includes(SECRET));
    assert.ok(!JSON.stringify(e.details).includes(SECRET));
    await put(
      join(cwd, 'clouds.yaml'),
      `clouds:\n  lab:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://k:5000\n      application_credential_id: x\n      application_credential_secret: ${SECRET}\n`,
    );
    const c = await load('lab');
    assert.ok(!JSON.stringify(c).includes(SECRET));
    assert.ok(!inspect(c, { depth: 10 }).includes(SECRET));
    assert.ok(!String(authOf(c, 'v3applicationcredential').secret).includes(SECRET));
    const envError = await rejection(load(null, { OS_PASSWORD: SECRET, OS_USERNAME: 'u' }));
    assert.ok(!envError.message.includes(SECRET), envError.message);
  });
});
