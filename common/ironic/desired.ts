/**
 * What a node should look like in Ironic: driver and driver_info (as upstream Tenks sets them),
 * properties (defaults, user values win), resource class, interfaces, traits and one port per NIC
 * with its switch. Pure: the coordinator enrols from it, tenksctl exports from it.
 */
import { createHash } from 'node:crypto';
import type { ClusterSpec, DesiredNode, IronicInterface } from '../spec/index.js';

/** A node's BMC endpoints as its agent reports them, credentials included; null where it serves none. */
export interface BmcFacts {
  ipmi: { address: string; port: number; username: string; password: string } | null;
  redfish: { url: string; systemId: string; username: string; password: string } | null;
}

/** A node NIC as its agent reports it. */
export interface NicFacts {
  mac: string;
  physnet: string;
  /**
   * The switch side, as Ironic's local_link_connection names it: the bridge (switch_info), its MAC
   * (switch_id) and the node's port on it (port_id).
   */
  bridge: string;
  bridgeMac: string;
  switchPort: string;
}

/** What the agent reports of a node that enrolment needs (passwords included). */
export interface NodeFacts {
  uuid: string;
  nics: readonly NicFacts[];
  bmc: BmcFacts;
}

/** One Ironic port. */
export interface DesiredPort {
  address: string;
  physical_network: string;
  local_link_connection: { switch_id: string; switch_info: string; port_id: string } | null;
  pxe_enabled: boolean;
}

/** A node as Ironic should have it. */
export interface DesiredIronicNode {
  name: string;
  uuid: string;
  driver: 'ipmi' | 'redfish';
  driverInfo: Record<string, string | number | boolean>;
  /** driver_info keys whose values Ironic hides ("******") when read back. */
  secretKeys: readonly string[];
  properties: Record<string, string | number | boolean>;
  resourceClass: string;
  interfaces: Partial<Record<IronicInterface, string>>;
  conductorGroup: string | null;
  shard: string | null;
  traits: string[];
  ports: DesiredPort[];
}

/** Marks tenks keeps in a node's `extra`: who owns it, and hashes of what cannot be read back. */
export const EXTRA = {
  cluster: 'tenks_cluster',
  node: 'tenks_node',
  /** Hash of the secret driver_info values last set. */
  secrets: 'tenks_secrets_hash',
  /** Property keys tenks set (so it removes only its own when they go). */
  properties: 'tenks_properties',
} as const;

/** Resolved deploy images (Glance UUIDs, or URLs passed through), or null to leave them to Ironic. */
export interface DeployImages {
  kernel: string | null;
  ramdisk: string | null;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** `host` for a URL (IPv6 in brackets). */
function urlHost(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/** GB rounded up, as Ironic's local_gb (and upstream Tenks) counts. */
function gbUp(bytes: number): number {
  return Math.ceil(bytes / 1e9);
}

/** The root (first) volume's size in GB, rounded up; 0 without volumes. */
export function rootGb(n: DesiredNode): number {
  const v = n.volumes[0];
  return v?.capacityBytes ? gbUp(v.capacityBytes) : 0;
}

/** Hash of secret values (never the values themselves) for `extra`. */
export function secretsHash(values: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 32);
}

/**
 * The Ironic node of a desired node that has `ironic_config`. Addresses: the spec's `ipmi_address`
 * / `redfish_address` when they name a host, else what the agent advertises.
 */
export function desiredIronicNode(
  spec: ClusterSpec,
  n: DesiredNode,
  facts: NodeFacts,
  images: DeployImages,
  hostAddress: { ipmi: string; redfish: string } = { ipmi: spec.ipmi.address, redfish: spec.redfish.address },
): DesiredIronicNode {
  const ic = n.ironicConfig;
  if (!ic) throw new Error(`node ${n.name} has no ironic_config`);
  const driverInfo: Record<string, string | number | boolean> = {};
  const secretKeys: string[] = [];
  if (n.driver === 'ipmi') {
    const ep = facts.bmc.ipmi;
    if (!ep) throw new Error(`node ${n.name} has no IPMI endpoint`);
    driverInfo.ipmi_address = WILDCARDS.has(hostAddress.ipmi) ? ep.address : hostAddress.ipmi;
    driverInfo.ipmi_port = ep.port;
    driverInfo.ipmi_username = ep.username;
    driverInfo.ipmi_password = ep.password;
    secretKeys.push('ipmi_password');
  } else {
    const ep = facts.bmc.redfish;
    if (!ep) throw new Error(`node ${n.name} has no Redfish endpoint`);
    let address = ep.url;
    if (!WILDCARDS.has(hostAddress.redfish)) {
      const u = new URL(ep.url);
      address = `${u.protocol}//${urlHost(hostAddress.redfish)}:${u.port}`;
    }
    driverInfo.redfish_address = address;
    driverInfo.redfish_system_id = ep.systemId;
    driverInfo.redfish_username = ep.username;
    driverInfo.redfish_password = ep.password;
    if (spec.redfishVerifyCa !== null) driverInfo.redfish_verify_ca = spec.redfishVerifyCa;
    secretKeys.push('redfish_password');
  }
  if (images.kernel !== null) driverInfo.deploy_kernel = images.kernel;
  if (images.ramdisk !== null) driverInfo.deploy_ramdisk = images.ramdisk;
  const properties: Record<string, string | number | boolean> = {
    cpus: n.vcpus,
    memory_mb: n.memoryMb,
    local_gb: rootGb(n),
    cpu_arch: n.arch,
    capabilities: `boot_mode:${n.bootMode}`,
    ...ic.properties,
  };
  const ports: DesiredPort[] = n.physnets.map((physnet, i) => {
    const nic = facts.nics[i];
    const mac = nic?.mac ?? '';
    return {
      address: mac,
      physical_network: physnet,
      // networking-generic-switch finds the switch by switch_info and the port by port_id.
      local_link_connection:
        nic && nic.switchPort !== ''
          ? { switch_id: nic.bridgeMac, switch_info: nic.bridge, port_id: nic.switchPort }
          : null,
      pxe_enabled: true,
    };
  });
  return {
    name: n.name,
    uuid: facts.uuid,
    driver: n.driver,
    driverInfo,
    secretKeys,
    properties,
    resourceClass: ic.resourceClass,
    interfaces: { ...ic.interfaces },
    conductorGroup: ic.conductorGroup,
    shard: ic.shard,
    traits: [...ic.traits].sort(),
    ports: ports.filter((p) => p.address !== ''),
  };
}

/** The body of Ironic's node create (and of `baremetal create` files). */
export function createBody(d: DesiredIronicNode, cluster: string): Record<string, unknown> {
  return {
    name: d.name,
    uuid: d.uuid,
    driver: d.driver,
    driver_info: d.driverInfo,
    properties: d.properties,
    resource_class: d.resourceClass,
    ...Object.fromEntries(Object.entries(d.interfaces).map(([k, v]) => [`${k}_interface`, v])),
    ...(d.conductorGroup !== null ? { conductor_group: d.conductorGroup } : {}),
    ...(d.shard !== null ? { shard: d.shard } : {}),
    extra: {
      [EXTRA.cluster]: cluster,
      [EXTRA.node]: d.name,
      [EXTRA.secrets]: secretsHash(d.secretKeys.map((k) => String(d.driverInfo[k] ?? ''))),
      [EXTRA.properties]: Object.keys(d.properties).sort().join(','),
    },
  };
}
