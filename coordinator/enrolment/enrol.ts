/** Carries out an EnrolChange against Ironic, and removes nodes from Ironic. */
import { TenksError, toTenksError } from '../../common/index.js';
import { EXTRA } from '../../common/ironic/index.js';
import type { IronicApi, IronicNode } from '../openstack/index.js';
import { DELETABLE_STATES, type EnrolChange } from './diff.js';

/** How long one provision step may take (manage validates power through the BMC). */
const STEP_TIMEOUT_MS = 5 * 60_000;

const EXPECTED = { manage: 'manageable', provide: 'available' } as const;

/** Ironic's error, with the node named (Ironic's last_error or faultstring is kept). */
function withNode(name: string, e: unknown): TenksError {
  const err = toTenksError(e);
  return new TenksError(err.code, `node ${name}: ${err.message}`, {
    cause: e,
    ...(err.hint ? { hint: err.hint } : {}),
  });
}

/** Applies `c` to node `name` (UUID `uuid`). Writes nothing when there is nothing to change. */
export async function applyEnrolment(
  ironic: IronicApi,
  name: string,
  uuid: string,
  c: EnrolChange,
  signal?: AbortSignal,
): Promise<void> {
  if (c.blocked !== null)
    throw new TenksError('CONFLICT', c.blocked, { hint: 'undeploy it in Ironic, or leave its spec as it is' });
  try {
    if (c.create) {
      const clash = await ironic.getNode(name, signal);
      if (clash && clash.uuid !== uuid)
        throw new TenksError(
          'ALREADY_EXISTS',
          `Ironic already has a node named ${name} (${clash.uuid}) that is not this one (${uuid})`,
          {
            hint: 'rename the node (node_name_prefix) or delete the other Ironic node',
          },
        );
      await ironic.createNode(c.create, signal);
    }
    if (c.patch.length > 0) await ironic.patchNode(uuid, c.patch, signal);
    if (c.traits !== null) await ironic.setTraits(uuid, c.traits, signal);
    for (const p of c.portDeletes) await ironic.deletePort(p.uuid, signal);
    for (const p of c.portPatches) await ironic.patchPort(p.uuid, p.ops, signal);
    for (const p of c.portCreates)
      await ironic.createPort(
        {
          node_uuid: uuid,
          address: p.address,
          physical_network: p.physical_network,
          pxe_enabled: p.pxe_enabled,
          ...(p.local_link_connection ? { local_link_connection: p.local_link_connection } : {}),
        },
        signal,
      );
    for (const step of c.provision) {
      await ironic.setProvisionState(uuid, step, undefined, signal);
      await ironic.waitForProvisionState(uuid, [EXPECTED[step]], STEP_TIMEOUT_MS, signal);
    }
  } catch (e) {
    throw withNode(name, e);
  }
}

/** Whether tenks made this Ironic node for this cluster. */
export function ownedBy(n: IronicNode, cluster: string): boolean {
  return n.extra[EXTRA.cluster] === cluster;
}

/**
 * Deletes a node of `cluster` from Ironic (its ports go with it). A node in a state Ironic does not
 * delete in (active, deploying, ...) is reported, unless `force`: then maintenance mode first.
 * Resolves what was done.
 */
export async function unenrol(
  ironic: IronicApi,
  cluster: string,
  name: string,
  uuid: string,
  force: boolean,
  signal?: AbortSignal,
): Promise<string> {
  try {
    const n = (await ironic.getNode(uuid, signal)) ?? (await ironic.getNode(name, signal));
    if (!n) return 'not in Ironic';
    if (!ownedBy(n, cluster) && n.uuid !== uuid)
      return `Ironic node ${n.uuid} named ${name} is not tenks': left as it is`;
    const busy = !DELETABLE_STATES.has(n.provision_state) || n.target_provision_state !== null;
    if (busy && !n.maintenance) {
      if (!force)
        throw new TenksError(
          'CONFLICT',
          `node ${name} is ${n.provision_state} in Ironic: not deleted (the VM stays too)`,
          { hint: 'undeploy it in Ironic first, or delete with --force' },
        );
      await ironic.setMaintenance(n.uuid, true, 'deleted by tenks (--force)', signal);
    }
    await ironic.deleteNode(n.uuid, signal).catch((e: unknown) => {
      if (!(e instanceof TenksError && e.code === 'NOT_FOUND')) throw e;
    });
    return busy ? `deleted from Ironic (was ${n.provision_state}; --force)` : 'deleted from Ironic';
  } catch (e) {
    throw e instanceof TenksError && e.message.startsWith(`node ${name}`) ? e : withNode(name, e);
  }
}
