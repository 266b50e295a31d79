/**
 * What an agent announces about itself, every few seconds, as the value of its key in the
 * `tenks-agents` KV bucket. The coordinator watches the bucket: a restarted coordinator sees every
 * agent at once, and an agent whose heartbeat is older than a few intervals is dead.
 */

/** One agent's heartbeat (JSON). */
export interface AgentHeartbeat {
  /** Format version. */
  version: 1;
  /** Agent id (the KV key). */
  id: string;
  /** gRPC address the coordinator dials (`host:port`). */
  address: string;
  hostname: string;
  agentVersion: string;
  libvirtUri: string;
  engine: 'kvm' | 'qemu';
  cpus: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  /** UEFI firmware for x86_64 guests. */
  uefiAvailable: boolean;
  /**
   * Guest architectures the host runs (`x86_64`, `aarch64`, ...). Absent from agents older than
   * this field, which run x86_64 only: read it with {@link heartbeatArches}.
   */
  arches?: string[];
  /** Those of `arches` with UEFI firmware. Absent from older agents: see {@link heartbeatArches}. */
  uefiArches?: string[];
  pool: { name: string; type: 'dir' | 'logical'; capacityBytes: number; availableBytes: number };
  /** Physnets set up on the host, with their bridge type and the clusters using them. */
  physnets: {
    physnet: string;
    device: string;
    vlan: number;
    bridge: string;
    bridgeMac: string;
    bridgeType: 'openvswitch' | 'linuxbridge';
    clusters: string[];
  }[];
  bmc: {
    /** Address BMC endpoints are advertised on. */
    address: string;
    ipmiPortStart: number;
    ipmiPortEnd: number;
    ipmiPortsUsed: number;
    /** Redfish service base URL (`http://host:8000`). */
    redfishUrl: string;
  };
  nodeCount: number;
  /**
   * Random per agent process start: a new value tells the coordinator the agent restarted, so a
   * connection to its previous run (maybe in reconnect backoff) is dropped. Absent from agents
   * older than this field.
   */
  instance?: string;
  /** `running`, or `stopping` in its last heartbeat before it shuts down. */
  state: 'running' | 'stopping';
  /** When this heartbeat was sent (agent clock) and how often they come. */
  timeMs: number;
  intervalMs: number;
}

/**
 * The guest architectures of a heartbeat's host, and those with UEFI firmware. An agent older than
 * these fields made x86_64 guests only, with UEFI when it had OVMF.
 */
export function heartbeatArches(h: AgentHeartbeat): { arches: string[]; uefiArches: string[] } {
  return {
    arches: h.arches ?? ['x86_64'],
    uefiArches: h.uefiArches ?? (h.uefiAvailable ? ['x86_64'] : []),
  };
}

/** Narrows a decoded payload to a heartbeat (null for anything else). */
export function asHeartbeat(v: unknown): AgentHeartbeat | null {
  if (typeof v !== 'object' || v === null) return null;
  const h = v as Partial<AgentHeartbeat>;
  if (h.version !== 1 || typeof h.id !== 'string' || typeof h.address !== 'string' || typeof h.timeMs !== 'number')
    return null;
  if (typeof h.pool !== 'object' || typeof h.bmc !== 'object' || !Array.isArray(h.physnets)) return null;
  return h as AgentHeartbeat;
}
