/**
 * Whether a spec's cloud can be used, asked before apply touches any host (and by plan, delete and
 * teardown): configured, reachable, authorised and new enough, for Ironic when the spec enrols
 * nodes and for Nova when it wants flavors. One cheap call per service (version discovery and a
 * one-item list), all within one deadline.
 */
import { TenksError, untilAborted } from '../../common/index.js';
import type { ClusterSpec } from '../../common/spec/index.js';
import type { OpenStackClients, OpenStackConnector } from '../openstack/types.js';

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

function purpose(needs: CloudNeeds): string {
  const parts = [
    needs.ironic ? 'enrols nodes (ironic_config)' : null,
    needs.nova ? 'wants flavors (nova_flavors)' : null,
  ];
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
    if (needs.ironic) {
      if (!os.ironic)
        throw new TenksError(
          'INVALID_SPEC',
          `cluster ${spec.name} enrols nodes (ironic_config) but cloud ${os.cloud} has no baremetal (Ironic) endpoint`,
          { field: 'cloud', hint: `put Ironic in the catalog of ${os.cloud}, or give it baremetal_endpoint_override` },
        );
      waitingFor = `ironic at ${os.ironic.endpoint}`;
      await untilAborted(os.ironic.probe(bounded), bounded);
    }
    if (needs.nova) {
      if (!os.nova)
        throw new TenksError(
          'INVALID_SPEC',
          `cluster ${spec.name} wants flavors (nova_flavors) but cloud ${os.cloud} has no compute (Nova) endpoint`,
          { field: 'cloud', hint: `put Nova in the catalog of ${os.cloud}, or give it compute_endpoint_override` },
        );
      waitingFor = `nova at ${os.nova.endpoint}`;
      await untilAborted(os.nova.probe(bounded), bounded);
    }
    return os;
  } finally {
    clearTimeout(timer);
  }
}
