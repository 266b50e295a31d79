/** What the flows (apply, delete, teardown) are given, and how they report progress. */
import type { Logger } from '../../common/index.js';
import type { ClusterSpec } from '../../common/spec/index.js';
import type { AgentPort } from '../agents/port.js';
import type { AgentRegistry } from '../agents/registry.js';
import { checkCloudAccess, wantsOpenStack, type StageProgress } from '../enrolment/index.js';
import type { ExecuteHooks, RetryPolicy } from '../executor/index.js';
import { DEFAULT_OPENSTACK_TIMEOUT_MS } from '../openstack/index.js';
import type { OpenStackClients, OpenStackConnector } from '../openstack/types.js';
import type { SecretBox } from '../secrets/index.js';
import type { ResultRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';

/** What the flows use. */
export interface FlowDeps {
  store: StateStore;
  registry: AgentRegistry;
  port: AgentPort;
  policy: RetryPolicy;
  /** Opens the secrets of stored specs. */
  secrets: SecretBox;
  log: Logger;
  /** How clouds are reached for enrolment (absent: enrolment is not configured). */
  openstack?: OpenStackConnector;
  /** How long a check of a cloud may take in all (openstack.timeout_s); default 30 s. */
  cloudCheckTimeoutMs?: number;
  newUuid?: () => string;
}

/** How a flow reports progress (the runner records and publishes it). */
export interface ProgressSink {
  planned: (total: number, warnings: string[]) => void;
  hooks: Pick<ExecuteHooks, 'started' | 'failed'>;
  done: (r: ResultRecord) => void;
}

/** The enrolment stage's view of a progress sink: each enrolment step counts as an action. */
export function stageOf(progress: ProgressSink): StageProgress {
  return {
    started: (a) => {
      progress.planned(1, []);
      progress.hooks.started(a);
    },
    failed: progress.hooks.failed,
    done: (r) => {
      progress.done(r);
    },
    warn: (w) => {
      progress.planned(0, [w]);
    },
  };
}

/**
 * The checked cloud of a spec that enrols anything (see checkCloudAccess for what fails how), or
 * null for a spec that enrols nothing.
 */
export async function cloudOf(
  deps: FlowDeps,
  spec: ClusterSpec,
  signal?: AbortSignal,
): Promise<OpenStackClients | null> {
  if (!wantsOpenStack(spec)) return null;
  return checkCloudAccess(deps.openstack, spec, deps.cloudCheckTimeoutMs ?? DEFAULT_OPENSTACK_TIMEOUT_MS, signal);
}
