import type { HostState } from './capacity.js';
import { Prng } from './prng.js';
import type { NodeDemand, ScheduleOptions } from './types.js';

/** Picks a host for each new node, in turn. Hosts come sorted by id; ties go to the first. */
export interface Strategy {
  /** A host `n` fits on, or null when none has room. */
  pick(n: NodeDemand, hosts: readonly HostState[]): HostState | null;
}

/** `spread` (most weighted free capacity after placement) or `pack` (least, among hosts it fits). */
function byScore(o: ScheduleOptions, sign: 1 | -1): Strategy {
  return {
    pick(n, hosts) {
      let best: HostState | null = null;
      let bestScore = -Infinity;
      for (const h of hosts) {
        if (!h.fits(n)) continue;
        const s = sign * h.score(n, o.weights);
        if (s > bestScore) {
          best = h;
          bestScore = s;
        }
      }
      return best;
    },
  };
}

/** Hosts in turn, each node starting after the host the previous one went to; full hosts are skipped. */
function roundRobin(): Strategy {
  let cursor = 0;
  return {
    pick(n, hosts) {
      for (let k = 0; k < hosts.length; k++) {
        const i = (cursor + k) % hosts.length;
        const h = hosts[i];
        if (h?.fits(n)) {
          cursor = i + 1;
          return h;
        }
      }
      return null;
    },
  };
}

/** A uniformly random host among those the node fits on; the same seed gives the same placement. */
function random(seed: number): Strategy {
  const prng = new Prng(seed);
  const fitting: HostState[] = [];
  return {
    pick(n, hosts) {
      fitting.length = 0;
      for (const h of hosts) if (h.fits(n)) fitting.push(h);
      return fitting.length === 0 ? null : (fitting[prng.below(fitting.length)] ?? null);
    },
  };
}

/** The strategy `o.strategy` names. */
export function makeStrategy(o: ScheduleOptions): Strategy {
  switch (o.strategy) {
    case 'spread':
      return byScore(o, 1);
    case 'pack':
      return byScore(o, -1);
    case 'round_robin':
      return roundRobin();
    case 'random':
      return random(o.seed);
  }
}
