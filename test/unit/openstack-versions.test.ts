/**
 * Microversion choice, Ironic's version documents, and the pure pieces of the REST adapters:
 * body normalisation, Keystone request bodies and catalog lookup, Placement class names.
 */
import assert from 'node:assert/strict';
import { TenksError } from '../../common/index.js';
import type { CloudAuth } from '../../coordinator/openstack/index.js';
import {
  IRONIC_KNOWN_MICROVERSION,
  IRONIC_MIN_MICROVERSION,
  parseIronicVersions,
  toIronicNode,
  toIronicPort,
} from '../../coordinator/openstack/ironic.js';
import {
  authRequestBody,
  catalogEndpoint,
  identityV3Url,
  type CatalogService,
  type KeystoneAuth,
} from '../../coordinator/openstack/keystone.js';
import {
  chooseMicroversion,
  compareMicroversions,
  parseMicroversion,
  type MicroversionNeeds,
} from '../../coordinator/openstack/microversion.js';
import { toNovaFlavor } from '../../coordinator/openstack/nova.js';
import { placementResourceClass } from '../../coordinator/openstack/placement.js';
import { Secret } from '../../coordinator/openstack/secret.js';

const needs = (serverMax: string, extra: Partial<MicroversionNeeds> = {}): MicroversionNeeds => ({
  service: 'ironic',
  endpoint: 'http://127.0.0.1:6385',
  serverMin: '1.1',
  serverMax,
  known: IRONIC_KNOWN_MICROVERSION,
  required: IRONIC_MIN_MICROVERSION,
  requiredFor: 'conductor_group on nodes',
  configured: null,
  configuredKey: 'baremetal_api_version',
  ...extra,
});

function thrown(f: () => unknown): TenksError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof TenksError);
    return e;
  }
  assert.fail('expected a throw');
}

describe('microversions', () => {
  it('parse and order numerically (1.9 < 1.10)', () => {
    assert.deepEqual(parseMicroversion('1.82'), { major: 1, minor: 82 });
    assert.equal(parseMicroversion('latest'), null);
    assert.equal(parseMicroversion('1'), null);
    assert.ok(compareMicroversions('1.9', '1.10') < 0);
    assert.ok(compareMicroversions('2.1', '1.99') > 0);
    assert.equal(compareMicroversions('1.46', '1.46'), 0);
  });

  it('choose the lower of the server max, what tenks knows and the configured cap', () => {
    assert.equal(chooseMicroversion(needs('1.82')), '1.82');
    assert.equal(chooseMicroversion(needs('1.95')), IRONIC_KNOWN_MICROVERSION);
    assert.equal(chooseMicroversion(needs('1.58')), '1.58');
    assert.equal(chooseMicroversion(needs('1.46')), '1.46');
    assert.equal(chooseMicroversion(needs('1.82', { configured: '1.60' })), '1.60');
    assert.equal(chooseMicroversion(needs('1.55', { configured: '1.60' })), '1.55');
  });

  it('refuse a server below the minimum, naming both versions', () => {
    const e = thrown(() => chooseMicroversion(needs('1.20')));
    assert.equal(e.code, 'UNSUPPORTED');
    assert.match(e.message, /^ironic at http:\/\/127\.0\.0\.1:6385 offers API versions 1\.1 to 1\.20/);
    assert.match(e.message, /needs at least 1\.46 \(conductor_group on nodes\)/);
  });

  it('refuse a configured cap below the minimum, and a server whose minimum is above the choice', () => {
    const cap = thrown(() => chooseMicroversion(needs('1.82', { configured: '1.31' })));
    assert.equal(cap.code, 'INVALID_SPEC');
    assert.equal(cap.field, 'baremetal_api_version');
    const min = thrown(() => chooseMicroversion(needs('1.99', { serverMin: '1.90' })));
    assert.equal(min.code, 'UNSUPPORTED');
  });
});

describe("Ironic's version document", () => {
  it('reads default_version, else the newest of versions[], else the headers', () => {
    assert.deepEqual(
      parseIronicVersions(
        {
          name: 'OpenStack Ironic API',
          default_version: { id: 'v1', status: 'CURRENT', min_version: '1.1', version: '1.82' },
          versions: [{ id: 'v1', status: 'CURRENT', min_version: '1.1', version: '1.82' }],
        },
        {},
      ),
      { min: '1.1', max: '1.82' },
    );
    assert.deepEqual(
      parseIronicVersions(
        {
          versions: [
            { id: 'v1', version: '1.9', min_version: '1.1' },
            { id: 'v1', version: '1.10', min_version: '1.2' },
          ],
        },
        {},
      ),
      { min: '1.2', max: '1.10' },
    );
    assert.deepEqual(
      parseIronicVersions(null, {
        'x-openstack-ironic-api-minimum-version': '1.1',
        'x-openstack-ironic-api-maximum-version': '1.78',
      }),
      { min: '1.1', max: '1.78' },
    );
    assert.equal(parseIronicVersions({ versions: [{ id: 'v2.1', version: '' }] }, {}), null);
  });
});

describe('REST bodies', () => {
  it('fill what older Ironic microversions leave out', () => {
    const n = toIronicNode({
      uuid: 'u1',
      driver: 'ipmi',
      provision_state: 'enroll',
      boot_interface: 'ipxe',
      deploy_interface: null,
      unrelated: 3,
    });
    assert.equal(n.name, null);
    assert.equal(n.shard, null);
    assert.equal(n.conductor_group, '');
    assert.deepEqual(n.traits, []);
    assert.equal(n.target_provision_state, null);
    assert.equal(n.boot_interface, 'ipxe');
    assert.equal(n.deploy_interface, null);
    assert.throws(() => toIronicNode({ name: 'x' }), /without a uuid/);
    const p = toIronicPort({
      uuid: 'p',
      address: 'aa',
      node_uuid: 'u1',
      local_link_connection: { port_id: 'x', n: 1 },
    });
    assert.deepEqual(p.local_link_connection, { port_id: 'x' });
    assert.equal(p.pxe_enabled, true);
    assert.equal(p.physical_network, null);
  });

  it('read Nova flavors, with or without extra_specs in the body', () => {
    const f = toNovaFlavor({
      id: 'f1',
      name: 'bm',
      ram: 1024,
      vcpus: 2,
      disk: 10,
      'os-flavor-access:is_public': false,
      extra_specs: { 'resources:VCPU': '0' },
    });
    assert.deepEqual(f, {
      id: 'f1',
      name: 'bm',
      ram: 1024,
      vcpus: 2,
      disk: 10,
      isPublic: false,
      extraSpecs: { 'resources:VCPU': '0' },
    });
    assert.deepEqual(toNovaFlavor({ id: 7, name: 'old' }, { a: 'b' }).extraSpecs, { a: 'b' });
    assert.equal(toNovaFlavor({ id: 7 }).id, '7');
  });

  it('name Placement classes as Nova does', () => {
    assert.equal(placementResourceClass('baremetal.gold'), 'CUSTOM_BAREMETAL_GOLD');
    assert.equal(placementResourceClass('CUSTOM_TK'), 'CUSTOM_TK');
    assert.equal(placementResourceClass('custom_tk'), 'CUSTOM_TK');
  });
});

describe('Keystone', () => {
  it('adds /v3 to auth_url as discovery would', () => {
    assert.equal(identityV3Url('http://k:5000'), 'http://k:5000/v3');
    assert.equal(identityV3Url('http://k:5000/'), 'http://k:5000/v3');
    assert.equal(identityV3Url('http://k/identity/v3/'), 'http://k/identity/v3');
    assert.equal(identityV3Url('http://k:5000/v2.0'), 'http://k:5000/v3');
  });

  it('builds password, token and application credential bodies', () => {
    const password: CloudAuth = {
      type: 'password',
      authUrl: 'http://k',
      user: { name: 'u', domain: { name: 'Default' } },
      password: new Secret('pw'),
      scope: { kind: 'project', project: { name: 'p', domain: { id: 'default' } } },
    };
    assert.deepEqual(authRequestBody(password as KeystoneAuth), {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: 'u', domain: { name: 'Default' }, password: 'pw' } },
        },
        scope: { project: { name: 'p', domain: { id: 'default' } } },
      },
    });
    assert.deepEqual(
      authRequestBody({ type: 'token', authUrl: 'http://k', token: new Secret('t'), scope: { kind: 'system' } }),
      { auth: { identity: { methods: ['token'], token: { id: 't' } }, scope: { system: { all: true } } } },
    );
    assert.deepEqual(
      authRequestBody({
        type: 'v3applicationcredential',
        authUrl: 'http://k',
        credential: { name: 'ac', user: { id: 'u1' } },
        secret: new Secret('s'),
      }),
      {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { name: 'ac', user: { id: 'u1' }, secret: 's' },
          },
        },
      },
    );
  });

  it('finds endpoints by type, interface and region', () => {
    const catalog: CatalogService[] = [
      {
        type: 'baremetal',
        name: 'ironic',
        endpoints: [
          { interface: 'public', region: 'R1', url: 'https://pub1:6385' },
          { interface: 'internal', region: 'R1', url: 'http://int1:6385' },
          { interface: 'public', region: 'R2', url: 'https://pub2:6385' },
        ],
      },
    ];
    assert.equal(catalogEndpoint(catalog, 'baremetal', 'public', null), 'https://pub1:6385');
    assert.equal(catalogEndpoint(catalog, 'baremetal', 'public', 'R2'), 'https://pub2:6385');
    assert.equal(catalogEndpoint(catalog, 'baremetal', 'internal', 'R1'), 'http://int1:6385');
    assert.equal(catalogEndpoint(catalog, 'baremetal', 'admin', null), null);
    assert.equal(catalogEndpoint(catalog, 'baremetal', 'internal', 'R2'), null);
    assert.equal(catalogEndpoint(catalog, 'compute', 'public', null), null);
  });
});
