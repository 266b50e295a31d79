/** `ComputerSystem.Reset`: the power actions of a System, as Ironic's redfish power interface sends them. */
import type { BmcPowerAction, RedfishBackend } from '../../backend.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, missing, noContent } from '../reply.js';
import { jsonObject } from '../request-body.js';
import type { RedfishRouter } from '../router.js';

/** Reset types the service accepts (what Ironic's redfish power interface sends, and more). */
export const RESET_TYPES = [
  'On',
  'ForceOn',
  'ForceOff',
  'GracefulShutdown',
  'GracefulRestart',
  'ForceRestart',
  'Nmi',
  'PowerCycle',
  'PushPowerButton',
] as const;
/** One of {@link RESET_TYPES}. */
type ResetType = (typeof RESET_TYPES)[number];

/**
 * The power action of a Reset, given the node's power state; null when the node is already where
 * the reset type leads (sushy-tools answers those with 204 and does nothing, as does tenks).
 */
function resetActionOf(body: unknown, power: 'on' | 'off'): BmcPowerAction | null {
  const t = body === null ? undefined : jsonObject(body, 'Reset').ResetType;
  if (t === undefined) throw new RedfishError(400, 'Reset needs a ResetType', MessageId.ACTION_PARAMETER_MISSING);
  if (typeof t !== 'string' || !(RESET_TYPES as readonly string[]).includes(t))
    throw new RedfishError(
      400,
      `ResetType ${JSON.stringify(t)} is not one of ${RESET_TYPES.join(', ')}`,
      MessageId.ACTION_PARAMETER,
    );
  const on = power === 'on';
  switch (t as ResetType) {
    case 'On':
    case 'ForceOn':
      return on ? null : 'on';
    case 'ForceOff':
      return on ? 'off' : null;
    case 'GracefulShutdown':
      return on ? 'soft_off' : null;
    case 'GracefulRestart':
      // libvirt's ACPI reboot needs a guest that listens; a reset reaches every guest.
      return on ? 'reset' : null;
    case 'ForceRestart':
      // Off then on, so the new definition (boot device, firmware) applies, as sushy-tools does.
      return on ? 'cycle' : null;
    case 'PowerCycle':
      return on ? 'cycle' : 'on';
    case 'Nmi':
      return on ? 'nmi' : null;
    case 'PushPowerButton':
      return on ? 'soft_off' : 'on';
  }
}

/** Serves `Systems/<node>/Actions/ComputerSystem.Reset`. */
export function registerSystemReset(router: RedfishRouter, backend: Pick<RedfishBackend, 'power'>): void {
  router.nodeResource('Systems', 'Actions', async (req, view, rest) => {
    const [action, extra] = rest;
    if (action !== 'ComputerSystem.Reset' || extra !== undefined)
      throw missing(`action ${['Actions', ...rest].join('/')}`);
    allow('POST', req.method);
    const power = resetActionOf(await req.body(), view.power);
    if (power) await backend.power(view.node.uuid, power);
    return noContent;
  });
}
