/**
 * What the coordinator needs from OpenStack, as interfaces: Ironic (nodes, ports, provision states),
 * Nova (flavors), Placement (inventories) and Glance (image names). The REST adapters implement
 * them; tests may fake them.
 */

/** One JSON Patch operation (RFC 6902), as Ironic takes them. */
export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** An Ironic node, as much of it as tenks reads. */
export interface IronicNode {
  uuid: string;
  name: string | null;
  driver: string;
  driver_info: Record<string, unknown>;
  properties: Record<string, unknown>;
  resource_class: string | null;
  traits: string[];
  provision_state: string;
  target_provision_state: string | null;
  power_state: string | null;
  target_power_state: string | null;
  maintenance: boolean;
  last_error: string | null;
  conductor_group: string;
  shard: string | null;
  extra: Record<string, unknown>;
  /** `<name>_interface` fields (boot_interface, deploy_interface, ...). */
  [iface: `${string}_interface`]: string | null;
}

/** An Ironic port. */
export interface IronicPort {
  uuid: string;
  address: string;
  node_uuid: string;
  physical_network: string | null;
  local_link_connection: Record<string, string>;
  pxe_enabled: boolean;
  extra: Record<string, unknown>;
}

/** The Ironic API (v1), at a negotiated microversion. Every call rejects with a TenksError. */
export interface IronicApi {
  /** Where it is (without `/v1`), for messages. */
  readonly endpoint: string;
  /** The microversion every request sends (the lower of what tenks wants and what the server has). */
  readonly microversion: string;
  /**
   * A cheap check that Ironic can be used: version discovery (UNSUPPORTED when it is too old) and
   * one authenticated read (UNAVAILABLE, PERMISSION), each naming the endpoint.
   */
  probe(signal?: AbortSignal): Promise<void>;
  /** True when the server's API version is at least `v` ("1.82"). */
  supports(v: string): boolean;
  /** Every node (paginated through). */
  listNodes(signal?: AbortSignal): Promise<IronicNode[]>;
  /** A node by UUID or name, or null. */
  getNode(ident: string, signal?: AbortSignal): Promise<IronicNode | null>;
  createNode(body: Record<string, unknown>, signal?: AbortSignal): Promise<IronicNode>;
  patchNode(ident: string, ops: JsonPatchOp[], signal?: AbortSignal): Promise<IronicNode>;
  /** Replaces the node's traits (PUT /v1/nodes/{id}/traits). */
  setTraits(ident: string, traits: string[], signal?: AbortSignal): Promise<void>;
  /** PUT /v1/nodes/{id}/states/provision with `target` (manage, provide, active, deleted, ...). */
  setProvisionState(
    ident: string,
    target: string,
    extra?: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Polls until the node's provision_state is one of `states` and no transition is in progress;
   * rejects (with last_error) when it lands in another stable state or a `* failed` state, or on timeout.
   */
  waitForProvisionState(ident: string, states: string[], timeoutMs: number, signal?: AbortSignal): Promise<IronicNode>;
  setMaintenance(ident: string, on: boolean, reason?: string, signal?: AbortSignal): Promise<void>;
  /** PUT /v1/nodes/{id}/states/power (`power on`, `power off`, `rebooting`, ...). */
  setPowerState(ident: string, target: string, signal?: AbortSignal): Promise<void>;
  deleteNode(ident: string, signal?: AbortSignal): Promise<void>;
  listPorts(nodeUuid: string, signal?: AbortSignal): Promise<IronicPort[]>;
  createPort(body: Record<string, unknown>, signal?: AbortSignal): Promise<IronicPort>;
  patchPort(uuid: string, ops: JsonPatchOp[], signal?: AbortSignal): Promise<IronicPort>;
  deletePort(uuid: string, signal?: AbortSignal): Promise<void>;
}

/** A Nova flavor with its extra specs. */
export interface NovaFlavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  isPublic: boolean;
  extraSpecs: Record<string, string>;
}

/** Nova's flavor API. */
export interface NovaApi {
  /** The compute endpoint, for messages. */
  readonly endpoint: string;
  /**
   * A cheap check that Nova can be used: its API version (UNSUPPORTED when too old) and one
   * authenticated read (UNAVAILABLE, PERMISSION), each naming the endpoint.
   */
  probe(signal?: AbortSignal): Promise<void>;
  /** Every flavor (public and private), with extra specs. */
  listFlavors(signal?: AbortSignal): Promise<NovaFlavor[]>;
  createFlavor(
    f: { name: string; ram: number; vcpus: number; disk: number; isPublic: boolean },
    signal?: AbortSignal,
  ): Promise<NovaFlavor>;
  deleteFlavor(id: string, signal?: AbortSignal): Promise<void>;
  /** Sets (adds or replaces) these extra specs. */
  setExtraSpecs(id: string, specs: Record<string, string>, signal?: AbortSignal): Promise<void>;
  deleteExtraSpec(id: string, key: string, signal?: AbortSignal): Promise<void>;
}

/** Placement: whether any resource provider offers a resource class. */
export interface PlacementApi {
  hasInventory(resourceClass: string, signal?: AbortSignal): Promise<boolean>;
}

/** Glance: an image's UUID by name. */
export interface GlanceApi {
  imageIdByName(name: string, signal?: AbortSignal): Promise<string | null>;
}

/** The services of one cloud; null where the cloud has no such service (not in the catalog, no override). */
export interface OpenStackClients {
  /** Cloud name (clouds.yaml), or `envvars` when from OS_* variables. */
  cloud: string;
  ironic: IronicApi | null;
  nova: NovaApi | null;
  placement: PlacementApi | null;
  glance: GlanceApi | null;
}

/** How the coordinator reaches a cloud by name (null: the default one): null when none is configured anywhere. */
export type OpenStackConnector = (cloud: string | null, signal?: AbortSignal) => Promise<OpenStackClients | null>;
