import type { z } from 'zod';
import { schedulerSchema } from './schema.js';
import type { SchedulerSpec } from './types.js';

/** The `scheduler` section as parsed, to its compiled form. */
export function toSchedulerSpec(s: z.output<typeof schedulerSchema>): SchedulerSpec {
  return {
    strategy: s.strategy,
    seed: s.seed,
    weights: { ...s.weights },
    cpuAllocationRatio: s.cpu_allocation_ratio,
    ramAllocationRatio: s.ram_allocation_ratio,
    diskAllocationRatio: s.disk_allocation_ratio,
    reservedHostMemoryMb: s.reserved_host_memory_mb,
  };
}

/** The scheduler settings of a spec without a `scheduler` section (defaults from the schema). */
export function defaultSchedulerSpec(): SchedulerSpec {
  return toSchedulerSpec(schedulerSchema.parse({}));
}
