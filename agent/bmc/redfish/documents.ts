/**
 * What every Redfish document of a node is built from, and the pieces they share. The documents
 * themselves live with their resources (`resources/`); like these, they are pure functions: the
 * router decides who may see them, they only say what they contain.
 */
import type { NodeStatus } from '../../compute/index.js';
import type { RedfishBackend } from '../backend.js';

/** Everything a node's documents are built from. */
export interface NodeView {
  node: NodeStatus;
  power: 'on' | 'off';
  /** UEFI firmware for the node's architecture is installed on the host. */
  uefiAvailable: boolean;
  /** Some of that firmware has Secure Boot. */
  secureBootAvailable: boolean;
}

/** A JSON document. */
export type Doc = Record<string, unknown>;

/** The `Status` of everything tenks reports: there and healthy. */
export const OK = { State: 'Enabled', Health: 'OK' } as const;

/** The view of node `uuid`, as the backend observes it now. */
export async function nodeView(
  backend: Pick<RedfishBackend, 'node' | 'powerState' | 'firmwareFor'>,
  uuid: string,
): Promise<NodeView> {
  const [node, power] = await Promise.all([backend.node(uuid), backend.powerState(uuid)]);
  const firmware = backend.firmwareFor(node.arch);
  return { node, power, uefiAvailable: firmware.uefi, secureBootAvailable: firmware.secureBoot };
}

/** The System URI of a node. */
export function systemUri(uuid: string): string {
  return `/redfish/v1/Systems/${uuid}`;
}

/** The Manager (BMC) URI of a node. */
export function managerUri(uuid: string): string {
  return `/redfish/v1/Managers/${uuid}`;
}

/** The Chassis URI of a node. */
export function chassisUri(uuid: string): string {
  return `/redfish/v1/Chassis/${uuid}`;
}

/** A collection document. */
export function collection(uri: string, type: string, name: string, members: string[]): Doc {
  return {
    '@odata.id': uri,
    '@odata.type': `#${type}.${type}`,
    Name: name,
    Members: members.map((m) => ({ '@odata.id': m })),
    'Members@odata.count': members.length,
  };
}
