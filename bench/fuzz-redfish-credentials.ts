/**
 * The credentials of bench:fuzz's Redfish requests: the node's Basic credentials or a live session
 * token, or bad ones (wrong, malformed, other schemes, logged-out and made-up tokens). Pure.
 */
import type { Rng } from './fuzz-rng.js';
import type { RedfishTarget, TokenBook } from './fuzz-redfish-target.js';

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** The Authorization / X-Auth-Token headers of a request. */
export function authHeaders(rng: Rng, bmc: RedfishTarget, book: TokenBook, good: boolean): string[] {
  const basic = (u: string, p: string): string => `Authorization: Basic ${b64(`${u}:${p}`)}`;
  const live = book.live.length > 0 ? rng.pick(book.live).token : null;
  if (good) return rng.chance(0.8) || live === null ? [basic(bmc.username, bmc.password)] : [`X-Auth-Token: ${live}`];
  return rng.weighted<() => string[]>([
    [3, () => []],
    [3, () => [basic(bmc.username, `${bmc.password}x`)]],
    [2, () => [basic(`${bmc.username}x`, bmc.password)]],
    [2, () => [basic('', '')]],
    [
      2,
      () => [
        `Authorization: Basic ${rng.pick(['', '!!!', 'Og==', b64('nocolon'), b64(Buffer.from([0xff, 0xfe, 0x3a, 0x80])), '='.repeat(5000)])}`,
      ],
    ],
    [
      2,
      () => [
        `Authorization: ${rng.pick(['Bearer abc', 'Digest x', 'Basic', 'basic  ' + b64(`${bmc.username}:${bmc.password}`), 'NTLM TlRMTVNTUAAB'])}`,
      ],
    ],
    [
      3,
      () => [
        `X-Auth-Token: ${rng.pick([rng.bytes(24).toString('base64url'), '', 'x'.repeat(8000), 'null', "' OR 1=1 --"])}`,
      ],
    ],
    [
      3,
      () =>
        book.dead.length > 0
          ? [`X-Auth-Token: ${rng.pick(book.dead)}`]
          : [`X-Auth-Token: ${rng.bytes(24).toString('base64url')}`],
    ],
    [2, () => [`X-Auth-Token: ${rng.bytes(24).toString('base64url')}`, basic(bmc.username, bmc.password)]],
    [1, () => [basic(bmc.username, bmc.password), basic(bmc.username, 'wrong')]],
  ])();
}
