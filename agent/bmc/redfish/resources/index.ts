/**
 * Every resource of the Redfish service. A new one is a module here that registers its routes
 * (a service below the root, or a resource of each node) and one line below.
 */
import type { Logger } from '../../../../common/index.js';
import type { RedfishBackend } from '../../backend.js';
import type { RedfishRouter } from '../router.js';
import type { SessionStore } from '../sessions.js';
import { registerBios } from './bios.js';
import { registerChassis } from './chassis.js';
import { registerEthernetInterfaces } from './ethernet-interfaces.js';
import { registerManagers } from './managers.js';
import { registerProcessors } from './processors.js';
import { registerSecureBoot } from './secure-boot.js';
import { registerServiceRoot } from './service-root.js';
import { registerSessionService } from './session-service.js';
import { registerSimpleStorage } from './simple-storage.js';
import { registerStorage } from './storage.js';
import { registerSystemReset } from './system-reset.js';
import { registerSystems } from './systems.js';
import { registerVirtualMedia } from './virtual-media.js';

/** What the resources are served from. */
export interface ResourceDeps {
  backend: RedfishBackend;
  sessions: SessionStore;
  log: Logger;
  /** The service's counters. */
  stats: { unauthorised: number };
  /** Identity of the service (the service root's UUID). */
  serviceUuid: string;
  /** Where fetched virtual media images wait, the largest accepted and the deadline of a download. */
  media: { scratchDir: string; maxImageBytes: number; imageTimeoutMs: number };
}

/** Registers every resource with `router`. Collections come before the resources of their members. */
export function registerResources(router: RedfishRouter, deps: ResourceDeps): void {
  const { backend } = deps;
  registerServiceRoot(router, deps.serviceUuid);
  registerSessionService(router, deps);
  registerSystems(router, backend);
  registerManagers(router);
  registerChassis(router, backend);
  registerSystemReset(router, backend);
  registerEthernetInterfaces(router);
  registerProcessors(router);
  registerSimpleStorage(router);
  registerStorage(router);
  registerBios(router, backend);
  registerSecureBoot(router, backend);
  registerVirtualMedia(router, { backend, log: deps.log, ...deps.media });
}
