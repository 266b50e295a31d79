/**
 * The newest fencing token the agent has seen per cluster (common/fence.ts). A call carrying an
 * older token comes from a coordinator that no longer holds the cluster's operation, and is
 * refused before it changes anything. Kept in memory: a restarted agent has no call in flight, and
 * a stale coordinator stops by itself within its lease.
 */
import { compareFence, formatFence, parseFence, TenksError, type FenceToken, type Logger } from '../common/index.js';

/** Fencing state of one agent. */
export class Fences {
  private readonly newest = new Map<string, FenceToken>();

  constructor(private readonly log: Logger) {}

  /**
   * Admits a call for `cluster` carrying `token` (null: a call outside any operation, such as
   * `tenksctl agent` or a power action, which is not fenced). Throws CONFLICT for a stale token.
   */
  admit(cluster: string, token: string | null): void {
    if (token === null) return;
    const t = parseFence(token);
    const cur = this.newest.get(cluster);
    if (cur && compareFence(t, cur) < 0) {
      this.log.warn('call of a stale operation claim refused', { cluster, fence: token, newest: formatFence(cur) });
      throw new TenksError(
        'CONFLICT',
        `refused: cluster '${cluster}' is now driven by a newer operation claim (${formatFence(cur)}) than this call's (${token})`,
        { hint: 'the coordinator that sent it lost its operation; the one holding it now carries on' },
      );
    }
    if (!cur || compareFence(t, cur) > 0) {
      this.newest.set(cluster, t);
      this.log.info('operation claim seen', { cluster, fence: token });
    }
  }
}
