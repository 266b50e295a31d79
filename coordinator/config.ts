/** Coordinator configuration: raw YAML (snake_case) → defaults → compiled, once, with field-path errors. */
import { z } from 'zod';
import {
  compile,
  compileNatsSettings,
  daemonFields,
  invalidSpec,
  natsConfigSchema,
  OPS_SUBJECT_PREFIX,
  tlsFilesOf,
  type NatsSettings,
  type TlsFiles,
} from '../common/index.js';

/** Where the secrets key lives unless configured: beside the rest of tenks' state on the host. */
export const DEFAULT_SECRETS_KEY_FILE = '/var/lib/tenks/coordinator-secrets.key';

/** The config file. Every option and its default is documented here and in the README. */
export const coordinatorConfigSchema = z
  .object({
    /** Instance id, recorded as the owner of the operations it runs. Default: the host name. */
    coordinator_id: daemonFields.id,
    /** gRPC listen address for tenksctl. Default `0.0.0.0:7442`. */
    listen: daemonFields.listen('0.0.0.0:7442'),
    /** mTLS identity of the gRPC server, and (unless agent_tls is set) of the coordinator towards agents. */
    tls: daemonFields.tlsFiles.optional(),
    /** Client identity towards agents, when it differs from `tls`. */
    agent_tls: daemonFields.tlsFiles.optional(),
    /** Plaintext gRPC, for tenksctl and towards agents; only on loopback addresses. Default false. */
    insecure_loopback: z.boolean().default(false),
    /** NATS: agent heartbeats, state (JetStream KV) and progress events. */
    nats: natsConfigSchema,
    /**
     * Key (32 random bytes, base64) sealing the secrets of stored cluster specs (AES-256-GCM), created
     * with mode 0600 on first start when missing. Every coordinator sharing a NATS must hold the same
     * key. Default `/var/lib/tenks/coordinator-secrets.key`.
     */
    secrets_key_file: z.string().min(1).default(DEFAULT_SECRETS_KEY_FILE),
    /** An agent is dead after this long without a heartbeat. Default 10. */
    agent_timeout_s: z.number().min(1).max(600).default(10),
    /**
     * How long an operation waits for an agent that is not alive (no recent heartbeat) before its
     * actions there fail UNAVAILABLE: a restarting agent is used as soon as it is back. Default 30.
     */
    agent_wait_s: z.number().min(0).max(3600).default(30),
    /** Calls in flight to one agent at once. Default 16. */
    agent_concurrency: z.number().int().min(1).max(1024).default(16),
    /** Deadline of one agent call. Default 120. */
    call_timeout_s: z.number().min(1).max(3600).default(120),
    /** Attempts of an agent call that fails with UNAVAILABLE or TIMEOUT. Default 5. */
    retry_attempts: z.number().int().min(1).max(100).default(5),
    /** First retry delay, doubled each attempt up to 10 s. Default 0.5. */
    retry_backoff_s: z.number().min(0).max(60).default(0.5),
    /** An operation whose owner has not renewed its lease for this long is taken over. Default 15. */
    operation_lease_s: z.number().min(2).max(3600).default(15),
    /** Prefix of operation event subjects. Default `tenks.ops`. */
    events_subject_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
      .default(OPS_SUBJECT_PREFIX),
    /**
     * Where clusters with ironic_config / nova_flavors are enrolled: a clouds.yaml cloud (searched as
     * OpenStack tools do; a spec's own `cloud` wins). Default: OS_CLOUD, else the OS_* variables.
     */
    openstack: z
      .object({
        cloud: z.string().min(1).optional(),
        /** A clouds.yaml to read first (as OS_CLIENT_CONFIG_FILE). */
        clouds_file: z.string().min(1).optional(),
        /** Deadline of one OpenStack API call, and of a whole cloud check (apply, plan, delete). Default 60. */
        timeout_s: z.number().min(1).max(3600).default(60),
      })
      .strict()
      .prefault({}),
    /** NATS URLs tenksctl should use for events (default: nats.servers). */
    advertise_nats: z.array(z.string()).optional(),
    /** `debug`, `info` (default), `warn`, `error`. */
    log_level: daemonFields.logLevel,
    /** Seconds to finish in-flight work on SIGTERM before forcing. Default 10. */
    shutdown_grace_s: daemonFields.shutdownGraceS,
  })
  .strict();

/** Compiled coordinator configuration. */
export interface CoordinatorConfig {
  coordinatorId: string;
  listen: string;
  tls: TlsFiles | null;
  /** Identity towards agents; null for plaintext (loopback agents only). */
  agentTls: TlsFiles | null;
  insecureLoopback: boolean;
  nats: NatsSettings;
  /** Key file sealing the secrets of stored specs. */
  secretsKeyFile: string;
  agentTimeoutMs: number;
  agentWaitMs: number;
  agentConcurrency: number;
  callTimeoutMs: number;
  retryAttempts: number;
  retryBackoffMs: number;
  operationLeaseMs: number;
  eventsSubjectPrefix: string;
  advertiseNats: string[];
  openstack: { cloud: string | null; cloudsFile: string | null; timeoutMs: number };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  shutdownGraceMs: number;
}

/** Raw → compiled. */
export function compileCoordinatorConfig(raw: unknown): CoordinatorConfig {
  const c = compile(coordinatorConfigSchema, raw ?? {});
  if (!c.insecure_loopback && !c.tls)
    throw invalidSpec([{ field: 'tls', message: 'tls is required unless insecure_loopback is set' }]);
  const nats = compileNatsSettings(c.nats);
  return {
    coordinatorId: c.coordinator_id,
    listen: c.listen,
    tls: c.tls ? tlsFilesOf(c.tls) : null,
    agentTls: c.agent_tls ? tlsFilesOf(c.agent_tls) : c.tls ? tlsFilesOf(c.tls) : null,
    insecureLoopback: c.insecure_loopback,
    nats,
    secretsKeyFile: c.secrets_key_file,
    agentTimeoutMs: c.agent_timeout_s * 1000,
    agentWaitMs: c.agent_wait_s * 1000,
    agentConcurrency: c.agent_concurrency,
    callTimeoutMs: c.call_timeout_s * 1000,
    retryAttempts: c.retry_attempts,
    retryBackoffMs: c.retry_backoff_s * 1000,
    operationLeaseMs: c.operation_lease_s * 1000,
    eventsSubjectPrefix: c.events_subject_prefix,
    advertiseNats: c.advertise_nats ?? nats.servers,
    openstack: {
      cloud: c.openstack.cloud ?? null,
      cloudsFile: c.openstack.clouds_file ?? null,
      timeoutMs: c.openstack.timeout_s * 1000,
    },
    logLevel: c.log_level,
    shutdownGraceMs: c.shutdown_grace_s * 1000,
  };
}
