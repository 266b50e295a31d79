/**
 * The Redfish router (agent/bmc/redfish/router.ts) without sockets: what is served without
 * credentials, how node collections list and resolve the caller's nodes, and where a request
 * below a node goes. The whole service over HTTP is test/integration/redfish-http.test.ts.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from '../../agent/bmc/redfish/authentication.js';
import type { NodeView } from '../../agent/bmc/redfish/documents.js';
import { RedfishError } from '../../agent/bmc/redfish/errors.js';
import { ok } from '../../agent/bmc/redfish/reply.js';
import { RedfishRouter } from '../../agent/bmc/redfish/router.js';
import { isTenksError } from '../../common/index.js';

const A = '11111111-2222-4333-8444-555555555555';
const B = '66666666-7777-4888-9999-000000000000';
const NAMES: Record<string, string> = { 'node-a': A, 'node-b': B };

function view(uuid: string): NodeView {
  return { node: { uuid } as NodeView['node'], power: 'off', uefiAvailable: true, secureBootAvailable: false };
}

describe('Redfish router', function () {
  let authentications = 0;
  let router: RedfishRouter;
  const seen: string[] = [];

  beforeEach(function () {
    authentications = 0;
    seen.length = 0;
    router = new RedfishRouter({
      authenticate: (headers: IncomingHttpHeaders): Caller => {
        authentications++;
        if (headers.authorization !== 'ok') throw new RedfishError(401, 'who are you');
        return { username: 'admin', nodes: new Set([B, A]) };
      },
      uuidOf: (name) => NAMES[name] ?? null,
      nodeView: (uuid) => Promise.resolve(view(uuid)),
    });
    router.anonymous(
      '',
      () => true,
      () => ok({ root: true }),
    );
    router.anonymous(
      'Open',
      (req) => req.method === 'POST',
      (_req, rest) => ok({ open: rest.join('/') }),
    );
    router.service('Open', (_req, rest, caller) => ok({ service: rest.join('/'), user: caller.username }));
    router.nodeCollection('Systems', { type: 'ComputerSystemCollection', unknown: (v, rest) => `x ${rest.join('/')}` });
    router.nodeResource('Systems', '', (_req, v) => ok({ system: v.node.uuid }));
    router.nodeResource('Systems', 'BIOS', (req, v, rest) => {
      seen.push(`${req.method} ${v.node.uuid} ${rest.join('/')}`);
      return ok({ bios: rest.join('/') });
    });
  });

  const route = (target: string, method = 'GET', authorization = 'ok') =>
    router.route({ method, target, headers: { authorization }, body: () => Promise.resolve(null) });

  async function refused(target: string, status: number, pattern: RegExp, authorization = 'ok'): Promise<void> {
    await assert.rejects(route(target, 'GET', authorization), (e: unknown) => {
      assert.ok(e instanceof RedfishError, String(e));
      assert.equal(e.status, status);
      assert.match(e.message, pattern);
      return true;
    });
  }

  it('serves the service root and what anonymous routes take without asking who is calling', async function () {
    assert.deepEqual((await route('/redfish/v1/', 'GET', 'nobody')).body, { root: true });
    assert.deepEqual((await route('/redfish/v1/Open/a/b', 'POST', 'nobody')).body, { open: 'a/b' });
    assert.equal(authentications, 0);
    assert.deepEqual((await route('/redfish')).body, { v1: '/redfish/v1/' });
    await refused('/redfish/v1/Open/a', 401, /who are you/, 'nobody');
    assert.deepEqual((await route('/redfish/v1/Open/a')).body, { service: 'a', user: 'admin' });
  });

  it('lists the caller’s nodes, sends a node named by name to its UUID, and hides the others', async function () {
    assert.deepEqual((await route('/redfish/v1/Systems')).body?.Members, [
      { '@odata.id': `/redfish/v1/Systems/${A}` },
      { '@odata.id': `/redfish/v1/Systems/${B}` },
    ]);
    const moved = await route('/redfish/v1/Systems/node-b/BIOS/Settings?x=1');
    assert.equal(moved.status, 307);
    assert.equal(moved.headers?.Location, `/redfish/v1/Systems/${B}/BIOS/Settings?x=1`);
    await refused('/redfish/v1/Systems/node-c', 404, /no System 'node-c'/);
    await refused('/redfish/v1/Systems/00000000-0000-4000-8000-000000000000', 404, /no System/);
    assert.deepEqual(seen, []);
  });

  it('hands a node’s resources the path below them, and says what is missing', async function () {
    assert.deepEqual((await route(`/redfish/v1/Systems/${A.toUpperCase()}`)).body, { system: A });
    assert.deepEqual((await route(`/redfish/v1/Systems/${A}/BIOS/Settings/`, 'PATCH')).body, { bios: 'Settings' });
    assert.deepEqual(seen, [`PATCH ${A} Settings`]);
    await refused(`/redfish/v1/Systems/${A}/Nope/1`, 404, /^no x Nope\/1$/);
    await refused('/redfish/v1/Elsewhere', 404, /no resource \/redfish\/v1\/Elsewhere/);
    await refused('/other', 404, /no resource at \/other/);
    await refused('/redfish/v1/Systems/%zz', 404, /not valid percent-encoding/);
  });

  it('refuses a route registered twice, and a resource of a collection nobody declared', function () {
    const twice = (fn: () => void): void => {
      assert.throws(fn, (e: unknown) => isTenksError(e) && e.code === 'INTERNAL');
    };
    twice(() => {
      router.service('Systems', () => ok({}));
    });
    twice(() => {
      router.nodeResource('Systems', 'BIOS', () => ok({}));
    });
    twice(() => {
      router.nodeResource('Managers', '', () => ok({}));
    });
  });
});
