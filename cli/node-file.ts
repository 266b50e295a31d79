import { z } from 'zod';
import { compile, type NodeSpec } from '../common/index.js';

/** A node file for `tenksctl agent ensure -f` (snake_case YAML, the agent's NodeSpec). */
export const nodeFileSchema = z
  .object({
    cluster: z.string(),
    name: z.string(),
    uuid: z.string().default(''),
    node_type: z.string().default(''),
    memory_mb: z.number().int(),
    vcpus: z.number().int(),
    machine: z.string().default(''),
    cpu_mode: z.string().default(''),
    boot_mode: z.enum(['uefi', 'bios']).default('uefi'),
    // The agent validates it (x86_64 or aarch64); empty: x86_64.
    arch: z.string().default(''),
    volumes: z
      .array(
        z
          .object({
            name: z.string().default(''),
            capacity: z.union([z.string(), z.number().int().positive()]).default(''),
            image: z.string().default(''),
            backing_image: z.string().default(''),
            existing: z.string().default(''),
            format: z.string().default(''),
          })
          .strict(),
      )
      .default([]),
    nics: z.array(z.object({ physnet: z.string(), mac: z.string().default('') }).strict()).default([]),
    console_log_enabled: z.boolean().default(false),
    vnc_enabled: z.boolean().default(false),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

/** Validates a parsed node file and turns it into the NodeSpec an agent is asked for. */
export function nodeFileToSpec(input: unknown, source: string): NodeSpec {
  const n = compile(nodeFileSchema, input, source);
  return {
    cluster: n.cluster,
    name: n.name,
    uuid: n.uuid,
    nodeType: n.node_type,
    memoryMb: n.memory_mb,
    vcpus: n.vcpus,
    machine: n.machine,
    cpuMode: n.cpu_mode,
    bootMode: n.boot_mode,
    arch: n.arch,
    volumes: n.volumes.map((v) => ({
      name: v.name,
      capacity: String(v.capacity),
      image: v.image,
      backingImage: v.backing_image,
      existing: v.existing,
      format: v.format,
    })),
    nics: n.nics.map((c) => ({ physnet: c.physnet, mac: c.mac })),
    consoleLogEnabled: n.console_log_enabled,
    vncEnabled: n.vnc_enabled,
    labels: n.labels,
  };
}
