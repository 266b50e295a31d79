/** OpenStack error bodies → messages, and HTTP statuses → tenks codes, messages and hints. */
import assert from 'node:assert/strict';
import { codeOfStatus, httpStatusError, openStackErrorMessage } from '../../coordinator/openstack/errors.js';

describe('OpenStack error bodies', () => {
  it("reads Ironic's faultstring from the JSON string inside error_message", () => {
    const inner = JSON.stringify({
      faultstring: 'Node tk0 could not be found.',
      faultcode: 'Client',
      debuginfo: null,
    });
    assert.equal(openStackErrorMessage(JSON.stringify({ error_message: inner })), 'Node tk0 could not be found.');
  });

  it("reads the description of Ironic's 406 (as Ironic 21.4 answers it)", () => {
    const body =
      '{"error_message": "{\\"code\\": 406, \\"title\\": \\"Not Acceptable\\", \\"description\\": \\"Version 1.99 was ' +
      'requested but the minor version is not supported by this service. The supported version range is: [1.1, 1.82].\\"}"}';
    assert.equal(
      openStackErrorMessage(body, 'application/json'),
      'Version 1.99 was requested but the minor version is not supported by this service. The supported version range is: [1.1, 1.82].',
    );
  });

  it('reads error_message as an object or a plain string too', () => {
    assert.equal(openStackErrorMessage('{"error_message": {"faultstring": "bad driver"}}'), 'bad driver');
    assert.equal(openStackErrorMessage('{"error_message": "plain words"}'), 'plain words');
  });

  it("reads Nova's one-key faults", () => {
    for (const key of ['badRequest', 'itemNotFound', 'conflictingRequest', 'forbidden', 'computeFault']) {
      const body = JSON.stringify({ [key]: { code: 400, message: `${key} says no` } });
      assert.equal(openStackErrorMessage(body, 'application/json'), `${key} says no`);
    }
  });

  it("reads Keystone's and Placement's shapes", () => {
    assert.equal(
      openStackErrorMessage(
        '{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}',
      ),
      'The request you have made requires authentication.',
    );
    assert.equal(
      openStackErrorMessage(
        JSON.stringify({
          errors: [
            { status: 400, title: 'Bad Request', detail: 'Invalid resource class in resources parameter' },
            { status: 400, title: 'Bad Request' },
          ],
        }),
      ),
      'Invalid resource class in resources parameter; Bad Request',
    );
  });

  it('keeps plain text and strips HTML', () => {
    assert.equal(
      openStackErrorMessage('404 Not Found\n\nNo image found with ID x\n\n   ', 'text/plain'),
      '404 Not Found No image found with ID x',
    );
    assert.equal(
      openStackErrorMessage(
        '<html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>',
        'text/html',
      ),
      'Bad Gateway',
    );
    assert.equal(openStackErrorMessage('   '), null);
    assert.equal(openStackErrorMessage('{"unrelated": 1, "other": 2}'), null);
  });

  it('clips very long messages', () => {
    const m = openStackErrorMessage(JSON.stringify({ badRequest: { message: 'x'.repeat(5000) } }));
    assert.ok(m !== null && m.length <= 1000);
  });
});

describe('HTTP statuses', () => {
  it('map to tenks codes', () => {
    const cases: [number, string][] = [
      [400, 'INVALID_SPEC'],
      [401, 'PERMISSION'],
      [403, 'PERMISSION'],
      [404, 'NOT_FOUND'],
      [405, 'UNSUPPORTED'],
      [406, 'UNSUPPORTED'],
      [409, 'CONFLICT'],
      [413, 'INVALID_SPEC'],
      [429, 'UNAVAILABLE'],
      [500, 'UNAVAILABLE'],
      [503, 'UNAVAILABLE'],
      [418, 'INTERNAL'],
    ];
    for (const [status, code] of cases) assert.equal(codeOfStatus(status), code, String(status));
  });

  it('become errors naming the service, endpoint, request and message, with a hint', () => {
    const e = httpStatusError({
      service: 'ironic',
      endpoint: 'http://127.0.0.1:6385',
      status: 404,
      message: 'Node tk0 could not be found.',
      method: 'GET',
      path: '/v1/nodes/tk0',
      microversion: '1.82',
    });
    assert.equal(e.code, 'NOT_FOUND');
    assert.equal(e.message, 'ironic at http://127.0.0.1:6385: Node tk0 could not be found. (GET /v1/nodes/tk0: 404)');
    const v = httpStatusError({
      service: 'ironic',
      endpoint: 'http://i',
      status: 406,
      message: null,
      method: 'GET',
      path: '/v1/nodes',
      microversion: '1.99',
    });
    assert.equal(v.code, 'UNSUPPORTED');
    assert.match(v.message, /HTTP 406/);
    assert.match(v.hint ?? '', /1\.99/);
    const p = httpStatusError({
      service: 'nova',
      endpoint: 'http://n',
      status: 401,
      message: 'x',
      method: 'GET',
      path: '/',
      microversion: null,
    });
    assert.match(p.hint ?? '', /credentials/);
  });
});
