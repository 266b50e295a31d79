/** Glance v2: an image's id by name (or by id, when given one). */
import { TenksError } from '../../common/index.js';
import { ServiceClient, type ServiceEndpoint } from './service-client.js';
import type { GlanceApi } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** {@link GlanceApi} over Glance's REST API. */
export class GlanceClient implements GlanceApi {
  private readonly http: ServiceClient;

  /** At the image endpoint (`http://glance:9292`, with or without `/v2`). */
  constructor(at: ServiceEndpoint) {
    const endpoint = at.endpoint.replace(/\/+$/, '').replace(/\/v2$/, '');
    this.http = new ServiceClient({ ...at, service: 'glance', endpoint });
  }

  /**
   * The id of the image named `name`; `name` may also be an image id (as deploy_kernel may be).
   * Null when there is none; CONFLICT when several images have that name.
   */
  async imageIdByName(name: string, signal?: AbortSignal): Promise<string | null> {
    if (UUID.test(name)) {
      const res = await this.http.request('GET', `/v2/images/${encodeURIComponent(name)}`, { signal, ok: [200, 404] });
      if (res.status === 200) return name;
    }
    const json = await this.http.get('/v2/images', { query: { name, limit: 2 }, signal });
    const images = (json as { images?: unknown } | null)?.images;
    const ids = (Array.isArray(images) ? (images as unknown[]) : [])
      .map((i) => (i as { id?: unknown } | null)?.id)
      .filter((id): id is string => typeof id === 'string');
    if (ids.length > 1) {
      throw new TenksError('CONFLICT', `glance at ${this.http.endpoint}: several images are named '${name}'`, {
        hint: 'name the image by its id, or rename the others',
      });
    }
    return ids[0] ?? null;
  }
}
