import assert from 'node:assert/strict';
import type { BmcBackend, BmcBootDevice, BmcInventory } from '../../agent/bmc/backend.js';
import {
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
  SUITES,
  userKey,
  type CipherSuite,
  type RakpContext,
} from '../../agent/bmc/ipmi/crypto.js';
import { IpmiBmc } from '../../agent/bmc/ipmi/bmc.js';
import {
  buildV15,
  buildV20,
  checksum,
  openPayload,
  parseDatagram,
  PayloadType,
  sessionKeys,
  type SessionKeys,
} from '../../agent/bmc/ipmi/packet.js';
import { Privilege } from '../../agent/bmc/ipmi/session.js';

// One IpmiBmc driven datagram by datagram (no socket), with an in-memory backend: what the fuzz
// benchmark (bench/fuzz.ts) found in replies and in the BMC's own bookkeeping.

const USER = { username: 'admin', password: 'secret-pw', maxPrivilege: Privilege.ADMINISTRATOR };

class MemoryBackend implements BmcBackend {
  on = false;
  boot: BmcBootDevice = { device: 'network', persistent: true, uefi: false };
  powerState(): Promise<'on' | 'off'> {
    return Promise.resolve(this.on ? 'on' : 'off');
  }
  power(_uuid: string, action: string): Promise<void> {
    this.on = action === 'on' || action === 'cycle' || action === 'reset' ? true : action === 'nmi' ? this.on : false;
    return Promise.resolve();
  }
  bootDevice(): Promise<BmcBootDevice> {
    return Promise.resolve(this.boot);
  }
  setBootDevice(_uuid: string, device: BmcBootDevice['device'], persistent: boolean): Promise<void> {
    this.boot = { ...this.boot, device, persistent };
    return Promise.resolve();
  }
  inventory(): Promise<BmcInventory> {
    return Promise.resolve({ name: 'n1', arch: 'x86_64' });
  }
}

function newBmc(): IpmiBmc {
  return new IpmiBmc('00000000-0000-4000-8000-000000000001', USER, new MemoryBackend());
}

/** A LAN request from the console (rqAddr 0x81). */
function lanRequest(netFn: number, cmd: number, rqSeq: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.from([0x20, (netFn & 0x3f) << 2]);
  const body = Buffer.concat([Buffer.from([0x81, (rqSeq & 0x3f) << 2, cmd]), data]);
  return Buffer.concat([head, Buffer.from([checksum(head)]), body, Buffer.from([checksum(body)])]);
}

/** The Open Session request payload for `suite` (records as ipmitool sends them unless overridden). */
function openSessionRequest(suite: CipherSuite, records?: Buffer): Buffer {
  const algs =
    records ??
    Buffer.from([
      ...[0x00, 0, 0, 0x08, suite.auth, 0, 0, 0],
      ...[0x01, 0, 0, 0x08, suite.integrity, 0, 0, 0],
      ...[0x02, 0, 0, 0x08, suite.confidentiality, 0, 0, 0],
    ]);
  return Buffer.concat([Buffer.from([0x42, 0x00, 0, 0, 0xa4, 0xa3, 0xa2, 0xa0]), algs]);
}

/** The unauthenticated payload of a pre-session reply of `payloadType`. */
function prePayload(reply: Buffer | null, payloadType: number): Buffer {
  assert.ok(reply, 'the BMC answered');
  const p = parseDatagram(reply, () => null);
  assert.ok(p.kind === 'v20' && p.payloadType === payloadType, `reply is payload type ${payloadType}`);
  return p.payload;
}

/** A complete RMCP+ handshake through `bmc.handle`: the session's keys and IDs. */
async function openSession(
  bmc: IpmiBmc,
  suite: CipherSuite = SUITES[3],
): Promise<{ keys: SessionKeys; sidc: number; sidm: number }> {
  const open = prePayload(
    await bmc.handle(buildV20(PayloadType.OPEN_SESSION_REQUEST, 0, 0, openSessionRequest(suite), null)),
    PayloadType.OPEN_SESSION_RESPONSE,
  );
  assert.equal(open[1], 0, 'Open Session accepted');
  const sidc = Buffer.from(open.subarray(8, 12));
  const sidm = Buffer.from([0xa4, 0xa3, 0xa2, 0xa0]);
  const rm = Buffer.alloc(16, 7);
  const username = Buffer.from(USER.username);
  const rakp1 = Buffer.concat([
    Buffer.from([0x42, 0, 0, 0]),
    sidc,
    rm,
    Buffer.from([0x14, 0, 0, username.length]),
    username,
  ]);
  const rakp2 = prePayload(await bmc.handle(buildV20(PayloadType.RAKP1, 0, 0, rakp1, null)), PayloadType.RAKP2);
  assert.equal(rakp2[1], 0, 'RAKP2 status');
  const ctx: RakpContext = {
    suite,
    sidm,
    sidc,
    rm,
    rc: Buffer.from(rakp2.subarray(8, 24)),
    guid: Buffer.from(rakp2.subarray(24, 40)),
    rolem: 0x14,
    username,
  };
  const kuid = userKey(USER.password);
  const rakp3 = Buffer.concat([Buffer.from([0x42, 0, 0, 0]), sidc, rakp3AuthCode(ctx, kuid)]);
  const rakp4 = prePayload(await bmc.handle(buildV20(PayloadType.RAKP3, 0, 0, rakp3, null)), PayloadType.RAKP4);
  const sik = sessionIntegrityKey(ctx, kuid);
  assert.equal(rakp4[1], 0, 'RAKP4 status');
  assert.deepEqual(rakp4.subarray(8), rakp4Icv(ctx, sik));
  return { keys: sessionKeys(suite, sik), sidc: sidc.readUInt32LE(0), sidm: sidm.readUInt32LE(0) };
}

describe('IPMI BMC (datagram in, datagram out)', () => {
  describe('requests with a response netFn', () => {
    it('drops a pre-session request whose netFn is odd (a response), in IPMI 1.5 and 2.0 framing', async () => {
      const bmc = newBmc();
      // netFn 0x07 is App's response netFn: a reply would carry 0x08, a request netFn.
      assert.equal(await bmc.handle(buildV15(lanRequest(0x07, 0x38, 1, Buffer.from([0x8e, 0x04])))), null);
      assert.equal(await bmc.handle(buildV20(PayloadType.IPMI, 0, 0, lanRequest(0x07, 0x38, 1), null)), null);
      // The even netFn still gets its answer.
      assert.ok(await bmc.handle(buildV15(lanRequest(0x06, 0x38, 1, Buffer.from([0x8e, 0x04])))));
    });

    it('drops an in-session request whose netFn is odd, and answers the next one with an odd netFn', async () => {
      const bmc = newBmc();
      const s = await openSession(bmc);
      for (const netFn of [0x01, 0x07, 0x3f]) {
        const reply = await bmc.handle(
          buildV20(PayloadType.IPMI, s.sidc, netFn + 10, lanRequest(netFn, 0x01, 3), s.keys),
        );
        assert.equal(reply, null, `netFn 0x${netFn.toString(16)} is dropped`);
      }
      const reply = await bmc.handle(buildV20(PayloadType.IPMI, s.sidc, 100, lanRequest(0x3e, 0x01, 4), s.keys));
      assert.ok(reply, 'an unknown even netFn is answered');
      const p = parseDatagram(reply, () => s.keys.suite.icvLength);
      if (p.kind !== 'v20') assert.fail(`reply is ${p.kind}`);
      const message = openPayload(p, s.keys);
      assert.ok(message);
      assert.equal((message[1] ?? 0) >> 2, 0x3f, 'response netFn is the request netFn + 1');
      assert.equal(message[6], 0xc1, 'Invalid Command');
    });
  });

  describe('Open Session', () => {
    const suite = SUITES[17];
    const goodRecords = (): Buffer =>
      Buffer.from([
        ...[0x00, 0, 0, 0x08, suite.auth, 0, 0, 0],
        ...[0x01, 0, 0, 0x08, suite.integrity, 0, 0, 0],
        ...[0x02, 0, 0, 0x08, suite.confidentiality, 0, 0, 0],
      ]);

    it('answers with algorithm records it builds itself (type, length 8, the suite), not the request’s bytes', async () => {
      const records = goodRecords();
      // Reserved bytes set: they must not come back.
      records[1] = 0x55;
      records[13] = 0x66;
      const res = prePayload(
        await newBmc().handle(
          buildV20(PayloadType.OPEN_SESSION_REQUEST, 0, 0, openSessionRequest(suite, records), null),
        ),
        PayloadType.OPEN_SESSION_RESPONSE,
      );
      assert.equal(res[1], 0);
      assert.deepEqual(res.subarray(12, 36), goodRecords());
    });

    for (const [what, at, value] of [
      ['authentication record type', 0, 0x01],
      ['integrity record type', 8, 0x21],
      ['confidentiality record type', 16, 0x00],
      ['authentication record length', 3, 0x41],
      ['integrity record length', 11, 0x00],
      ['confidentiality record length', 19, 0x09],
    ] as const) {
      it(`refuses a request with a wrong ${what} (status 0x12, illegal parameter), opening no session`, async () => {
        const records = goodRecords();
        records[at] = value;
        const bmc = newBmc();
        const res = prePayload(
          await bmc.handle(buildV20(PayloadType.OPEN_SESSION_REQUEST, 0, 0, openSessionRequest(suite, records), null)),
          PayloadType.OPEN_SESSION_RESPONSE,
        );
        assert.equal(res[1], 0x12);
        assert.equal(res.length, 8);
        assert.equal(bmc.sessions.size, 0);
      });
    }
  });

  describe('bookkeeping', () => {
    it('counts drops under a fixed set of reasons, whatever values the datagrams carry', async () => {
      const bmc = newBmc();
      const s = await openSession(bmc);
      // Every RMCP class, IPMI 1.5 auth type and payload type, outside and inside the session.
      for (let v = 0; v < 256; v++) {
        await bmc.handle(Buffer.from([0x06, 0x00, 0xff, v, 0, 0, 0, 0]));
        await bmc.handle(Buffer.from([0x06, 0x00, 0xff, 0x07, v, ...Buffer.alloc(20)]));
        if (v < 64) {
          await bmc.handle(buildV20(v, 0, 0, Buffer.alloc(8), null));
          await bmc.handle(buildV20(v, s.sidc, 1000 + v, lanRequest(0x06, 0x01, 1), s.keys));
        }
      }
      const reasons = Object.keys(bmc.stats.dropped);
      // Before: one counter per value seen (638 of them here), a growth any sender could drive.
      assert.ok(reasons.length <= 16, `${reasons.length} drop reasons, e.g. ${reasons.slice(0, 8).join(' | ')}`);
    });
  });
});
