/** Placement: whether any resource provider has room for one unit of a resource class. */
import { ServiceClient, type ServiceEndpoint } from './service-client.js';
import type { PlacementApi } from './types.js';

/** `GET /resource_providers?resources=` needs placement 1.4. */
export const PLACEMENT_MICROVERSION = '1.4';

/**
 * The Placement class of an Ironic resource class, as Nova names it: `baremetal.gold` →
 * `CUSTOM_BAREMETAL_GOLD`. A name already in that form is kept.
 */
export function placementResourceClass(resourceClass: string): string {
  const upper = resourceClass.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^CUSTOM_[A-Z0-9_]+$/.test(upper) ? upper : `CUSTOM_${upper}`;
}

/** {@link PlacementApi} over Placement's REST API, at {@link PLACEMENT_MICROVERSION}. */
export class PlacementClient implements PlacementApi {
  private readonly http: ServiceClient;

  constructor(at: ServiceEndpoint) {
    const headers = { 'OpenStack-API-Version': `placement ${PLACEMENT_MICROVERSION}` };
    this.http = new ServiceClient({ ...at, service: 'placement', headers });
  }

  /** True when a provider can take one unit of the class (the Ironic resource class or `CUSTOM_...`). */
  async hasInventory(resourceClass: string, signal?: AbortSignal): Promise<boolean> {
    const json = await this.http.get('/resource_providers', {
      query: { resources: `${placementResourceClass(resourceClass)}:1` },
      signal,
    });
    const list = (json as { resource_providers?: unknown } | null)?.resource_providers;
    return Array.isArray(list) && list.length > 0;
  }
}
