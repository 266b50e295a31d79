import assert from 'node:assert/strict';
import { SUITES, decrypt, encrypt, type CipherSuite } from '../../agent/bmc/ipmi/crypto.js';
import {
  PayloadType,
  buildAsfPong,
  buildLanResponse,
  buildV15,
  buildV20,
  checksum,
  openPayload,
  parseDatagram,
  parseLanRequest,
  type Inbound,
  type SessionKeys,
} from '../../agent/bmc/ipmi/packet.js';

// Packets from the protocol reference (bmc-protocols.md Part A1 and the A2 suite-3 test vector) and the
// ipmitool 1.8.19 `power status` capture against the reference BMC (ipmi-captures/suite3-power-status.txt),
// copied verbatim. `C>B` is client to BMC, `B>C` BMC to client.

const SUITE3_CAPTURE = `
C>B 06 00 ff 07 00 00 00 00 00 00 00 00 00 09 20 18 c8 81 00 38 8e 04 b5
B>C 06 00 ff 07 00 00 00 00 00 00 00 00 00 10 81 1c 63 20 00 38 00 01 80 04 02 00 00 00 00 21
C>B 06 00 ff 07 06 10 00 00 00 00 00 00 00 00 20 00 00 00 00 00 a4 a3 a2 a0 00 00 00 08 01 00 00 00 01 00 00 08 01 00 00 00 02 00 00 08 01 00 00 00
B>C 06 00 ff 07 06 11 00 00 00 00 00 00 00 00 24 00 00 00 04 00 a4 a3 a2 a0 21 66 b3 72 00 00 00 08 01 00 00 00 01 00 00 08 01 00 00 00 02 00 00 08 01 00 00 00
C>B 06 00 ff 07 06 12 00 00 00 00 00 00 00 00 21 00 00 00 00 00 21 66 b3 72 09 40 0c 4e c3 c1 e4 d8 d8 07 8a f7 97 b7 23 5c 14 00 00 05 61 64 6d 69 6e
B>C 06 00 ff 07 06 13 00 00 00 00 00 00 00 00 3c 00 00 00 00 00 a4 a3 a2 a0 14 ef a4 17 c2 16 63 fb d2 06 8e 1a 60 b7 5d 7d 16 dd a1 53 fc 45 45 b5 97 38 89 58 ba a7 73 5b 46 48 72 22 96 bb 34 49 0a 14 22 d9 cc 84 81 9e ab e0 04 2c
C>B 06 00 ff 07 06 14 00 00 00 00 00 00 00 00 1c 00 00 00 00 00 21 66 b3 72 97 26 16 bd 45 22 a7 df 49 f7 67 cb e8 fd eb 50 7e ab 73 79
B>C 06 00 ff 07 06 15 00 00 00 00 00 00 00 00 14 00 00 00 00 00 a4 a3 a2 a0 b9 5c 27 b5 28 78 e0 8c 99 6a 11 56
C>B 06 00 ff 07 06 c0 21 66 b3 72 03 00 00 00 20 00 ef 92 a0 8f b7 22 18 87 4c a7 83 ff b4 c5 9c 3c 9e af ff 9e da 65 62 1c 99 cc 60 4b 1a 41 79 fd ff ff 02 07 ce 70 44 7e 74 ba c2 d5 1f cc 23 57
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 01 00 00 00 20 00 a9 b7 8d a1 0d 25 74 d2 fe 00 13 f5 35 d4 98 2d 3d f6 7f de 92 9b b8 d9 6a f4 88 d1 50 c5 00 2d ff ff 02 07 af 1b 26 bb 9c 03 36 83 e5 cd d9 f4
C>B 06 00 ff 07 06 c0 21 66 b3 72 04 00 00 00 20 00 30 72 f8 ba ba 9f ab 67 26 a1 fb 9b ad c5 bc 0b 2d 16 4b 6b 1b 2b d1 09 2d 77 17 a3 33 c7 60 e8 ff ff 02 07 80 15 7c 40 71 d2 2a 50 a0 b4 c5 6e
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 02 00 00 00 20 00 f3 b6 74 50 24 77 c7 d7 fc d5 9e 4f db 63 0b 2e 8a 49 40 6f 77 0c 5d 21 29 7e e8 bd e2 36 4b d1 ff ff 02 07 b0 69 48 21 fd 74 73 34 3b d5 c5 6b
C>B 06 00 ff 07 06 c0 21 66 b3 72 05 00 00 00 20 00 71 71 8d 8f 35 ad d3 8b 8d 21 a9 7c 24 48 35 33 4d cd fb d7 ef 2c 86 51 83 17 d8 27 0c 69 35 ed ff ff 02 07 8f b5 77 ec df c1 b7 d2 a1 52 66 02
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 03 00 00 00 30 00 b4 31 0c 9e 64 61 77 f0 ad 68 d2 f1 65 de e7 74 21 f1 40 f7 8a 3e fe f8 96 77 46 74 38 d9 06 64 6d 04 67 b6 5e 70 85 b2 3f d6 3d 23 8b 2c 75 7b ff ff 02 07 e2 d8 eb 34 9a f4 6c 7e d5 34 65 e4
C>B 06 00 ff 07 06 c0 21 66 b3 72 06 00 00 00 20 00 40 6a 3b 70 59 d4 5d 46 5b a6 01 97 d2 b8 91 7b b3 63 38 d2 e5 50 94 57 54 c3 65 8f 35 84 0c b4 ff ff 02 07 0e 8a e1 93 63 03 c3 e5 8d af 53 e4
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 04 00 00 00 20 00 36 fe 94 98 58 ca 2f db 48 c7 d5 d7 d4 c3 11 a5 cd ac c4 00 b6 36 ba 35 65 ab 32 29 3c 91 b6 41 ff ff 02 07 6a 38 34 28 7c 09 9d 55 af 6a be e7
C>B 06 00 ff 07 06 c0 21 66 b3 72 07 00 00 00 20 00 2d 5b db fd a3 2a f4 12 03 fb 9e 22 05 6f 21 41 f0 d6 f6 5d 8c 74 e4 b5 0a 47 be 5c f0 dc 62 99 ff ff 02 07 6e 79 e1 94 06 80 58 c5 4d f6 35 48
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 05 00 00 00 20 00 db 7d 35 52 e1 de a6 59 21 2f 26 65 f1 fb 4d c9 a3 ea aa fb 10 7e b1 0b f8 33 18 a3 1c e5 13 32 ff ff 02 07 68 d9 5c 77 7d c9 bd 15 ce ab 9b f0
C>B 06 00 ff 07 06 c0 21 66 b3 72 08 00 00 00 20 00 3f 2a 5c d2 65 1b 84 5a c7 07 f7 60 d9 d3 8a 4b ad 16 c4 39 39 6c 22 42 37 fd 53 13 57 33 82 73 ff ff 02 07 21 eb c7 d3 4d 53 f2 08 5c e8 91 96
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 06 00 00 00 20 00 93 42 be 03 a6 d5 31 dc f2 c0 98 5f 50 c3 e1 e2 be 1a d7 2f 52 85 0d 5e ab d0 3a 9f e5 8a 98 bf ff ff 02 07 21 b5 28 d7 b2 fa 80 b4 f5 dd 31 6b
C>B 06 00 ff 07 06 c0 21 66 b3 72 09 00 00 00 20 00 66 cc 25 54 f9 69 eb 19 e3 58 12 88 d1 b0 2a c3 20 de c5 cc 21 e4 ff 59 e8 49 41 8c de fc c7 bd ff ff 02 07 df 63 3f f5 3a a3 95 16 a6 31 4d da
B>C 06 00 ff 07 06 c0 a4 a3 a2 a0 07 00 00 00 20 00 e2 78 41 6a 04 58 dc 7e 72 ce fc e0 6a 8c ce 8a 89 75 62 fb 14 f6 91 e8 a3 81 85 35 e0 22 e4 29 ff ff 02 07 9c 20 79 58 e3 ac 14 e2 dd 31 f8 f9
`;

type V20 = Extract<Inbound, { kind: 'v20' }>;

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]+/g, ''), 'hex');
}

function assertBytes(actual: Buffer | null, expected: Buffer | string, what: string): void {
  assert.ok(actual, `${what}: got null`);
  const want = typeof expected === 'string' ? hex(expected) : expected;
  assert.equal(actual.toString('hex'), want.toString('hex'), what);
}

function asV20(d: Inbound, what = 'packet'): V20 {
  if (d.kind !== 'v20')
    assert.fail(`${what}: expected a v20 packet, got ${d.kind === 'drop' ? `drop (${d.reason})` : d.kind}`);
  return d;
}

function assertDrop(d: Inbound, what: string, reason?: RegExp): void {
  if (d.kind !== 'drop') assert.fail(`${what}: expected drop, got ${d.kind}`);
  assert.equal(typeof d.reason, 'string');
  assert.ok(d.reason.length > 0, `${what}: has a reason`);
  if (reason) assert.match(d.reason, reason, what);
}

/** Deterministic PRNG (mulberry32), so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CAPTURE = SUITE3_CAPTURE.trim()
  .split('\n')
  .map((line) => ({ dir: line.slice(0, 3), bytes: hex(line.slice(4)) }));

/** A1 observed pre-session Get Channel Auth Capabilities. */
const GCAC_REQUEST = '06 00 ff 07 | 00 | 00000000 | 00000000 | 09 | 20 18 c8 81 00 38 8e 04 b5';
const GCAC_RESPONSE = '06 00 ff 07 | 00 | 00000000 | 00000000 | 10 | 81 1c 63 20 00 38 00 01 80 04 02 00 00 00 00 21';
const GCAC_REQUEST_MSG = '20 18 c8 81 00 38 8e 04 b5';
const GCAC_RESPONSE_MSG = '81 1c 63 20 00 38 00 01 80 04 02 00 00 00 00 21';

/** The suite-3 test vector (A2): keys, first request and the BMC's reply. */
const VECTOR_KEYS: SessionKeys = {
  suite: SUITES[3],
  k1: hex('d7 a3 ab b7 7f 20 5d 5e b3 a6 09 6b 84 cc b8 da a6 0b 6b 7f'),
  k2: hex('2d f3 da 15 9f d6 5d 50 f3 07 07 f6 b3 a8 1c 55 1f 30 46 bc'),
};
const VECTOR_SIDM = hex('a4 a3 a2 a0').readUInt32LE(0);
const VECTOR_SIDC = hex('21 66 b3 72').readUInt32LE(0);
const VECTOR_REQUEST = `06 00 ff 07 06 c0 21 66 b3 72 03 00 00 00 20 00
ef 92 a0 8f b7 22 18 87 4c a7 83 ff b4 c5 9c 3c
9e af ff 9e da 65 62 1c 99 cc 60 4b 1a 41 79 fd
ff ff 02 07 ce 70 44 7e 74 ba c2 d5 1f cc 23 57`;
const VECTOR_REQUEST_PLAIN = '20 18 c8 81 04 3b 04 3c';
const VECTOR_REPLY = `06 00 ff 07 06 c0 a4 a3 a2 a0 01 00 00 00 20 00
a9 b7 8d a1 0d 25 74 d2 fe 00 13 f5 35 d4 98 2d
3d f6 7f de 92 9b b8 d9 6a f4 88 d1 50 c5 00 2d
ff ff 02 07 af 1b 26 bb 9c 03 36 83 e5 cd d9 f4`;
const VECTOR_REPLY_PLAIN = '81 1c 63 20 04 3b 00 04 9d';

/** The session lookup of a BMC holding the vector's session (both IDs, so replies parse too). */
const vectorIcv = (sid: number): number | null => (sid === VECTOR_SIDC || sid === VECTOR_SIDM ? 12 : null);
const noSession = (): null => null;

const ASF_PING = '06 00 ff 06 00 00 11 be 80 5a 00 00';

describe('IPMI packet: parseDatagram', () => {
  it('reads the A1 pre-session Get Channel Auth Capabilities request as IPMI 1.5', () => {
    const d = parseDatagram(hex(GCAC_REQUEST), noSession);
    assert.deepEqual(d, { kind: 'v15', authType: 0, sessionId: 0, seq: 0, message: hex(GCAC_REQUEST_MSG) });
  });

  it('reads the IPMI 1.5 session sequence (offset 5) and session ID (offset 9) little-endian', () => {
    const buf = hex('06 00 ff 07 00 01 02 03 04 11 12 13 14 09' + GCAC_REQUEST_MSG);
    const d = parseDatagram(buf, noSession);
    if (d.kind !== 'v15') assert.fail(`got ${d.kind}`);
    assert.equal(d.seq, 0x04030201);
    assert.equal(d.sessionId, 0x14131211);
  });

  it('tolerates a trailing legacy pad byte after an IPMI 1.5 message', () => {
    const d = parseDatagram(Buffer.concat([hex(GCAC_REQUEST), hex('00')]), noSession);
    if (d.kind !== 'v15') assert.fail(`got ${d.kind}`);
    assertBytes(d.message, GCAC_REQUEST_MSG, 'message');
  });

  it('drops IPMI 1.5 with authentication (MD2, MD5, password, OEM)', () => {
    for (const at of [1, 2, 4, 5]) {
      const buf = hex(GCAC_REQUEST);
      buf[4] = at;
      assertDrop(parseDatagram(buf, noSession), `auth type ${at}`, /auth type/);
    }
  });

  it('drops IPMI 1.5 messages shorter than 7 bytes or longer than the datagram', () => {
    const short = hex('06 00 ff 07 00 00000000 00000000 06 20 18 c8 81 00 38');
    assertDrop(parseDatagram(short, noSession), 'msgLen 6');
    const long = hex(GCAC_REQUEST);
    long[13] = 10;
    assertDrop(parseDatagram(long, noSession), 'msgLen beyond the datagram');
  });

  it('reads an ASF presence ping and its tag', () => {
    assert.deepEqual(parseDatagram(hex(ASF_PING), noSession), { kind: 'asf-ping', tag: 0x5a });
    assert.deepEqual(parseDatagram(hex('06 00 ff 06 00 00 11 be 80 ff 00 00'), noSession), {
      kind: 'asf-ping',
      tag: 0xff,
    });
  });

  it('drops ASF messages that are not a ping for IANA 4542', () => {
    assertDrop(parseDatagram(hex('06 00 ff 06 00 00 11 be 40 5a 00 10'), noSession), 'a pong', /ASF/);
    assertDrop(parseDatagram(hex('06 00 ff 06 00 00 11 bf 80 5a 00 00'), noSession), 'another IANA', /ASF/);
    assertDrop(parseDatagram(hex('06 00 ff 06 00 00 11 be 80 5a 00'), noSession), 'truncated ping', /ASF/);
  });

  it('drops datagrams that are not RMCP, RMCP ACKs and unknown classes', () => {
    assertDrop(parseDatagram(Buffer.alloc(0), noSession), 'empty', /RMCP/);
    assertDrop(parseDatagram(hex('06 00 ff'), noSession), '3 bytes', /RMCP/);
    assertDrop(parseDatagram(hex('07 00 ff 07' + GCAC_REQUEST.slice(12)), noSession), 'RMCP version 7');
    assertDrop(parseDatagram(hex('06 00 00 07' + GCAC_REQUEST.slice(12)), noSession), 'RMCP seq not ff');
    assertDrop(parseDatagram(hex('06 00 ff 87' + GCAC_REQUEST.slice(12)), noSession), 'ACK bit', /class/);
    assertDrop(parseDatagram(hex('06 00 ff 08 00 00 00 00'), noSession), 'class 8', /class/);
    assertDrop(parseDatagram(hex('06 00 ff 07'), noSession), 'class 7 and nothing else');
    assertDrop(parseDatagram(Buffer.from('GET / HTTP/1.1\r\n\r\n'), noSession), 'HTTP');
  });

  it('reads an unauthenticated RMCP+ payload (the captured RAKP1)', () => {
    const rakp1 = CAPTURE[4]!.bytes;
    const p = asV20(parseDatagram(rakp1, noSession));
    assert.equal(p.payloadType, PayloadType.RAKP1);
    assert.equal(p.authenticated, false);
    assert.equal(p.encrypted, false);
    assert.equal(p.sessionId, 0);
    assert.equal(p.seq, 0);
    assertBytes(p.payload, rakp1.subarray(16), 'payload');
    assert.equal(p.payload.length, 0x21);
    assert.equal(p.signed.length, 0);
    assert.equal(p.authCode.length, 0);
  });

  it('reads the vector request: header fields, payload and the signed span / AuthCode split', () => {
    const buf = hex(VECTOR_REQUEST);
    const p = asV20(parseDatagram(buf, vectorIcv));
    assert.equal(p.payloadType, PayloadType.IPMI);
    assert.equal(p.authenticated, true);
    assert.equal(p.encrypted, true);
    assert.equal(p.sessionId, VECTOR_SIDC);
    assert.equal(p.seq, 3);
    assertBytes(p.payload, buf.subarray(16, 48), 'payload (IV + ciphertext)');
    assertBytes(p.signed, buf.subarray(4, 52), 'signed span: offset 4 through next header');
    assertBytes(p.authCode, 'ce 70 44 7e 74 ba c2 d5 1f cc 23 57', 'AuthCode');
    assertBytes(openPayload(p, VECTOR_KEYS), VECTOR_REQUEST_PLAIN, 'plaintext');
  });

  it('drops an authenticated packet for a session it does not know', () => {
    assertDrop(parseDatagram(hex(VECTOR_REQUEST), noSession), 'unknown session', /unknown session/);
    let asked: number | undefined;
    parseDatagram(hex(VECTOR_REQUEST), (sid) => ((asked = sid), null));
    assert.equal(asked, VECTOR_SIDC, 'looks the session up by the ID in the header');
  });

  it('drops an authenticated packet whose trailer does not fit the session’s AuthCode length', () => {
    // Suite 17 ICV length for a suite 3 packet, and trailers with a bad pad length or next header.
    assertDrop(
      parseDatagram(hex(VECTOR_REQUEST), () => 16),
      'ICV 16',
      /trailer/,
    );
    assertDrop(
      parseDatagram(hex(VECTOR_REQUEST), () => 20),
      'ICV 20',
      /trailer/,
    );
    const badPadLen = hex(VECTOR_REQUEST);
    badPadLen[50] = 1;
    assertDrop(parseDatagram(badPadLen, vectorIcv), 'pad length 1 with 2 pad bytes', /trailer/);
    const badNext = hex(VECTOR_REQUEST);
    badNext[51] = 0x06;
    assertDrop(parseDatagram(badNext, vectorIcv), 'next header 06', /trailer/);
  });

  it('drops unauthenticated RMCP+ with trailing bytes, OEM payloads and short headers', () => {
    const rakp1 = CAPTURE[4]!.bytes;
    assertDrop(parseDatagram(Buffer.concat([rakp1, hex('00')]), noSession), 'trailing byte', /trailing/);
    const oem = Buffer.from(rakp1);
    oem[5] = PayloadType.OEM;
    assertDrop(parseDatagram(oem, noSession), 'OEM', /OEM/);
    assertDrop(parseDatagram(rakp1.subarray(0, 15), noSession), '15-byte header', /truncated/);
  });

  it('every strict prefix of every captured packet is dropped', () => {
    for (const [i, c] of CAPTURE.entries()) {
      for (let len = 0; len < c.bytes.length; len++) {
        assertDrop(parseDatagram(c.bytes.subarray(0, len), vectorIcv), `line ${i + 1} cut to ${len} bytes`);
      }
      // ...and the whole packet is not.
      assert.notEqual(parseDatagram(c.bytes, vectorIcv).kind, 'drop', `line ${i + 1} whole`);
    }
  });

  it('random truncations of captured packets are dropped, never thrown', () => {
    const rand = prng(17);
    for (let i = 0; i < 2000; i++) {
      const c = CAPTURE[Math.floor(rand() * CAPTURE.length)]!;
      const len = Math.floor(rand() * c.bytes.length);
      assertDrop(parseDatagram(c.bytes.subarray(0, len), vectorIcv), `truncated to ${len}`);
    }
  });

  it('10,000 random buffers are dropped, never thrown', () => {
    const rand = prng(4242);
    for (let i = 0; i < 10000; i++) {
      const buf = Buffer.alloc(Math.floor(rand() * 200));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
      assertDrop(parseDatagram(buf, vectorIcv), `random buffer ${buf.toString('hex')}`);
    }
  });

  it('10,000 random buffers behind valid RMCP/IPMI headers never throw and parse consistently', () => {
    const rand = prng(99);
    const byte = (): number => Math.floor(rand() * 256);
    for (let i = 0; i < 10000; i++) {
      const buf = Buffer.alloc(4 + Math.floor(rand() * 120));
      for (let j = 0; j < buf.length; j++) buf[j] = byte();
      buf[0] = 0x06;
      buf[2] = 0xff;
      buf[3] = rand() < 0.1 ? 0x06 : 0x07;
      if (buf.length > 4 && rand() < 0.5) buf[4] = rand() < 0.8 ? 0x06 : 0x00;
      if (buf.length > 15 && rand() < 0.7) buf.writeUInt16LE(Math.floor(rand() * Math.max(1, buf.length - 15)), 14);
      if (buf.length > 13 && buf[4] === 0 && rand() < 0.7) buf[13] = Math.floor(rand() * (buf.length - 13));
      const icv = rand() < 0.5 ? 12 : 16;
      let d: Inbound;
      try {
        d = parseDatagram(buf, () => icv);
      } catch (e) {
        assert.fail(`threw on ${buf.toString('hex')}: ${String(e)}`);
      }
      if (d.kind === 'v20') {
        const len = buf.readUInt16LE(14);
        assertBytes(d.payload, buf.subarray(16, 16 + len), 'payload');
        if (d.authenticated) {
          assert.equal(d.authCode.length, icv);
          assert.equal(d.signed.length + 4 + icv, buf.length);
          assert.equal(d.signed[d.signed.length - 1], 0x07);
          assert.equal(
            openPayload(d, { suite: icv === 12 ? SUITES[3] : SUITES[17], k1: Buffer.alloc(20), k2: Buffer.alloc(20) }),
            null,
          );
        } else {
          assert.equal(buf.length, 16 + len);
        }
      } else if (d.kind === 'v15') {
        assert.equal(d.message.length, buf[13]);
        assert.ok(d.message.length >= 7);
      }
    }
  });

  it('an authenticated packet whose MAC is wrong opens to null', () => {
    const buf = hex(VECTOR_REQUEST);
    buf[buf.length - 1]! ^= 0x01;
    assert.equal(openPayload(asV20(parseDatagram(buf, vectorIcv)), VECTOR_KEYS), null);
    const wrongKey = { ...VECTOR_KEYS, k1: Buffer.from(VECTOR_KEYS.k1) };
    wrongKey.k1[0]! ^= 0x80;
    assert.equal(openPayload(asV20(parseDatagram(hex(VECTOR_REQUEST), vectorIcv)), wrongKey), null);
  });

  it('any single bit flipped from offset 4 on is dropped or fails the MAC', () => {
    for (const text of [VECTOR_REQUEST, VECTOR_REPLY]) {
      const orig = hex(text);
      for (let bit = 4 * 8; bit < orig.length * 8; bit++) {
        const buf = Buffer.from(orig);
        buf[bit >> 3]! ^= 1 << (bit & 7);
        const d = parseDatagram(buf, vectorIcv);
        if (d.kind === 'drop') continue;
        assert.equal(openPayload(asV20(d), VECTOR_KEYS), null, `bit ${bit} flipped`);
      }
    }
  });

  it('an authenticated but unencrypted payload opens to the payload as is', () => {
    const p = asV20(parseDatagram(hex(VECTOR_REQUEST), vectorIcv));
    assert.equal(openPayload({ ...p, encrypted: false }, VECTOR_KEYS), p.payload);
    assert.equal(openPayload({ ...p, authenticated: false }, VECTOR_KEYS), null, 'unauthenticated never opens');
  });

  it('a replayed packet parses and opens the same (replay handling is the session’s job)', () => {
    const first = asV20(parseDatagram(hex(VECTOR_REQUEST), vectorIcv));
    const again = asV20(parseDatagram(hex(VECTOR_REQUEST), vectorIcv));
    assert.deepEqual(again, first);
    assertBytes(openPayload(again, VECTOR_KEYS), VECTOR_REQUEST_PLAIN, 'replay plaintext');
    assertBytes(openPayload(first, VECTOR_KEYS), VECTOR_REQUEST_PLAIN, 'first plaintext');
  });
});

describe('IPMI packet: ASF pong', () => {
  it('builds the A1 pong for a tag', () => {
    assertBytes(
      buildAsfPong(0x5a),
      '06 00 ff 06 | 00 00 11 be | 40 | 5a | 00 | 10 | 00 00 11 be | 00 00 00 00 | 81 | 00 | 00 00 00 00 00 00',
      'pong',
    );
    assert.equal(buildAsfPong(0x5a).length, 28);
  });

  it('echoes the tag of the ping it answers', () => {
    for (const tag of [0, 1, 0x7f, 0xff]) {
      const ping = hex(ASF_PING);
      ping[9] = tag;
      const d = parseDatagram(ping, noSession);
      if (d.kind !== 'asf-ping') assert.fail(`got ${d.kind}`);
      assert.equal(buildAsfPong(d.tag)[9], tag);
    }
  });

  it('a pong is not taken for a ping', () => {
    assertDrop(parseDatagram(buildAsfPong(1), noSession), 'pong');
  });
});

describe('IPMI packet: LAN messages', () => {
  it('checksum is the two’s complement of the byte sum', () => {
    assert.equal(checksum(hex('20 18')), 0xc8);
    assert.equal(checksum(hex('81 00 38 8e 04')), 0xb5);
    assert.equal(checksum(Buffer.alloc(0)), 0);
    assert.equal(checksum(hex('00')), 0);
    assert.equal(checksum(hex('01')), 0xff);
    assert.equal(checksum(hex('ff ff')), 0x02);
  });

  it('parses the A1 Get Channel Auth Capabilities request', () => {
    assert.deepEqual(parseLanRequest(hex(GCAC_REQUEST_MSG)), {
      rsAddr: 0x20,
      netFn: 0x06,
      rsLun: 0,
      rqAddr: 0x81,
      rqSeq: 0,
      rqLun: 0,
      cmd: 0x38,
      data: hex('8e 04'),
    });
  });

  it('splits netFn/LUN and rqSeq/LUN', () => {
    // rsAddr 20, netFn 2c LUN 2, rqAddr 81, rqSeq 0x15 LUN 3, cmd 3e, data 00 02
    const head = hex('20 b2');
    const body = hex('81 57 3e 00 02');
    const m = Buffer.concat([head, Buffer.from([checksum(head)]), body, Buffer.from([checksum(body)])]);
    const r = parseLanRequest(m);
    assert.ok(r);
    assert.equal(r.netFn, 0x2c);
    assert.equal(r.rsLun, 2);
    assert.equal(r.rqSeq, 0x15);
    assert.equal(r.rqLun, 3);
    assert.equal(r.cmd, 0x3e);
    assertBytes(r.data, '00 02', 'data');
  });

  it('builds the A1 observed Get Channel Auth Capabilities response byte for byte', () => {
    const req = parseLanRequest(hex(GCAC_REQUEST_MSG));
    assert.ok(req);
    assertBytes(buildLanResponse(req, 0, hex('01 80 04 02 00 00 00 00')), GCAC_RESPONSE_MSG, 'response');
  });

  it('builds the vector’s Set Session Privilege reply byte for byte', () => {
    const req = parseLanRequest(hex(VECTOR_REQUEST_PLAIN));
    assert.ok(req);
    assertBytes(buildLanResponse(req, 0, hex('04')), VECTOR_REPLY_PLAIN, 'reply');
  });

  it('builds a response without data, echoing LUNs, rqSeq and cmd', () => {
    const req = {
      rsAddr: 0x20,
      netFn: 0x2c,
      rsLun: 1,
      rqAddr: 0x81,
      rqSeq: 0x3f,
      rqLun: 2,
      cmd: 0x3e,
      data: hex('00 02'),
    };
    const r = buildLanResponse(req, 0xc1);
    // 81 | (2d << 2 | 2) = b6 | chk | 20 | (3f << 2 | 1) = fd | 3e | c1 | chk
    assertBytes(
      r,
      `81 b6 ${checksum(hex('81 b6')).toString(16)} 20 fd 3e c1 ${checksum(hex('20 fd 3e c1')).toString(16)}`,
      'response',
    );
    assert.equal(r.length, 8);
    // Both checksums close to zero.
    assert.equal((r[0]! + r[1]! + r[2]!) & 0xff, 0);
    assert.equal(
      r.subarray(3).reduce((s, b) => (s + b) & 0xff, 0),
      0,
    );
  });

  it('responses round-trip through the checksum rules for every data length 0..32', () => {
    const req = parseLanRequest(hex(GCAC_REQUEST_MSG));
    assert.ok(req);
    for (let n = 0; n <= 32; n++) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 91 + n) & 0xff;
      const r = buildLanResponse(req, 0x00, data);
      assert.equal(r.length, 8 + n);
      assert.equal(checksum(r.subarray(0, 2)), r[2]);
      assert.equal(checksum(r.subarray(3, r.length - 1)), r[r.length - 1]);
      assertBytes(r.subarray(7, r.length - 1), data, 'data');
    }
  });

  it('returns null for a bad checksum or a short message', () => {
    const good = hex(GCAC_REQUEST_MSG);
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8]) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x01;
      assert.equal(parseLanRequest(bad), null, `byte ${i} changed`);
    }
    for (let len = 0; len < 7; len++) assert.equal(parseLanRequest(good.subarray(0, len)), null, `length ${len}`);
    // The shortest valid request: no data.
    const head = hex('20 18');
    const body = hex('81 04 01');
    const min = Buffer.concat([head, Buffer.from([checksum(head)]), body, Buffer.from([checksum(body)])]);
    assert.equal(min.length, 7);
    assert.equal(parseLanRequest(min)?.data.length, 0);
  });
});

describe('IPMI packet: buildV15', () => {
  it('frames the A1 Get Channel Auth Capabilities response exactly', () => {
    assertBytes(buildV15(hex(GCAC_RESPONSE_MSG)), GCAC_RESPONSE, 'response datagram');
  });

  it('appends one 00 only when the datagram would be 56, 84, 112, 128 or 156 bytes', () => {
    const padded = new Set([56, 84, 112, 128, 156]);
    for (let n = 7; n <= 200; n++) {
      const msg = Buffer.alloc(n, 0x5a);
      const out = buildV15(msg);
      const unpadded = 14 + n;
      assert.equal(out.length, padded.has(unpadded) ? unpadded + 1 : unpadded, `message length ${n}`);
      if (padded.has(unpadded)) assert.equal(out[out.length - 1], 0);
      assert.equal(out[13], n, 'msgLen');
      const d = parseDatagram(out, noSession);
      if (d.kind !== 'v15') assert.fail(`message length ${n}: got ${d.kind}`);
      assertBytes(d.message, msg, `message length ${n} round trip`);
    }
  });
});

function randomKeys(suite: CipherSuite, seed: number): SessionKeys {
  const rand = prng(seed);
  const len = suite.hash === 'sha1' ? 20 : 32;
  const key = (): Buffer => Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
  return { suite, k1: key(), k2: key() };
}

describe('IPMI packet: buildV20', () => {
  it('without keys, frames the captured Open Session Response and RAKP messages exactly', () => {
    for (const i of [2, 3, 4, 5, 6, 7]) {
      const c = CAPTURE[i]!.bytes;
      assertBytes(buildV20(c[5]!, 0, 0, c.subarray(16), null), c, `capture line ${i + 1}`);
    }
  });

  it('with the vector keys, SIDm, seq 1, the reply plaintext and IV reproduces the vector reply exactly', () => {
    const iv = hex('a9 b7 8d a1 0d 25 74 d2 fe 00 13 f5 35 d4 98 2d');
    assertBytes(
      buildV20(PayloadType.IPMI, VECTOR_SIDM, 1, hex(VECTOR_REPLY_PLAIN), VECTOR_KEYS, iv),
      VECTOR_REPLY,
      'reply datagram',
    );
  });

  it('with the vector keys and the request IV reproduces the vector request exactly', () => {
    const iv = hex('ef 92 a0 8f b7 22 18 87 4c a7 83 ff b4 c5 9c 3c');
    assertBytes(
      buildV20(PayloadType.IPMI, VECTOR_SIDC, 3, hex(VECTOR_REQUEST_PLAIN), VECTOR_KEYS, iv),
      VECTOR_REQUEST,
      'request datagram',
    );
  });

  it('re-encodes every in-session packet of the suite-3 capture byte for byte', () => {
    for (const c of CAPTURE.slice(8)) {
      const p = asV20(parseDatagram(c.bytes, vectorIcv));
      const plain = openPayload(p, VECTOR_KEYS);
      assert.ok(plain, 'opens');
      assertBytes(
        buildV20(p.payloadType, p.sessionId, p.seq, plain, VECTOR_KEYS, p.payload.subarray(0, 16)),
        c.bytes,
        'datagram',
      );
    }
  });

  for (const suite of [SUITES[3], SUITES[17]]) {
    it(`round-trips through parseDatagram + openPayload with suite ${suite.id} keys, integrity span a multiple of 4`, () => {
      const keys = randomKeys(suite, suite.id);
      const pads = new Set<number>();
      for (let n = 0; n <= 64; n++) {
        const msg = Buffer.alloc(n);
        for (let i = 0; i < n; i++) msg[i] = (i * 13 + n) & 0xff;
        const sid = 0x80000000 + n * 0x01010101;
        const seq = 0xfffffff0 + (n % 16);
        const out = buildV20(PayloadType.IPMI, sid, seq, msg, keys);
        assert.equal(out[5], 0xc0, 'encrypted and authenticated IPMI payload');
        const encLen = 16 + (Math.floor(n / 16) + 1) * 16;
        assert.equal(out.readUInt16LE(14), encLen, 'payload length is IV + ciphertext');
        const p = asV20(
          parseDatagram(out, (s) => (s === sid >>> 0 ? suite.icvLength : null)),
          `length ${n}`,
        );
        assert.equal(p.sessionId, sid >>> 0);
        assert.equal(p.seq, seq);
        assert.equal(p.authCode.length, suite.icvLength);
        assert.equal(p.signed.length % 4, 0, 'span from offset 4 through next header');
        const padLen = p.signed[p.signed.length - 2]!;
        pads.add(padLen);
        assert.ok(padLen <= 3);
        assertBytes(
          p.signed.subarray(p.signed.length - 2 - padLen, p.signed.length - 2),
          Buffer.alloc(padLen, 0xff),
          'pad',
        );
        assert.equal(out.length, 4 + p.signed.length + suite.icvLength);
        assertBytes(openPayload(p, keys), msg, `length ${n} round trip`);
        assertBytes(decrypt(keys.k2, p.payload), msg, 'payload is IV + AES-CBC under K2');
        // Other keys of the same suite must not open it.
        assert.equal(openPayload(p, randomKeys(suite, suite.id + 1)), null);
      }
      // IV + ciphertext is always a multiple of 16, so the 12-byte header + payload + 2 always needs 2 pad bytes.
      assert.deepEqual([...pads], [2]);
    });
  }

  it('signs the captured 48-byte span: header, IV + ciphertext, ff ff 02 07', () => {
    // IV + ciphertext is 16k + 16 bytes, so 12 + payload + 2 always needs exactly two 0xff pad bytes.
    const p = asV20(parseDatagram(hex(VECTOR_REQUEST), vectorIcv));
    assert.equal(p.signed.length, 48);
    assertBytes(p.signed.subarray(44), 'ff ff 02 07', 'captured trailer');
  });

  it('without keys, sets neither the encrypted nor the authenticated bit and adds no trailer', () => {
    const out = buildV20(PayloadType.IPMI, 0, 0, hex(GCAC_REQUEST_MSG), null);
    assertBytes(out, `06 00 ff 07 06 00 00000000 00000000 0900 ${GCAC_REQUEST_MSG}`, 'datagram');
    const p = asV20(parseDatagram(out, noSession));
    assert.equal(p.authenticated, false);
    assert.equal(p.encrypted, false);
    assertBytes(p.payload, GCAC_REQUEST_MSG, 'payload');
  });

  it('encrypt() output under the vector K2 is what buildV20 puts in the payload field', () => {
    const iv = Buffer.alloc(16, 0x42);
    const out = buildV20(PayloadType.IPMI, 1, 1, hex(VECTOR_REPLY_PLAIN), VECTOR_KEYS, iv);
    assertBytes(out.subarray(16, 48), encrypt(VECTOR_KEYS.k2, hex(VECTOR_REPLY_PLAIN), iv), 'payload field');
  });
});
