/** Chassis: the node's enclosure, whose indicator LED a PATCH sets. */
import type { NodeStatus } from '../../../compute/index.js';
import type { RedfishBackend } from '../../backend.js';
import { chassisUri, managerUri, OK, systemUri, type Doc } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, checkIfMatch, noContent, ok } from '../reply.js';
import type { RedfishRouter } from '../router.js';

function chassisDoc(n: NodeStatus): Doc {
  return {
    '@odata.id': chassisUri(n.uuid),
    '@odata.type': '#Chassis.v1_5_0.Chassis',
    Id: n.uuid,
    Name: `${n.name} chassis`,
    ChassisType: 'RackMount',
    IndicatorLED: n.firmware.indicatorLed,
    Status: OK,
    Links: {
      ComputerSystems: [{ '@odata.id': systemUri(n.uuid) }],
      ManagedBy: [{ '@odata.id': managerUri(n.uuid) }],
    },
  };
}

/** Declares the Chassis collection and serves each Chassis (GET, PATCH of `IndicatorLED`). */
export function registerChassis(router: RedfishRouter, backend: Pick<RedfishBackend, 'setFirmware'>): void {
  router.nodeCollection('Chassis', {
    type: 'ChassisCollection',
    unknown: (_view, rest) => `resource on this chassis: ${rest.join('/')}`,
  });
  router.nodeResource('Chassis', '', async (req, view) => {
    allow('GET,HEAD,PATCH', req.method);
    const doc = chassisDoc(view.node);
    if (req.method !== 'PATCH') return ok(doc);
    checkIfMatch(req.headers, doc);
    const led = ((await req.body()) as { IndicatorLED?: unknown } | null)?.IndicatorLED;
    if (led !== 'Lit' && led !== 'Off' && led !== 'Blinking')
      throw new RedfishError(400, 'PATCH a Chassis with IndicatorLED Lit, Off or Blinking', MessageId.PROPERTY_VALUE);
    await backend.setFirmware(view.node.uuid, { indicatorLed: led });
    return noContent;
  });
}
