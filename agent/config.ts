import { hostname, networkInterfaces } from 'node:os';
import { z } from 'zod';
import {
  compile,
  compileNatsSettings,
  daemonFields,
  invalidSpec,
  natsConfigObject,
  tlsFilesOf,
  type NatsSettings,
  type TlsFiles,
} from '../common/index.js';

/** Where node images may come from unless configured: tenks' own image directory and libvirt's. */
export const DEFAULT_IMAGE_DIRS = ['/var/lib/tenks/images', '/var/lib/libvirt/images'] as const;

/** Agent configuration file (YAML, snake_case). Every option and its default is documented here and in README. */
export const agentConfigSchema = z
  .object({
    /** Agent id announced to the coordinator. Default: the host name. */
    agent_id: daemonFields.id,
    /** gRPC listen address. Default `0.0.0.0:7443`. */
    listen: daemonFields.listen('0.0.0.0:7443'),
    /** Address the coordinator should dial (default: the listen address, with this host's name for 0.0.0.0). */
    advertise_address: z.string().optional(),
    /** mTLS identity: required unless `insecure_loopback` is set and `listen` is on loopback. */
    tls: daemonFields.tlsFiles.optional(),
    /** Serve plaintext gRPC; refused unless `listen` is a loopback address. Default false. */
    insecure_loopback: z.boolean().default(false),
    /** libvirt URI. Default `qemu:///system`. */
    libvirt_uri: z.string().min(1).default('qemu:///system'),
    /** Most concurrent libvirt calls. Default 16. */
    libvirt_concurrency: z.number().int().min(1).max(256).default(16),
    /**
     * Accelerator of the nodes: `auto` (default) uses KVM when libvirt offers it and a probe guest
     * really runs under it, else QEMU's TCG; `kvm` or `qemu` force one.
     */
    engine: z.enum(['auto', 'kvm', 'qemu']).default('auto'),
    storage: z
      .object({
        /** Pool name. Default `tenks` (as upstream `libvirt_pool_name`). */
        pool_name: z.string().min(1).default('tenks'),
        /** `dir` (default) or `logical` (LVM volume group). */
        pool_type: z.enum(['dir', 'logical']).default('dir'),
        /** Directory (dir) or volume group (logical). Default `/var/lib/libvirt/tenks_pool`. */
        pool_path: z.string().min(1).default('/var/lib/libvirt/tenks_pool'),
        /** Most concurrent volume operations. Default 4. */
        concurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    bmc: z
      .object({
        /** Address the IPMI sockets bind. Default `0.0.0.0`. */
        listen_address: z.string().min(1).default('0.0.0.0'),
        /** Address reported to Ironic. Default: listen_address, or this host's first IPv4 address for a wildcard. */
        advertise_address: z.string().optional(),
        /** IPMI UDP ports of nodes come from this range (start 0: any free port). Default 6230-7229. */
        ipmi_port_range_start: z.number().int().min(0).max(65535).default(6230),
        ipmi_port_range_end: z.number().int().min(0).max(65535).default(7229),
        /** Redfish service port (0: any free port). Default 8000, as sushy-tools. */
        redfish_port: z.number().int().min(0).max(65535).default(8000),
        /** Serve Redfish over HTTPS with the agent's TLS certificate. Default false. */
        redfish_tls: z.boolean().default(false),
        /** BMC user name when a node's spec gives none. Default `admin`. */
        default_username: z.string().min(1).max(16).default('admin'),
      })
      .strict()
      .prefault({}),
    /**
     * Absolute directories whose files node volumes may use as `image`, `backing_image` or
     * `existing` (after symlinks and `..` are resolved); other host paths are refused. Pool volumes
     * named without a leading slash are not host paths. Default `/var/lib/tenks/images` and
     * `/var/lib/libvirt/images`.
     */
    allowed_image_dirs: z
      .array(z.string().startsWith('/', 'must be an absolute directory'))
      .default([...DEFAULT_IMAGE_DIRS]),
    /** Agent state (BMC credentials, mode 0600). Default `/var/lib/tenks`. */
    state_dir: z.string().min(1).default('/var/lib/tenks'),
    /** Console logs under `<log_directory>/libvirt/`. Default `/var/log/tenks`. */
    log_directory: z.string().min(1).default('/var/log/tenks'),
    /** `debug`, `info` (default), `warn`, `error`. */
    log_level: daemonFields.logLevel,
    /** Seconds to finish in-flight calls on SIGTERM before forcing. Default 10. */
    shutdown_grace_s: daemonFields.shutdownGraceS,
    /**
     * NATS, where the agent announces itself (heartbeats in the `tenks-agents` KV bucket) to the
     * coordinator. Absent: no heartbeats (the agent still serves gRPC, e.g. for `tenksctl agent`).
     */
    nats: natsConfigObject.optional(),
    /** Seconds between heartbeats. Default 2. */
    heartbeat_interval_s: z.number().min(0.1).max(60).default(2),
    /**
     * Whether the tenks objects on this host that carry no agent mark (domains, bridges and ports
     * made before agents marked what they make) are this agent's. Default: when `agent_id` is the
     * host name (the default id), as a lab upgraded in place has it; agents with ids of their own
     * (a second agent on the host, a test's) leave them alone.
     */
    owns_unmarked: z.boolean().optional(),
    /**
     * Only with libvirt's test driver (a `test:` libvirt_uri; refused with any other): the capacity
     * this agent reports to the scheduler instead of the test driver's fixed host (16 CPUs, 3 GiB of
     * RAM, a 100 GiB pool), so a test can apply a spec with real-world sizes (a 304 GiB node, say)
     * to an agent that runs no VM. Each figure left out stays the test driver's. Default: none.
     */
    test_capacity: z
      .object({
        /** Host RAM, in MiB. */
        memory_mb: z.number().int().min(1).optional(),
        /** Host CPUs. */
        cpus: z.number().int().min(1).optional(),
        /** Capacity of the storage pool, in GiB. */
        pool_gib: z.number().int().min(1).optional(),
        /**
         * Guest architectures the agent reports it runs (the test driver defines domains of any
         * architecture but offers only its i686 guest, which stands in for x86_64).
         */
        arches: z
          .array(z.enum(['x86_64', 'aarch64'], { error: 'expected x86_64 or aarch64' }))
          .min(1)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Raw agent config as written. */
export type RawAgentConfig = z.input<typeof agentConfigSchema>;

/** Compiled agent configuration: defaults applied, names camelCase, units in names. */
export interface AgentConfig {
  agentId: string;
  listen: string;
  advertiseAddress: string | null;
  tls: TlsFiles | null;
  insecureLoopback: boolean;
  libvirtUri: string;
  libvirtConcurrency: number;
  engine: 'auto' | 'kvm' | 'qemu';
  storage: { poolName: string; poolType: 'dir' | 'logical'; poolPath: string; concurrency: number };
  bmc: {
    listenAddress: string;
    advertiseAddress: string;
    ipmiPortStart: number;
    ipmiPortEnd: number;
    /** Redfish service port (0: any free port). */
    redfishPort: number;
    /** Serve Redfish over HTTPS with the agent's certificate. */
    redfishTls: boolean;
    defaultUsername: string;
  };
  /** Directories node volumes may take host files from. */
  allowedImageDirs: string[];
  stateDir: string;
  logDirectory: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  shutdownGraceMs: number;
  /** NATS for heartbeats, or null. */
  nats: NatsSettings | null;
  heartbeatIntervalMs: number;
  /** See `owns_unmarked`. */
  ownsUnmarked: boolean;
  /** See `test_capacity`; null: report what libvirt says. */
  testCapacity: TestCapacity | null;
}

/** Capacity a test-driver agent reports instead of libvirt's figures (null: libvirt's). */
export interface TestCapacity {
  memoryBytes: number | null;
  cpus: number | null;
  poolCapacityBytes: number | null;
  /** Guest architectures to report (null: x86_64, the test driver's). */
  arches: ('x86_64' | 'aarch64')[] | null;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Raw → compiled, once, with field-path errors. */
export function compileAgentConfig(raw: unknown): AgentConfig {
  const c = compile(agentConfigSchema, raw ?? {});
  if (c.bmc.redfish_tls && !c.tls)
    throw invalidSpec([
      { field: 'bmc.redfish_tls', message: 'Redfish over HTTPS uses the agent certificate: configure tls' },
    ]);
  if (c.bmc.ipmi_port_range_start > c.bmc.ipmi_port_range_end)
    throw invalidSpec([{ field: 'bmc.ipmi_port_range_end', message: 'must not be below ipmi_port_range_start' }]);
  // A made-up capacity on a host that really runs VMs would let the scheduler overcommit it.
  if (c.test_capacity && !c.libvirt_uri.startsWith('test:'))
    throw invalidSpec([
      {
        field: 'test_capacity',
        message: `only libvirt's test driver may report a made-up capacity; libvirt_uri is '${c.libvirt_uri}'`,
      },
    ]);
  const cap = c.test_capacity;
  return {
    agentId: c.agent_id,
    listen: c.listen,
    advertiseAddress: c.advertise_address ?? null,
    tls: c.tls ? tlsFilesOf(c.tls) : null,
    insecureLoopback: c.insecure_loopback,
    libvirtUri: c.libvirt_uri,
    libvirtConcurrency: c.libvirt_concurrency,
    engine: c.engine,
    storage: {
      poolName: c.storage.pool_name,
      poolType: c.storage.pool_type,
      poolPath: c.storage.pool_path,
      concurrency: c.storage.concurrency,
    },
    bmc: {
      listenAddress: c.bmc.listen_address,
      advertiseAddress: c.bmc.advertise_address ?? advertiseFor(c.bmc.listen_address),
      ipmiPortStart: c.bmc.ipmi_port_range_start,
      ipmiPortEnd: c.bmc.ipmi_port_range_end,
      redfishPort: c.bmc.redfish_port,
      redfishTls: c.bmc.redfish_tls,
      defaultUsername: c.bmc.default_username,
    },
    allowedImageDirs: c.allowed_image_dirs,
    stateDir: c.state_dir,
    logDirectory: c.log_directory,
    logLevel: c.log_level,
    shutdownGraceMs: c.shutdown_grace_s * 1000,
    nats: c.nats ? compileNatsSettings(c.nats) : null,
    heartbeatIntervalMs: Math.round(c.heartbeat_interval_s * 1000),
    ownsUnmarked: c.owns_unmarked ?? c.agent_id === hostname(),
    testCapacity: cap
      ? {
          memoryBytes: cap.memory_mb === undefined ? null : cap.memory_mb * MiB,
          cpus: cap.cpus ?? null,
          poolCapacityBytes: cap.pool_gib === undefined ? null : cap.pool_gib * GiB,
          arches: cap.arches === undefined ? null : [...new Set(cap.arches)].sort(),
        }
      : null,
  };
}

/** The address to report for a listen address: itself, or this host's first IPv4 address for a wildcard. */
export function advertiseFor(listen: string): string {
  if (listen !== '0.0.0.0' && listen !== '::') return listen;
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}
