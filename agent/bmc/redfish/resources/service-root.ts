/** The service root, `/redfish/v1`: open to all, links to everything else. */
import type { Doc } from '../documents.js';
import { allow, ok } from '../reply.js';
import type { RedfishRouter } from '../router.js';

/** The service root document; `uuid` is the service's identity. */
function serviceRootDoc(uuid: string): Doc {
  return {
    '@odata.id': '/redfish/v1/',
    '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
    Id: 'RootService',
    Name: 'tenks Redfish service',
    RedfishVersion: '1.8.0',
    UUID: uuid,
    Systems: { '@odata.id': '/redfish/v1/Systems' },
    Managers: { '@odata.id': '/redfish/v1/Managers' },
    Chassis: { '@odata.id': '/redfish/v1/Chassis' },
    SessionService: { '@odata.id': '/redfish/v1/SessionService' },
    Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
  };
}

/** Serves the service root of the service `serviceUuid`, without credentials. */
export function registerServiceRoot(router: RedfishRouter, serviceUuid: string): void {
  router.anonymous(
    '',
    () => true,
    (req) => {
      allow('GET,HEAD', req.method);
      return ok(serviceRootDoc(serviceUuid));
    },
  );
}
