/** The `nats` section shared by the agent's and the coordinator's config files. */
import { z } from 'zod';

/** Raw `nats` config (snake_case), without defaults for the section itself. */
export const natsConfigObject = z
  .object({
    /** Server URL(s), e.g. `nats://127.0.0.1:4222` or `tls://nats1:4222`. Default `nats://127.0.0.1:4222`. */
    servers: z.union([z.string(), z.array(z.string()).min(1)]).default('nats://127.0.0.1:4222'),
    /** TLS to the server: CA, and a client certificate when the server asks for one. */
    tls: z
      .object({ ca_file: z.string(), cert_file: z.string().optional(), key_file: z.string().optional() })
      .strict()
      .optional(),
    /** User/password, token or a `.creds` file (NATS decentralised auth). At most one. */
    user: z.string().optional(),
    password: z.string().optional(),
    token: z.string().optional(),
    creds_file: z.string().optional(),
    /** JetStream KV replicas of the buckets tenks creates (1, 3 or 5; 3 on a 3-node NATS cluster). Default 1. */
    replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
  })
  .strict();

/** The `nats` section where it is required: absent means all defaults. */
export const natsConfigSchema = natsConfigObject.prefault({});

/** Compiled NATS settings. */
export interface NatsSettings {
  servers: string[];
  tls: { caFile: string; certFile: string | null; keyFile: string | null } | null;
  user: string | null;
  password: string | null;
  token: string | null;
  credsFile: string | null;
  replicas: 1 | 3 | 5;
}

/** Raw (parsed) → compiled. */
export function compileNatsSettings(c: z.output<typeof natsConfigObject>): NatsSettings {
  return {
    servers: Array.isArray(c.servers) ? c.servers : c.servers.split(',').map((s) => s.trim()),
    tls: c.tls ? { caFile: c.tls.ca_file, certFile: c.tls.cert_file ?? null, keyFile: c.tls.key_file ?? null } : null,
    user: c.user ?? null,
    password: c.password ?? null,
    token: c.token ?? null,
    credsFile: c.creds_file ?? null,
    replicas: c.replicas,
  };
}
