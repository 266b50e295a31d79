/** The `scheduler` section: its schema (where new nodes go, how hosts are weighed) and its compiled form. */
import { z } from 'zod';
import type { SchedulerSpec } from './types.js';

const weight = (what: string, dflt: number) =>
  z
    .number()
    .min(0, 'weights are >= 0')
    .default(dflt)
    .describe(`Weight of free ${what} in spread/pack scores. Default ${dflt}.`);

const ratio = (what: string, dflt: number) =>
  z
    .number()
    .positive('allocation ratios are > 0')
    .max(1000)
    .default(dflt)
    .describe(`Allocation ratio of ${what} (as Nova's). Default ${dflt}.`);

/** `scheduler`: where new nodes go. */
export const schedulerSchema = z
  .strictObject({
    strategy: z
      .enum(['spread', 'pack', 'round_robin', 'random'])
      .default('spread')
      .describe(
        'spread: the host with most weighted free capacity; pack: least that still fits; ' +
          'round_robin: hosts in turn; random: seeded. Default spread.',
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(0)
      .describe('Seed of the random strategy. Default 0.'),
    weights: z
      .strictObject({ ram: weight('RAM', 1), vcpus: weight('vCPUs', 1), disk: weight('disk', 1) })
      .prefault({})
      .describe('Weights of the free-capacity fractions combined by spread and pack.'),
    cpu_allocation_ratio: ratio('vCPUs to host CPUs', 4),
    ram_allocation_ratio: ratio('RAM', 1),
    disk_allocation_ratio: ratio('pool capacity', 1),
    reserved_host_memory_mb: z
      .number()
      .int('must be a whole number of MiB')
      .min(0, 'must be >= 0')
      .default(512)
      .describe('RAM kept for the host itself, in MiB. Default 512.'),
  })
  .describe('tenks extension: capacity-aware scheduling of new nodes. Placed nodes never move.');

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
