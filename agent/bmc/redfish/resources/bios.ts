/**
 * BIOS: the node's firmware settings (sushy-tools' attribute names), changed through the pending
 * Settings resource, which tenks applies at once; `BootMode` switches the firmware between UEFI and BIOS.
 */
import type { FirmwarePatch, NodeStatus } from '../../../compute/index.js';
import type { RedfishBackend } from '../../backend.js';
import { systemUri, type Doc } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, checkIfMatch, missing, noContent, ok } from '../reply.js';
import { jsonObject } from '../request-body.js';
import type { RedfishRouter } from '../router.js';

/** The BIOS attributes a node starts with (as sushy-tools' defaults, so clients see familiar names). */
const DEFAULT_BIOS: Readonly<Record<string, string | number | boolean>> = {
  BootMode: 'Uefi',
  EmbeddedSata: 'Raid',
  L2Cache: '10x256 KB',
  NicBoot1: 'NetworkBoot',
  NumCores: 10,
  ProcTurboMode: 'Enabled',
  QuietBoot: true,
  SecureBootStatus: 'Disabled',
  SerialNumber: 'QPX12345',
  SysPassword: '',
};

/** BIOS attributes in effect (defaults overlaid with what was set). */
function biosAttributes(n: NodeStatus): Record<string, string | number | boolean> {
  return {
    ...DEFAULT_BIOS,
    BootMode: n.firmware.bootMode === 'uefi' ? 'Uefi' : 'Bios',
    SecureBootStatus: n.firmware.secureBoot ? 'Enabled' : 'Disabled',
    ...n.firmware.bios,
  };
}

/** What the current and the pending settings documents share. */
function attributesDoc(uri: string, id: string, name: string, n: NodeStatus): Doc {
  return {
    '@odata.id': uri,
    '@odata.type': '#Bios.v1_0_0.Bios',
    Id: id,
    Name: name,
    AttributeRegistry: 'BiosAttributeRegistry.v1_0_0',
    Attributes: biosAttributes(n),
  };
}

function biosDoc(n: NodeStatus): Doc {
  const base = `${systemUri(n.uuid)}/BIOS`;
  return {
    ...attributesDoc(base, 'BIOS', 'BIOS Configuration Current Settings', n),
    '@Redfish.Settings': {
      '@odata.type': '#Settings.v1_0_0.Settings',
      SettingsObject: { '@odata.id': `${base}/Settings` },
    },
    Actions: {
      '#Bios.ResetBios': { target: `${base}/Actions/Bios.ResetBios` },
      '#Bios.ChangePassword': { target: `${base}/Actions/Bios.ChangePassword` },
    },
  };
}

/** The pending BIOS settings: tenks applies a PATCH at once, so they equal the current ones. */
function biosSettingsDoc(n: NodeStatus): Doc {
  return attributesDoc(`${systemUri(n.uuid)}/BIOS/Settings`, 'Settings', 'BIOS Configuration Pending Settings', n);
}

/** A BIOS Settings PATCH `{"Attributes": {...}}`: merged at once. `BootMode` switches the firmware. */
function parseBiosPatch(body: unknown, n: NodeStatus, uefiAvailable: boolean): FirmwarePatch {
  const b = jsonObject(body, 'PATCH BIOS Settings');
  const attrs = b.Attributes;
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))
    throw new RedfishError(400, 'PATCH BIOS Settings with {"Attributes": {...}}', MessageId.PROPERTY_MISSING);
  const bios: Record<string, string | number | boolean> = {};
  const out: FirmwarePatch = {};
  for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new RedfishError(400, `BIOS attribute ${k} must be a string, number or boolean`, MessageId.PROPERTY_TYPE);
    if (k === 'SecureBootStatus')
      throw new RedfishError(400, 'SecureBootStatus is read-only (PATCH SecureBoot instead)', MessageId.PROPERTY_VALUE);
    if (k === 'BootMode') {
      if (v !== 'Uefi' && v !== 'Bios')
        throw new RedfishError(400, `BootMode ${JSON.stringify(v)} is not one of Uefi, Bios`, MessageId.PROPERTY_VALUE);
      if (v === 'Uefi' && !uefiAvailable)
        throw new RedfishError(400, 'BootMode Uefi: this host has no UEFI firmware', MessageId.PROPERTY_VALUE);
      if (v === 'Bios' && n.arch !== 'x86_64')
        throw new RedfishError(400, `BootMode Bios: an ${n.arch} system has no BIOS`, MessageId.PROPERTY_VALUE);
      if ((v === 'Uefi') !== (n.firmware.bootMode === 'uefi')) out.bootMode = v === 'Uefi' ? 'uefi' : 'bios';
      continue;
    }
    bios[k] = v;
  }
  if (Object.keys(bios).length > 0) out.bios = bios;
  return out;
}

/** `Bios.ChangePassword`: the old `SysPassword` must match. */
async function changePassword(
  body: unknown,
  n: NodeStatus,
  backend: Pick<RedfishBackend, 'setFirmware'>,
): Promise<void> {
  const b = body as { PasswordName?: unknown; OldPassword?: unknown; NewPassword?: unknown } | null;
  if (b?.PasswordName !== 'SysPassword' || typeof b.OldPassword !== 'string' || typeof b.NewPassword !== 'string')
    throw new RedfishError(
      400,
      'ChangePassword needs PasswordName "SysPassword", OldPassword and NewPassword',
      MessageId.ACTION_PARAMETER,
    );
  if (String(biosAttributes(n).SysPassword) !== b.OldPassword)
    throw new RedfishError(400, 'OldPassword does not match', MessageId.ACTION_PARAMETER);
  await backend.setFirmware(n.uuid, { bios: { SysPassword: b.NewPassword } });
}

/** Serves `Systems/<node>/BIOS`, its Settings (PATCH) and its actions ResetBios and ChangePassword. */
export function registerBios(router: RedfishRouter, backend: Pick<RedfishBackend, 'setFirmware'>): void {
  router.nodeResource('Systems', 'BIOS', async (req, view, rest) => {
    const n = view.node;
    const [sub, action] = rest;
    if (sub === undefined) {
      allow('GET,HEAD', req.method);
      return ok(biosDoc(n));
    }
    if (sub === 'Settings' && action === undefined) {
      allow('GET,HEAD,PATCH', req.method);
      const doc = biosSettingsDoc(n);
      if (req.method !== 'PATCH') return ok(doc);
      checkIfMatch(req.headers, doc);
      await backend.setFirmware(n.uuid, parseBiosPatch(await req.body(), n, view.uefiAvailable));
      return noContent;
    }
    if (sub === 'Actions' && action === 'Bios.ResetBios') {
      allow('POST', req.method);
      await backend.setFirmware(n.uuid, { bios: null });
      return noContent;
    }
    if (sub === 'Actions' && action === 'Bios.ChangePassword') {
      allow('POST', req.method);
      await changePassword(await req.body(), n, backend);
      return noContent;
    }
    throw missing(`resource ${systemUri(n.uuid)}/BIOS/${[sub, action].filter(Boolean).join('/')}`);
  });
}
