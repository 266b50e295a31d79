/**
 * JSON bodies of bench:fuzz's Redfish requests: plausible ones for every action and PATCH (valid or
 * with values out of range), and broken ones (bad JSON, invalid UTF-8, deep nesting, huge numbers
 * and strings, prototype keys, random bytes). Pure.
 */
import { RESET_TYPES } from '../agent/bmc/redfish/resources/system-reset.js';
import type { Rng } from './fuzz-rng.js';
import type { RedfishTarget } from './fuzz-redfish-target.js';

/** Image URLs InsertMedia is given: none reachable, some not HTTP, some not URLs. */
const IMAGES = [
  'http://127.0.0.1:1/fuzz.iso',
  'https://127.0.0.1:1/fuzz.iso',
  'http://[::1]:1/fuzz.iso',
  'ftp://127.0.0.1/fuzz.iso',
  'file:///etc/passwd',
  '',
  'not a url',
  'http://',
  'http://127.0.0.1:99999/x',
];

/** A JSON (or not) body for a method and path. */
export function body(rng: Rng, bmc: RedfishTarget, valid: boolean): Buffer {
  if (valid) {
    return Buffer.from(
      JSON.stringify(
        rng.pick<() => unknown>([
          () => ({ ResetType: rng.pick(RESET_TYPES) }),
          () => ({
            Boot: {
              BootSourceOverrideTarget: rng.pick(['Pxe', 'Hdd', 'Cd', 'None', 'Usb']),
              BootSourceOverrideEnabled: rng.pick(['Once', 'Continuous', 'Disabled', 'Sometimes']),
            },
          }),
          () => ({ IndicatorLED: rng.pick(['Lit', 'Off', 'Blinking', 'Purple']) }),
          () => ({
            Attributes: {
              [rng.pick(['ProcTurboMode', 'BootMode', 'NumCores', 'SysPassword', 'SecureBootStatus'])]:
                rng.pick<unknown>(['Enabled', 'Uefi', 'Bios', 4, true, null, {}]),
            },
          }),
          () => ({
            Image: rng.pick(IMAGES),
            Inserted: rng.pick([true, false]),
            WriteProtected: rng.pick([true, 'no']),
          }),
          () => ({ UserName: bmc.username, Password: bmc.password }),
          () => ({ UserName: bmc.username, Password: `${bmc.password}!` }),
          () => ({ PasswordName: 'SysPassword', OldPassword: '', NewPassword: 'x' }),
          () => ({ SecureBootEnable: rng.pick([true, false, 'yes']) }),
          () => ({ ResetKeysType: rng.pick(['ResetAllKeysToDefault', 'DeleteAllKeys']) }),
        ])(),
      ),
    );
  }
  return rng.weighted<() => Buffer>([
    [
      3,
      () =>
        Buffer.from(
          rng.pick([
            '{',
            '{"a":',
            '[1,2',
            '{"ResetType":"On",}',
            'nul',
            '{"a":1}{"b":2}',
            "{'a':1}",
            '{"a":NaN}',
            '{"a":1e999}',
            '-',
            '""',
          ]),
        ),
    ],
    [
      2,
      () =>
        Buffer.concat([
          Buffer.from('{"UserName":"'),
          Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]),
          Buffer.from('","Password":"x"}'),
        ]),
    ],
    [1, () => Buffer.from('['.repeat(rng.pick([100, 10_000, 200_000])) + ']'.repeat(rng.pick([0, 100])))],
    [1, () => Buffer.from(`{"a":${'9'.repeat(rng.range(20, 5000))}}`)],
    [1, () => Buffer.from('{"__proto__":{"ResetType":"On"},"constructor":{"prototype":{"x":1}}}')],
    [1, () => Buffer.from(JSON.stringify({ ResetType: 'x'.repeat(rng.range(1000, 500_000)) }))],
    [
      1,
      () =>
        Buffer.from(
          JSON.stringify({
            Attributes: Object.fromEntries(Array.from({ length: rng.range(1, 50) }, (_, i) => [`Fuzz${i}`, i])),
          }),
        ),
    ],
    [1, () => rng.bytes(rng.int(2000))],
    [1, () => Buffer.from(JSON.stringify([{ ResetType: 'On' }]))],
  ])();
}
