/**
 * The enrolment stage of apply and delete: Ironic nodes and Nova flavors for the specs that have
 * `ironic_config` (skipped otherwise, as upstream). Nodes leaving the cluster leave Ironic before
 * their VM; teardown deletes flavors, then Ironic nodes, then VMs (as upstream).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError, TenksError, toTenksError, type Logger } from '../../common/index.js';
import { desiredIronicNode, type DeployImages, type NodeFacts } from '../../common/ironic/index.js';
import { hostSettings, type ClusterSpec, type DesiredNode } from '../../common/spec/index.js';
import { bmcFor, type Action, type ObservedNode } from '../planner/index.js';
import type { IronicApi, IronicNode, OpenStackClients } from '../openstack/types.js';
import { resultOf } from '../executor/index.js';
import type { ResultRecord } from '../state/records.js';
import { diffEnrolment, isNoop, type EnrolChange } from './diff.js';
import { applyEnrolment, ownedBy, unenrol } from './enrol.js';
import { applyFlavorChange, customResourceClass, describeFlavorChange, diffFlavors, ownedFlavors } from './flavors.js';

/** What the stage reports through (the runner's progress sink). */
export interface StageProgress {
  started: (a: Action) => void;
  failed: (a: Action, e: TenksError, retrying: boolean) => void;
  done: (r: ResultRecord) => void;
  warn: (w: string) => void;
}

/** Ironic node in flight at once. */
const CONCURRENCY = 8;

/** How long wait_for_placement waits. */
const PLACEMENT_WAIT_MS = 10 * 60_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs one step: started, then done with the changes `work` resolves, or failed and done. */
async function step(a: Action, progress: StageProgress, work: () => Promise<string[]>): Promise<void> {
  progress.started(a);
  try {
    progress.done(resultOf(a, true, await work(), null));
  } catch (e) {
    const err = toTenksError(e);
    progress.failed(a, err, false);
    progress.done(resultOf(a, false, [], err));
  }
}

/** The failed result of the whole flavor step (Nova could not be listed). */
function flavorsFailed(progress: StageProgress, e: unknown): void {
  const a: Action = { kind: 'flavor', agent: '', name: 'nova_flavors', changes: [] };
  progress.done(resultOf(a, false, [], toTenksError(e)));
}

/** deploy_kernel / deploy_ramdisk: URLs and UUIDs as they are, Glance names resolved. */
export async function resolveImages(
  spec: ClusterSpec,
  os: OpenStackClients,
  signal?: AbortSignal,
): Promise<DeployImages> {
  const one = async (v: string | null, field: string): Promise<string | null> => {
    if (v === null || /^(https?|file):\/\//.test(v) || UUID.test(v)) return v;
    if (!os.glance)
      throw new TenksError(
        'INVALID_SPEC',
        `${field} '${v}' is neither a URL nor a UUID, and cloud ${os.cloud} has no image service to look the name up in`,
        {
          field,
        },
      );
    const id = await os.glance.imageIdByName(v, signal);
    if (id === null) throw new TenksError('NOT_FOUND', `${field}: no image named '${v}' in Glance`, { field });
    return id;
  };
  return {
    kernel: await one(spec.deployKernel, 'deploy_kernel'),
    ramdisk: await one(spec.deployRamdisk, 'deploy_ramdisk'),
  };
}

/** What enrolment needs of a node, from what its agent reported and the spec's credentials. */
export function factsOf(spec: ClusterSpec, n: DesiredNode, o: ObservedNode): NodeFacts {
  const creds = n.driver === 'ipmi' ? spec.ipmi : spec.redfish;
  const { ipmi, redfish } = bmcFor(n.driver);
  return {
    uuid: o.uuid,
    nics: o.nics,
    bmc: {
      ipmi: ipmi && o.bmc.ipmi ? { ...o.bmc.ipmi, password: creds.password } : null,
      redfish: redfish && o.bmc.redfish ? { ...o.bmc.redfish, password: creds.password } : null,
    },
  };
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) {
        const x = items[i++] as T;
        await f(x);
      }
    }),
  );
}

/** The cluster's nodes in Ironic (by tenks' mark) and every node by UUID. */
async function ironicNodes(ironic: IronicApi, signal?: AbortSignal): Promise<Map<string, IronicNode>> {
  return new Map((await ironic.listNodes(signal)).map((n) => [n.uuid, n]));
}

/** Enrolment changes for every desired node with `ironic_config`, given what the agents report. */
export async function planEnrolment(
  spec: ClusterSpec,
  desired: readonly DesiredNode[],
  observed: ReadonlyMap<string, ObservedNode>,
  os: OpenStackClients,
  signal?: AbortSignal,
): Promise<{ node: DesiredNode; agent: string; uuid: string; change: EnrolChange }[]> {
  const ironic = os.ironic;
  if (!ironic) throw new TenksError('UNAVAILABLE', `cloud ${os.cloud} has no baremetal (Ironic) service`);
  const images = await resolveImages(spec, os, signal);
  const current = await ironicNodes(ironic, signal);
  const out: { node: DesiredNode; agent: string; uuid: string; change: EnrolChange }[] = [];
  await pool(
    desired.filter((n) => n.ironicConfig !== null),
    CONCURRENCY,
    async (n) => {
      const o = observed.get(n.name);
      if (!o) return;
      const settings = hostSettings(spec, o.agent);
      const d = desiredIronicNode(spec, n, factsOf(spec, n, o), images, {
        ipmi: settings.ipmiAddress,
        redfish: settings.redfishAddress,
      });
      // firmware_interface came with API 1.86; older servers refuse the field outright.
      if (d.interfaces.firmware !== undefined && !ironic.supports('1.86')) delete d.interfaces.firmware;
      const cur = current.get(o.uuid) ?? null;
      const ports = cur ? await ironic.listPorts(cur.uuid, signal) : [];
      const change = diffEnrolment(
        d,
        spec.name,
        cur ? { node: cur, ports } : null,
        spec.ironicTargetState,
        ironic.supports('1.82'),
      );
      out.push({ node: n, agent: o.agent, uuid: o.uuid, change });
    },
  );
  return out.sort((a, b) => (a.node.name < b.node.name ? -1 : 1));
}

/** The stage of an apply after the nodes exist: enrol them, then the flavors, then wait for Placement. */
export async function enrolCluster(
  spec: ClusterSpec,
  desired: readonly DesiredNode[],
  observed: ReadonlyMap<string, ObservedNode>,
  os: OpenStackClients,
  progress: StageProgress,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const ironic = os.ironic;
  let planned: Awaited<ReturnType<typeof planEnrolment>> = [];
  if (desired.some((n) => n.ironicConfig !== null)) {
    try {
      planned = await planEnrolment(spec, desired, observed, os, signal);
    } catch (e) {
      // Nothing could be planned (cloud down, bad credentials): every node's enrolment fails, clearly.
      const err = toTenksError(e);
      for (const n of desired.filter((x) => x.ironicConfig !== null)) {
        const a: Action = { kind: 'enrol', agent: observed.get(n.name)?.agent ?? '', name: n.name, changes: [] };
        progress.failed(a, err, false);
        progress.done(resultOf(a, false, [], err));
      }
      return;
    }
  }
  if (ironic)
    await pool(
      planned.filter((p) => !isNoop(p.change)),
      CONCURRENCY,
      async (p) => {
        const a: Action = { kind: 'enrol', agent: p.agent, name: p.node.name, changes: p.change.changes };
        await step(a, progress, async () => {
          await applyEnrolment(ironic, p.node.name, p.uuid, p.change, signal);
          return p.change.changes;
        });
      },
    );
  await syncFlavors(spec, os, progress, signal);
  if (spec.waitForPlacement && spec.novaFlavors.length > 0) {
    if (!os.placement) {
      progress.warn(`wait_for_placement: cloud ${os.cloud} has no placement service in its catalog; not waiting`);
      return;
    }
    const classes = [...new Set(spec.novaFlavors.map((f) => customResourceClass(f.resourceClass)))];
    const end = Date.now() + PLACEMENT_WAIT_MS;
    for (const rc of classes) {
      while (!(await os.placement.hasInventory(rc, signal))) {
        if (Date.now() > end) {
          progress.warn(
            `wait_for_placement: no resource provider offers ${rc} after ${PLACEMENT_WAIT_MS / 60_000} min`,
          );
          break;
        }
        await sleep(5_000, undefined, { signal }).catch(() => {
          throw abortError(signal);
        });
      }
      log.info('placement has the inventory', { resourceClass: rc });
    }
  }
}

/** Brings the cluster's flavors to the spec (CONFLICT on a name held by someone else's flavor). */
export async function syncFlavors(
  spec: ClusterSpec,
  os: OpenStackClients,
  progress: StageProgress,
  signal: AbortSignal,
): Promise<void> {
  if (spec.novaFlavors.length === 0 && !os.nova) return;
  if (!os.nova) {
    const err = new TenksError('UNAVAILABLE', `cloud ${os.cloud} has no compute (Nova) service for nova_flavors`);
    for (const f of spec.novaFlavors)
      progress.done(resultOf({ kind: 'flavor', agent: '', name: f.name, changes: [] }, false, [], err));
    return;
  }
  const nova = os.nova;
  let changes;
  try {
    changes = diffFlavors(spec, await nova.listFlavors(signal));
  } catch (e) {
    flavorsFailed(progress, e);
    return;
  }
  for (const c of changes) {
    const name = c.kind === 'delete' ? c.old.name : c.want.name;
    const line = describeFlavorChange(c);
    const a: Action = { kind: 'flavor', agent: '', name, changes: [line] };
    await step(a, progress, async () => {
      await applyFlavorChange(nova, c, signal);
      return [line];
    });
  }
}

/**
 * Removes nodes from Ironic before their VMs go. Resolves the names that are out of Ironic (or were
 * never in it): only those may have their VMs deleted.
 */
export async function unenrolNodes(
  cluster: string,
  nodes: readonly { name: string; uuid: string; agent: string }[],
  os: OpenStackClients,
  force: boolean,
  progress: StageProgress,
  signal: AbortSignal,
): Promise<Set<string>> {
  const gone = new Set<string>();
  const ironic = os.ironic;
  if (!ironic) {
    for (const n of nodes) gone.add(n.name);
    return gone;
  }
  let current: Map<string, IronicNode>;
  try {
    current = await ironicNodes(ironic, signal);
  } catch (e) {
    const err = toTenksError(e);
    for (const n of nodes)
      progress.done(resultOf({ kind: 'unenrol', agent: n.agent, name: n.name, changes: [] }, false, [], err));
    return gone;
  }
  const byName = new Map(
    [...current.values()].filter((x) => ownedBy(x, cluster) && x.name !== null).map((x) => [x.name, x]),
  );
  await pool(nodes, CONCURRENCY, async (n) => {
    if (!current.has(n.uuid) && !byName.has(n.name)) {
      gone.add(n.name);
      return;
    }
    const a: Action = { kind: 'unenrol', agent: n.agent, name: n.name, changes: ['deleted from Ironic'] };
    await step(a, progress, async () => {
      const what = await unenrol(ironic, cluster, n.name, n.uuid, force, signal);
      gone.add(n.name);
      return [what];
    });
  });
  return gone;
}

/** Deletes the cluster's flavors (teardown starts with them). */
export async function deleteFlavors(
  cluster: string,
  os: OpenStackClients,
  progress: StageProgress,
  signal: AbortSignal,
): Promise<void> {
  if (!os.nova) return;
  const nova = os.nova;
  let mine;
  try {
    mine = ownedFlavors(cluster, await nova.listFlavors(signal));
  } catch (e) {
    flavorsFailed(progress, e);
    return;
  }
  for (const f of mine) {
    const a: Action = { kind: 'flavor', agent: '', name: f.name, changes: [`flavor ${f.name}: deleted`] };
    await step(a, progress, async () => {
      await nova.deleteFlavor(f.id, signal);
      return a.changes;
    });
  }
}

/** The cluster's nodes in Ironic (tenks' mark), for delete and teardown. */
export async function enrolledNodes(
  cluster: string,
  os: OpenStackClients,
  signal?: AbortSignal,
): Promise<IronicNode[]> {
  if (!os.ironic) return [];
  return (await os.ironic.listNodes(signal)).filter((n) => ownedBy(n, cluster));
}
