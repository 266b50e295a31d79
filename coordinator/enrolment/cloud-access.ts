/**
 * Whether a spec's cloud can be used, asked before apply touches any host (and by plan, delete and
 * teardown): configured, reachable, authorised and new enough, for Ironic when the spec enrols
 * nodes and for Nova when it wants flavors. One cheap call per service (version discovery and a
 * one-item list), all within one deadline.
 */
import { TenksError, untilAborted } from '../../common/index.js';
import type { ClusterSpec } from '../../common/spec/index.js';
import type { OpenStackClients, OpenStackConnector } from '../openstack/index.js';

/** The services of its cloud a spec uses. */
export interface CloudNeeds {
  /** Nodes with `ironic_config`. */
  ironic: boolean;
  /** `nova_flavors`. */
  nova: boolean;
}

/** What a spec needs of its cloud. */
export function cloudNeeds(spec: ClusterSpec): CloudNeeds {
  return {
    ironic: spec.specs.some((s) => s.ironicConfig !== null && s.count > 0),
    nova: spec.novaFlavors.length > 0,
  };
}

/** True when a spec enrols anything (nodes with ironic_config, or flavors). */
export function wantsOpenStack(spec: ClusterSpec): boolean {
  const needs = cloudNeeds(spec);
  return needs.ironic || needs.nova;
}

/** Where a cloud is chosen, for hints. */
const CLOUD_SETTINGS =
  'set cloud in the spec, openstack.cloud in the coordinator config, or OS_CLOUD / OS_* for the coordinator';

/** How each service a spec may need is named in messages, and where its endpoint comes from. */
const SERVICES = {
  ironic: {
    use: 'enrols nodes (ironic_config)',
    kind: 'baremetal (Ironic)',
    product: 'Ironic',
    override: 'baremetal_endpoint_override',
  },
  nova: {
    use: 'wants flavors (nova_flavors)',
    kind: 'compute (Nova)',
    product: 'Nova',
    override: 'compute_endpoint_override',
  },
} as const satisfies Record<keyof CloudNeeds, unknown>;

function purpose(needs: CloudNeeds): string {
  const parts = [needs.ironic ? SERVICES.ironic.use : null, needs.nova ? SERVICES.nova.use : null];
  return parts.filter((p) => p !== null).join(' and ');
}

/**
 * The spec's cloud, checked: INVALID_SPEC naming `cloud` when none is configured or it lacks a
 * service the spec needs; UNAVAILABLE (naming the endpoint) when a service does not answer within
 * `timeoutMs` in all; PERMISSION when the credentials are refused; UNSUPPORTED (naming the versions
 * needed and offered) when a service is too old.
 */
export async function checkCloudAccess(
  connect: OpenStackConnector | undefined,
  spec: ClusterSpec,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<OpenStackClients> {
  const needs = cloudNeeds(spec);
  let waitingFor = spec.cloud === null ? 'the default cloud' : `cloud ${spec.cloud}`;
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort(
      new TenksError('UNAVAILABLE', `no answer from ${waitingFor} within ${timeoutMs / 1000} s`, {
        hint: 'is it up and reachable from the coordinator? (openstack.timeout_s sets how long tenks waits)',
      }),
    );
  }, timeoutMs);
  const bounded = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  try {
    const os = connect ? await untilAborted(connect(spec.cloud, bounded), bounded) : null;
    if (!os)
      throw new TenksError('INVALID_SPEC', `cluster ${spec.name} ${purpose(needs)} but no cloud is configured`, {
        field: 'cloud',
        hint: CLOUD_SETTINGS,
      });
    // Ironic first, then Nova: one cheap authenticated call each.
    for (const name of ['ironic', 'nova'] as const) {
      if (!needs[name]) continue;
      const api = os[name];
      const s = SERVICES[name];
      if (!api)
        throw new TenksError(
          'INVALID_SPEC',
          `cluster ${spec.name} ${s.use} but cloud ${os.cloud} has no ${s.kind} endpoint`,
          {
            field: 'cloud',
            hint: `put ${s.product} in the catalog of ${os.cloud}, or give it ${s.override}`,
          },
        );
      waitingFor = `${name} at ${api.endpoint}`;
      await untilAborted(api.probe(bounded), bounded);
    }
    return os;
  } finally {
    clearTimeout(timer);
  }
}
