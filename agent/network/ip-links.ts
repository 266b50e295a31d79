import { TenksError } from '../../common/index.js';
import { CommandError, runCommand } from '../os/index.js';

/** A Linux network link as `ip -details -json link` reports it. */
export interface LinkInfo {
  name: string;
  /** `bridge`, `veth`, `vlan`, `tun`, `openvswitch`, `macvtap`, ... or null for physical/dummy-less. */
  kind: string | null;
  /** Name of the bridge (or OVS datapath) it is enslaved to. */
  master: string | null;
  alias: string | null;
  mac: string;
  /** Administratively up. */
  up: boolean;
  /** For veth/vlan/macvtap: the peer or lower device name when in this namespace. */
  link: string | null;
  loopback: boolean;
}

interface IpJsonLink {
  ifname: string;
  address?: string;
  flags?: string[];
  master?: string;
  ifalias?: string;
  link?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
}

function toLinkInfo(l: IpJsonLink): LinkInfo {
  return {
    name: l.ifname,
    kind: l.linkinfo?.info_kind ?? null,
    master: l.master ?? null,
    alias: l.ifalias ?? null,
    mac: l.address ?? '',
    up: l.flags?.includes('UP') ?? false,
    link: l.link ?? null,
    loopback: l.link_type === 'loopback',
  };
}

/** The host's Linux links, as the network plane reads and changes them. */
export interface HostLinks {
  /** Every link in this network namespace. */
  list(signal?: AbortSignal): Promise<LinkInfo[]>;
  /** Runs many `ip` commands (lines without the leading `ip`) at once; stops at the first failing line. */
  batch(lines: readonly string[], signal?: AbortSignal): Promise<void>;
}

/** Linux links through iproute2: `ip -json` to read, `ip -batch` to change many at once. */
export class IpLinks implements HostLinks {
  constructor(private readonly ip = 'ip') {}

  /** Every link in this network namespace. */
  async list(signal?: AbortSignal): Promise<LinkInfo[]> {
    const out = await runCommand(this.ip, ['-details', '-json', 'link', 'show'], {
      timeoutMs: 60_000,
      signal,
    });
    return (JSON.parse(out === '' ? '[]' : out) as IpJsonLink[]).map(toLinkInfo);
  }

  /** One link, or null. */
  async get(name: string): Promise<LinkInfo | null> {
    try {
      const out = await runCommand(this.ip, ['-details', '-json', 'link', 'show', 'dev', name], { timeoutMs: 10_000 });
      const first = (JSON.parse(out) as IpJsonLink[])[0];
      return first ? toLinkInfo(first) : null;
    } catch (e) {
      if (e instanceof CommandError && /does not exist|Cannot find device/i.test(e.stderr)) return null;
      throw e;
    }
  }

  /**
   * Runs many `ip` commands in one process (`ip -batch -`). Lines are `link add ...` etc., without
   * the leading `ip`. Stops at the first failing line.
   */
  async batch(lines: readonly string[], signal?: AbortSignal): Promise<void> {
    if (lines.length === 0) return;
    try {
      await runCommand(this.ip, ['-batch', '-'], {
        input: lines.join('\n') + '\n',
        timeoutMs: 300_000,
        signal,
      });
    } catch (e) {
      if (e instanceof CommandError)
        throw new TenksError(
          'INTERNAL',
          `changing host links failed: ${e.stderr.trim().split('\n').slice(0, 3).join('; ')}`,
          { cause: e },
        );
      throw e;
    }
  }
}

/** `ip -batch` lines, so callers build scripts without string slips. */
export const ipLine = {
  addVeth: (a: string, b: string): string => `link add ${a} type veth peer name ${b}`,
  addBridge: (name: string, mac: string): string => `link add ${name} address ${mac} type bridge`,
  address: (name: string, mac: string): string => `link set dev ${name} address ${mac}`,
  addVlan: (parent: string, name: string, vlan: number): string =>
    `link add link ${parent} name ${name} type vlan id ${vlan}`,
  alias: (name: string, alias: string): string => `link set dev ${name} alias ${alias}`,
  up: (name: string): string => `link set dev ${name} up`,
  /**
   * No IPv6 link-local address (so no DAD, router solicitations or MLD reports) on a link that is
   * only a switch port: the host must not chatter on the physnet, and on a bridge with a thousand
   * ports every such multicast frame is flooded to all of them.
   */
  quiet: (name: string): string => `link set dev ${name} addrgenmode none`,
  down: (name: string): string => `link set dev ${name} down`,
  master: (name: string, bridge: string): string => `link set dev ${name} master ${bridge}`,
  nomaster: (name: string): string => `link set dev ${name} nomaster`,
  del: (name: string): string => `link del dev ${name}`,
} as const;
