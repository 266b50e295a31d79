import type { DomainEvent } from './hypervisor.js';
import type { PowerState } from './types.js';

/** The power state a domain is in after a lifecycle event; events that do not tell it are absent. */
export const POWER_AFTER_EVENT: Partial<Record<DomainEvent['type'], PowerState>> = {
  started: 'on',
  resumed: 'on',
  stopped: 'off',
  suspended: 'paused',
  crashed: 'crashed',
  shutdown: 'shutting_down',
};
