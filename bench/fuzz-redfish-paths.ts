/**
 * Request targets of bench:fuzz's Redfish requests: every resource a client may GET, the action
 * targets, and paths with tricks in them (`..`, encoded slashes and dots, bad percent escapes,
 * very long paths, raw and encoded unicode). Pure.
 */
import type { Rng } from './fuzz-rng.js';
import type { RedfishTarget, TokenBook } from './fuzz-redfish-target.js';

/** Characters that trip up parsers and logs: accents, emoji, bidi override, NUL, BOM. */
export const UNICODE = ['é', '€', '😀', '\u202e', '\u0000', 'Ω', '日本', '\ufeff'];

/** Resource paths a client may GET (with their node) and a few that do not exist. */
export function resourcePath(rng: Rng, bmc: RedfishTarget): string {
  const n = rng.pick(bmc.nodes);
  const sys = `/redfish/v1/Systems/${n.uuid}`;
  return rng.pick([
    '/redfish',
    '/redfish/v1',
    '/redfish/v1/',
    '/redfish/v1/Systems',
    sys,
    `${sys}/`,
    `${sys}/EthernetInterfaces`,
    `${sys}/Processors`,
    `${sys}/Processors/CPU0`,
    `${sys}/SimpleStorage`,
    `${sys}/SimpleStorage/virtio`,
    `${sys}/Storage`,
    `${sys}/Storage/1`,
    `${sys}/Storage/1/Volumes`,
    `${sys}/Storage/1/Volumes/${n.volume}`,
    `${sys}/Storage/1/Drives/${n.volume}`,
    `${sys}/BIOS`,
    `${sys}/BIOS/Settings`,
    `${sys}/SecureBoot`,
    `${sys}/VirtualMedia`,
    `${sys}/VirtualMedia/Cd`,
    `/redfish/v1/Systems/${n.name}`,
    `/redfish/v1/Systems/${n.name}/BIOS?x=1`,
    '/redfish/v1/Managers',
    `/redfish/v1/Managers/${n.uuid}`,
    `/redfish/v1/Managers/${n.uuid}/VirtualMedia/Cd`,
    '/redfish/v1/Chassis',
    `/redfish/v1/Chassis/${n.uuid}`,
    '/redfish/v1/SessionService',
    '/redfish/v1/SessionService/Sessions',
    '/redfish/v1/UpdateService',
    `/redfish/v1/Systems/${n.uuid.toUpperCase()}`,
    '/redfish/v1/Systems/00000000-0000-0000-0000-000000000000',
  ]);
}

/**
 * A path with a trick in it. `clean`: only tricks HTTP allows in a request target, so the server
 * answers and keeps the connection (raw non-ASCII, backslashes, empty targets and targets over
 * Node's 16 KiB head limit make it answer 400/431 and close, which would cut a pipelined batch).
 */
export function trickyPath(rng: Rng, bmc: RedfishTarget, clean: boolean): string {
  const base = resourcePath(rng, bmc);
  const n = rng.pick(bmc.nodes);
  const trick = clean ? rng.pick([0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13]) : rng.int(14);
  switch (trick) {
    case 0:
      return `${base}/../../..${rng.pick(['', '/etc/passwd', '/redfish/v1/Systems'])}`;
    case 1:
      return base.replaceAll('/', rng.pick(clean ? ['%2F', '%2f', '%5C'] : ['%2F', '%2f', '%5C', '\\']));
    case 2:
      return `/redfish/v1/Systems/${rng.pick(['%2e%2e', '%2E%2E%2F', '.%2e', '%252e%252e', '..%00'])}/${n.uuid}`;
    case 3:
      return `${base}/${rng.pick(['%zz', '%', '%0', '%C0%AF', '%E0%80%AF', '%ED%A0%80', '%FF', '%00', '%u002e'])}`;
    case 4:
      return `${base}/${'a'.repeat(rng.pick([256, 2000, 8000, 15_000, 20_000, 70_000]))}`;
    case 5:
      return `${base}/${rng.pick(UNICODE)}${rng.pick(UNICODE)}`;
    case 6:
      return `${base}/${encodeURIComponent(rng.pick(UNICODE) + rng.pick(UNICODE))}`;
    case 7:
      return base.replace('/redfish', rng.pick(['//redfish', '/redfish/', '/./redfish', '/REDFISH', '/redfish/v1/..']));
    case 8:
      return `${base}?${rng.pick(['$expand=.', '$select=*', 'a=%zz', 'x'.repeat(5000), '%', '&&&', 'only=1#frag'])}`;
    case 9:
      return rng.pick(['*', 'http://evil.example/redfish/v1', `http://127.0.0.1${base}`, '/', '', '?']);
    case 10:
      return `${base}${'/'.repeat(rng.range(2, 50))}`;
    case 11:
      return `/redfish/v1/Systems/${rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '../', 'null', 'prototype'])}`;
    case 12:
      return base.replace(n.uuid, `${n.uuid}${rng.pick([';x=1', '%20', '.', '/Actions/ComputerSystem.Reset/..'])}`);
    default:
      return `/redfish/v1/${'x/'.repeat(rng.range(10, 400))}`;
  }
}

/** An actionable path (POST/PATCH/DELETE targets) of a node. */
export function actionPath(rng: Rng, bmc: RedfishTarget, book: TokenBook): { method: string; path: string } {
  const n = rng.pick(bmc.nodes);
  const sys = `/redfish/v1/Systems/${n.uuid}`;
  return rng.pick([
    { method: 'POST', path: `${sys}/Actions/ComputerSystem.Reset` },
    { method: 'PATCH', path: sys },
    { method: 'PATCH', path: `${sys}/BIOS/Settings` },
    { method: 'POST', path: `${sys}/BIOS/Actions/Bios.ResetBios` },
    { method: 'POST', path: `${sys}/BIOS/Actions/Bios.ChangePassword` },
    { method: 'PATCH', path: `${sys}/SecureBoot` },
    { method: 'POST', path: `${sys}/SecureBoot/Actions/SecureBoot.ResetKeys` },
    { method: 'POST', path: `${sys}/VirtualMedia/Cd/Actions/VirtualMedia.InsertMedia` },
    { method: 'POST', path: `${sys}/VirtualMedia/Cd/Actions/VirtualMedia.EjectMedia` },
    { method: 'PATCH', path: `${sys}/VirtualMedia/Cd` },
    { method: 'PATCH', path: `/redfish/v1/Chassis/${n.uuid}` },
    { method: 'POST', path: '/redfish/v1/SessionService/Sessions' },
    {
      method: 'DELETE',
      path: `/redfish/v1/SessionService/Sessions/${book.live.length > 0 ? rng.pick(book.live).id : rng.bytes(8).toString('hex')}`,
    },
  ]);
}
