/**
 * What has to change in Ironic for a node to be as desired: created, patched field by field (only
 * what differs), traits, ports by MAC, and provision state steps. Pure, so a re-apply of an
 * unchanged spec provably writes nothing.
 */
import { EXTRA, secretsHash, type DesiredIronicNode, type DesiredPort } from '../../common/ironic/index.js';
import { createBody } from '../../common/ironic/index.js';
import type { IronicNode, IronicPort, JsonPatchOp } from '../openstack/index.js';

/** Provision states tenks may bring a node to. */
export type TargetState = 'enroll' | 'manageable' | 'available';

/** Provision states in which tenks changes a node. Anything else (active, deploying, ...) is the user's. */
export const CHANGEABLE_STATES: ReadonlySet<string> = new Set(['enroll', 'manageable', 'available']);

/** States Ironic deletes a node in without maintenance mode. */
export const DELETABLE_STATES: ReadonlySet<string> = new Set(['enroll', 'manageable', 'available', 'adopt failed']);

/** A node in Ironic with its ports. */
export interface IronicState {
  node: IronicNode;
  ports: IronicPort[];
}

/** What to do for one node. */
export interface EnrolChange {
  /** Create body when the node is not in Ironic. */
  create: Record<string, unknown> | null;
  patch: JsonPatchOp[];
  /** The traits to set, when they differ. */
  traits: string[] | null;
  portCreates: DesiredPort[];
  portPatches: { uuid: string; address: string; ops: JsonPatchOp[] }[];
  portDeletes: { uuid: string; address: string }[];
  /** Provision state targets to request, in order (`manage`, `provide`). */
  provision: ('manage' | 'provide')[];
  /** One line per change, for plans and results (no secrets). */
  changes: string[];
  /** Why the node cannot be changed now (its provision state), or null. */
  blocked: string | null;
}

/** True when the change does nothing. */
export function isNoop(c: EnrolChange): boolean {
  return (
    c.create === null &&
    c.patch.length === 0 &&
    c.traits === null &&
    c.portCreates.length === 0 &&
    c.portPatches.length === 0 &&
    c.portDeletes.length === 0 &&
    c.provision.length === 0
  );
}

/** A JSON value as text, for comparisons and change lines (Ironic may return "6230" for 6230). */
function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const same = (a: unknown, b: unknown): boolean => a === b || (a != null && b != null && text(a) === text(b));

function provisionSteps(from: string, target: TargetState): ('manage' | 'provide')[] {
  if (from === 'enroll') return target === 'enroll' ? [] : target === 'manageable' ? ['manage'] : ['manage', 'provide'];
  if (from === 'manageable') return target === 'available' ? ['provide'] : [];
  return [];
}

function llcEqual(a: DesiredPort['local_link_connection'], b: Record<string, string> | undefined): boolean {
  if (a === null) return b === undefined || Object.keys(b).length === 0;
  return (
    b?.switch_id?.toLowerCase() === a.switch_id.toLowerCase() &&
    b.switch_info === a.switch_info &&
    b.port_id === a.port_id
  );
}

function portsDiff(d: DesiredIronicNode, have: IronicPort[], out: EnrolChange): void {
  const byMac = new Map(have.map((p) => [p.address.toLowerCase(), p]));
  const wanted = new Set(d.ports.map((p) => p.address.toLowerCase()));
  for (const p of d.ports) {
    const cur = byMac.get(p.address.toLowerCase());
    if (!cur) {
      out.portCreates.push(p);
      out.changes.push(`port ${p.address}: created (${p.physical_network})`);
      continue;
    }
    const ops: JsonPatchOp[] = [];
    if (cur.physical_network !== p.physical_network)
      ops.push({ op: 'add', path: '/physical_network', value: p.physical_network });
    if (!llcEqual(p.local_link_connection, cur.local_link_connection))
      ops.push({ op: 'add', path: '/local_link_connection', value: p.local_link_connection ?? {} });
    if (cur.pxe_enabled !== p.pxe_enabled) ops.push({ op: 'add', path: '/pxe_enabled', value: p.pxe_enabled });
    if (ops.length > 0) {
      out.portPatches.push({ uuid: cur.uuid, address: p.address, ops });
      out.changes.push(`port ${p.address}: ${ops.map((o) => o.path.slice(1)).join(', ')} updated`);
    }
  }
  for (const p of have)
    if (!wanted.has(p.address.toLowerCase())) {
      out.portDeletes.push({ uuid: p.uuid, address: p.address });
      out.changes.push(`port ${p.address}: deleted`);
    }
}

/**
 * The change that makes Ironic's node `cur` (null: absent) the desired one. `supportsShard`: the
 * server's API has node shards (1.82).
 */
export function diffEnrolment(
  d: DesiredIronicNode,
  cluster: string,
  cur: IronicState | null,
  target: TargetState,
  supportsShard: boolean,
): EnrolChange {
  const out: EnrolChange = {
    create: null,
    patch: [],
    traits: null,
    portCreates: [],
    portPatches: [],
    portDeletes: [],
    provision: [],
    changes: [],
    blocked: null,
  };
  if (!cur) {
    const body = createBody(d, cluster);
    if (!supportsShard) delete body.shard;
    out.create = body;
    out.changes.push(`created in Ironic (${d.driver}, resource class ${d.resourceClass})`);
    if (d.traits.length > 0) {
      out.traits = d.traits;
      out.changes.push(`traits: ${d.traits.join(', ')}`);
    }
    out.portCreates = [...d.ports];
    if (d.ports.length > 0) out.changes.push(`${d.ports.length} port(s) created`);
    out.provision = provisionSteps('enroll', target);
    if (out.provision.length > 0) out.changes.push(`provision: ${out.provision.join(' + ')}`);
    return out;
  }
  const n = cur.node;
  const add = (path: string, value: unknown, what: string): void => {
    out.patch.push({ op: 'add', path, value });
    out.changes.push(what);
  };
  if (n.name !== d.name) add('/name', d.name, `name: ${n.name ?? ''} -> ${d.name}`);
  if (n.driver !== d.driver) add('/driver', d.driver, `driver: ${n.driver} -> ${d.driver}`);
  const secret = new Set(d.secretKeys);
  for (const [k, v] of Object.entries(d.driverInfo)) {
    if (secret.has(k)) continue;
    if (!same(n.driver_info[k], v))
      add(`/driver_info/${k}`, v, `driver_info.${k}: ${text(n.driver_info[k])} -> ${text(v)}`);
  }
  const secrets = secretsHash(d.secretKeys.map((k) => String(d.driverInfo[k] ?? '')));
  if (n.extra[EXTRA.secrets] !== secrets || n.driver !== d.driver) {
    // Ironic hides passwords when read back: a hash in `extra` tells whether they changed.
    for (const k of d.secretKeys) out.patch.push({ op: 'add', path: `/driver_info/${k}`, value: d.driverInfo[k] });
    out.patch.push({ op: 'add', path: `/extra/${EXTRA.secrets}`, value: secrets });
    out.changes.push(`driver_info: ${d.secretKeys.join(', ')} set`);
  }
  for (const [k, v] of Object.entries(d.properties))
    if (!same(n.properties[k], v))
      add(`/properties/${k}`, v, `properties.${k}: ${text(n.properties[k])} -> ${text(v)}`);
  const mine = text(n.extra[EXTRA.properties])
    .split(',')
    .filter((k) => k !== '');
  for (const k of mine)
    if (!(k in d.properties) && k in n.properties) {
      out.patch.push({ op: 'remove', path: `/properties/${k}` });
      out.changes.push(`properties.${k}: removed`);
    }
  const propKeys = Object.keys(d.properties).sort().join(',');
  if (n.extra[EXTRA.properties] !== propKeys)
    out.patch.push({ op: 'add', path: `/extra/${EXTRA.properties}`, value: propKeys });
  if (n.extra[EXTRA.cluster] !== cluster)
    out.patch.push({ op: 'add', path: `/extra/${EXTRA.cluster}`, value: cluster });
  if (n.extra[EXTRA.node] !== d.name) out.patch.push({ op: 'add', path: `/extra/${EXTRA.node}`, value: d.name });
  if (n.resource_class !== d.resourceClass)
    add('/resource_class', d.resourceClass, `resource_class: ${n.resource_class ?? ''} -> ${d.resourceClass}`);
  for (const [iface, v] of Object.entries(d.interfaces)) {
    const key = `${iface}_interface` as const;
    if (n[key] !== v) add(`/${key}`, v, `${key}: ${n[key] ?? ''} -> ${v}`);
  }
  if (d.conductorGroup !== null && n.conductor_group !== d.conductorGroup)
    add('/conductor_group', d.conductorGroup, `conductor_group: ${n.conductor_group} -> ${d.conductorGroup}`);
  if (supportsShard && d.shard !== null && n.shard !== d.shard)
    add('/shard', d.shard, `shard: ${n.shard ?? ''} -> ${d.shard}`);
  const traits = [...n.traits].sort();
  if (traits.join(',') !== d.traits.join(',')) {
    out.traits = d.traits;
    out.changes.push(`traits: [${traits.join(', ')}] -> [${d.traits.join(', ')}]`);
  }
  portsDiff(d, cur.ports, out);
  out.provision = provisionSteps(n.provision_state, target);
  if (out.provision.length > 0) out.changes.push(`provision: ${n.provision_state} -> ${out.provision.join(' + ')}`);
  // Only the bookkeeping marks in `extra` differ: write them, but do not report a change.
  const visible = out.changes.length > 0;
  if (!visible && out.patch.length > 0) out.changes.push('tenks marks updated');
  if (!CHANGEABLE_STATES.has(n.provision_state) || n.target_provision_state !== null) {
    if (!isNoop(out))
      out.blocked = `node ${d.name} is ${n.provision_state}${n.target_provision_state ? ` (to ${n.target_provision_state})` : ''} in Ironic: tenks leaves it as it is`;
  }
  return out;
}
