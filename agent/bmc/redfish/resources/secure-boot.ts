/** SecureBoot: UEFI Secure Boot of the node, on or off at the next power-on, and its keys reset to the defaults. */
import { secureBootMachine } from '../../../compute/index.js';
import type { RedfishBackend } from '../../backend.js';
import { systemUri, type Doc, type NodeView } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, checkIfMatch, missing, noContent, ok } from '../reply.js';
import type { RedfishRouter } from '../router.js';

/**
 * Secure Boot is offered where the firmware has it: UEFI nodes on q35 (x86_64) or virt (aarch64)
 * machines, on a host with Secure Boot firmware for their architecture (or already using it).
 */
export function secureBootSupported(v: NodeView): boolean {
  const n = v.node;
  return (
    n.firmware.bootMode === 'uefi' &&
    secureBootMachine(n.arch, n.machine) &&
    (v.secureBootAvailable || n.firmware.secureBoot)
  );
}

function secureBootDoc(v: NodeView): Doc {
  const n = v.node;
  const base = `${systemUri(n.uuid)}/SecureBoot`;
  const enabled = n.firmware.secureBoot;
  return {
    '@odata.id': base,
    '@odata.type': '#SecureBoot.v1_1_0.SecureBoot',
    Id: 'SecureBoot',
    Name: 'UEFI Secure Boot',
    SecureBootEnable: enabled,
    // What the running firmware booted with is the definition it was started from; tenks applies
    // changes at the next power-on, so a running node with a pending change still reports the old state.
    SecureBootCurrentBoot: v.power === 'on' && enabled ? 'Enabled' : 'Disabled',
    SecureBootMode: enabled ? 'DeployedMode' : 'SetupMode',
    Actions: {
      '#SecureBoot.ResetKeys': {
        target: `${base}/Actions/SecureBoot.ResetKeys`,
        'ResetKeysType@Redfish.AllowableValues': ['ResetAllKeysToDefault'],
      },
    },
  };
}

/** Serves `Systems/<node>/SecureBoot` (GET, PATCH) and its action ResetKeys, on nodes that can have it. */
export function registerSecureBoot(router: RedfishRouter, backend: Pick<RedfishBackend, 'setFirmware'>): void {
  router.nodeResource('Systems', 'SecureBoot', async (req, view, rest) => {
    const n = view.node;
    const [sub, action] = rest;
    if (!secureBootSupported(view))
      throw missing(
        `Secure Boot: node '${n.name}' has no UEFI Secure Boot firmware (boot mode ${n.firmware.bootMode}, machine ${n.machine})`,
      );
    if (sub === undefined) {
      allow('GET,HEAD,PATCH', req.method);
      const doc = secureBootDoc(view);
      if (req.method !== 'PATCH') return ok(doc);
      checkIfMatch(req.headers, doc);
      const b = (await req.body()) as Record<string, unknown> | null;
      const keys = Object.keys(b ?? {});
      if (typeof b?.SecureBootEnable !== 'boolean' || keys.length !== 1)
        throw new RedfishError(
          400,
          'PATCH SecureBoot with {"SecureBootEnable": true|false} only',
          MessageId.PROPERTY_VALUE,
        );
      await backend.setFirmware(n.uuid, { secureBoot: b.SecureBootEnable });
      return noContent;
    }
    if (sub === 'Actions' && action === 'SecureBoot.ResetKeys') {
      allow('POST', req.method);
      const t = ((await req.body()) as { ResetKeysType?: unknown } | null)?.ResetKeysType;
      if (t !== 'ResetAllKeysToDefault')
        throw new RedfishError(
          400,
          `ResetKeysType ${JSON.stringify(t)} is not supported (ResetAllKeysToDefault)`,
          MessageId.ACTION_PARAMETER,
        );
      await backend.setFirmware(n.uuid, { resetNvram: true });
      return noContent;
    }
    throw missing(`resource SecureBoot/${[sub, action].filter(Boolean).join('/')}`);
  });
}
