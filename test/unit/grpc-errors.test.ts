import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http2';
import { Metadata, status } from '@grpc/grpc-js';
import { ErrorCode, grpcStatusOf, TenksError } from '../../common/errors.js';
import { fromWireError, toWireError, TRAILER, type WireError } from '../../common/grpc/errors.js';
import { compileNodeSpec, rawNodeSpec } from '../../agent/compute/node-spec.js';

/** What a client sees after the trailers crossed HTTP/2 (binary values base64-encoded). */
function overTheWire(w: WireError): WireError {
  return { ...w, metadata: Metadata.fromHttp2Headers(w.metadata.toHttp2Headers() as IncomingHttpHeaders) };
}

describe('gRPC error mapping', () => {
  it('round-trips code, message, field, hint and details', () => {
    const details = [
      { field: 'node.volumes[1].capacity', message: 'capacity is required' },
      { field: 'node.name', message: "'ünïcödé\nname' is not usable: <>&\"'" },
    ];
    const sent = new TenksError('INVALID_SPEC', 'two problems', {
      field: 'node.volumes[1].capacity',
      hint: 'fix the spec',
      details,
    });
    const w = toWireError(sent);
    assert.equal(w.code, status.INVALID_ARGUMENT);
    assert.equal(w.details, 'two problems');
    assert.ok(Buffer.isBuffer(w.metadata.get(TRAILER.details)[0]), 'details go in a -bin trailer');

    for (const wire of [w, overTheWire(w)]) {
      const got = fromWireError(wire, 'agent hv1');
      assert.ok(got instanceof TenksError);
      assert.equal(got.code, 'INVALID_SPEC');
      assert.equal(got.message, 'two problems');
      assert.equal(got.field, 'node.volumes[1].capacity');
      assert.equal(got.hint, 'fix the spec');
      assert.deepEqual(got.details, details);
    }
  });

  it('leaves field, hint and details unset when the error has none', () => {
    const got = fromWireError(overTheWire(toWireError(new TenksError('NOT_FOUND', 'no node'))), 'p');
    assert.equal(got.code, 'NOT_FOUND');
    assert.equal(got.field, undefined);
    assert.equal(got.hint, undefined);
    assert.deepEqual(got.details, []);
  });

  it('round-trips every tenks code with its own gRPC status', () => {
    for (const code of Object.values(ErrorCode)) {
      const w = toWireError(new TenksError(code, `m-${code}`));
      assert.equal(w.code, grpcStatusOf[code]);
      assert.ok(Number.isInteger(w.code) && w.code !== status.UNKNOWN && w.code !== status.OK, code);
      const got = fromWireError(overTheWire(w), 'p');
      assert.equal(got.code, code);
      assert.equal(got.message, `m-${code}`);
    }
  });

  it('turns anything else thrown into INTERNAL with an integer code, never UNKNOWN', () => {
    for (const thrown of [new Error('boom'), new TypeError('bad type'), 'a string', undefined, { weird: true }]) {
      const w = toWireError(thrown);
      assert.ok(Number.isInteger(w.code));
      assert.notEqual(w.code, status.UNKNOWN);
      assert.equal(w.code, status.INTERNAL);
      assert.equal(w.metadata.get(TRAILER.code)[0], 'INTERNAL');
      assert.equal(fromWireError(w, 'p').code, 'INTERNAL');
    }
    assert.equal(toWireError(new Error('boom')).details, 'boom');
  });

  it('maps a transport error without trailers by its status, naming the peer', () => {
    const got = fromWireError({ code: 14, details: 'x' }, 'agent hv1');
    assert.equal(got.code, 'UNAVAILABLE');
    assert.match(got.message, /agent hv1/);
    assert.match(got.message, /x/);
    assert.deepEqual(got.details, []);
    assert.equal(got.field, undefined);

    const cases: [status, ErrorCode][] = [
      [status.DEADLINE_EXCEEDED, 'TIMEOUT'],
      [status.CANCELLED, 'CANCELLED'],
      [status.UNAUTHENTICATED, 'PERMISSION'],
      [status.PERMISSION_DENIED, 'PERMISSION'],
      [status.UNIMPLEMENTED, 'UNSUPPORTED'],
      [status.RESOURCE_EXHAUSTED, 'CAPACITY'],
      [status.UNKNOWN, 'INTERNAL'],
      [status.DATA_LOSS, 'INTERNAL'],
    ];
    for (const [code, want] of cases)
      assert.equal(fromWireError({ code, details: 'd', metadata: new Metadata() }, 'p').code, want, status[code]);
  });

  it('prefers the tenks code trailer over the gRPC status, and ignores an unknown one', () => {
    const md = new Metadata();
    md.set(TRAILER.code, 'CONFLICT');
    assert.equal(fromWireError({ code: status.UNKNOWN, details: 'd', metadata: md }, 'p').code, 'CONFLICT');
    const bogus = new Metadata();
    bogus.set(TRAILER.code, 'BOGUS');
    const got = fromWireError({ code: status.NOT_FOUND, details: 'd', metadata: bogus }, 'p');
    assert.equal(got.code, 'NOT_FOUND');
    assert.match(got.message, /^p: /);
  });

  it('ignores unreadable details', () => {
    for (const bad of [
      'not json',
      '{"field":"a"}',
      '[1, {"field": 2, "message": "x"}, {"field":"ok","message":"m"}]',
    ]) {
      const md = new Metadata();
      md.set(TRAILER.code, 'INVALID_SPEC');
      md.set(TRAILER.details, Buffer.from(bad));
      const got = fromWireError({ code: status.INVALID_ARGUMENT, details: 'd', metadata: md }, 'p');
      assert.deepEqual(got.details, bad.includes('"ok"') ? [{ field: 'ok', message: 'm' }] : []);
    }
  });

  it('returns a TenksError unchanged and wraps other non-gRPC errors', () => {
    const e = new TenksError('CONFLICT', 'c');
    assert.equal(fromWireError(e, 'p'), e);
    const wrapped = fromWireError(new Error('socket hang up'), 'p');
    assert.equal(wrapped.code, 'INTERNAL');
    assert.equal(wrapped.message, 'socket hang up');
  });

  // grpc-js refuses ASCII trailer values outside printable ASCII; an invalid label key is reported
  // verbatim in `field`, so field and hint travel in -bin trailers.
  it('carries a field or hint that is not printable ASCII', () => {
    let invalid: unknown;
    try {
      compileNodeSpec(rawNodeSpec({ cluster: 'c', name: 'n', labels: { ö: 'x' } }));
    } catch (e) {
      invalid = e;
    }
    assert.ok(invalid instanceof TenksError);
    assert.equal(invalid.field, 'node.labels.ö');
    assert.equal(fromWireError(overTheWire(toWireError(invalid)), 'p').field, 'node.labels.ö');
    const hint = new TenksError('UNAVAILABLE', 'down', { hint: 'line one\nline two' });
    assert.equal(fromWireError(overTheWire(toWireError(hint)), 'p').hint, 'line one\nline two');
  });
});
