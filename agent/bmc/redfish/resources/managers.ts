/** Managers: the node's BMC. Its virtual media is the System's (one collection, linked from both). */
import type { NodeStatus } from '../../../compute/index.js';
import { chassisUri, managerUri, OK, systemUri, type Doc } from '../documents.js';
import { allow, ok } from '../reply.js';
import type { RedfishRouter } from '../router.js';

function managerDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': managerUri(n.uuid),
    '@odata.type': '#Manager.v1_5_0.Manager',
    Id: n.uuid,
    Name: `${n.name}-Manager`,
    UUID: n.uuid,
    ManagerType: 'BMC',
    Model: 'tenks emulated BMC',
    FirmwareVersion: '1.00',
    PowerState: 'On',
    Status: OK,
    DateTime: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    DateTimeLocalOffset: '+00:00',
    VirtualMedia: { '@odata.id': `${systemUri(n.uuid)}/VirtualMedia` },
    Links: {
      ManagerForServers: [{ '@odata.id': systemUri(n.uuid) }],
      ManagerForChassis: [{ '@odata.id': chassisUri(n.uuid) }],
    },
  };
}

/** Declares the Managers collection and serves each Manager (GET). */
export function registerManagers(router: RedfishRouter): void {
  router.nodeCollection('Managers', {
    type: 'ManagerCollection',
    unknown: (_view, rest) => `resource on this manager: ${rest.join('/')}`,
  });
  router.nodeResource('Managers', '', (req, view) => {
    allow('GET,HEAD', req.method);
    return ok(managerDoc(view.node));
  });
}
