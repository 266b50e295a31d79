import { access } from 'node:fs/promises';
import { TenksError } from '../../common/index.js';
import { CommandError, runCommand } from '../os/index.js';

/** An OVS bridge or port row. */
export interface OvsRow {
  name: string;
  externalIds: Record<string, string>;
  /** Port rows: the VLAN tag, or null. */
  tag: number | null;
  /** Bridge rows: `system` or `netdev` (`''` is the default, system). */
  datapathType: string;
  /** Bridge rows: names of its ports. Port rows: empty. */
  ports: string[];
}

type OvsJsonValue = string | number | ['map', [string, string][]] | ['set', unknown[]] | ['uuid', string];

/** The `list Port` command (and its columns) of every Port read. */
const PORT_LIST = ['--columns=_uuid,name,external_ids,tag', 'list', 'Port'];

/** Port rows of one `--format=json --data=json list Port` document. */
function portRowsOf(json: string): { uuid: string; row: OvsRow }[] {
  const doc = JSON.parse(json) as { data: OvsJsonValue[][] };
  return doc.data.map((r) => {
    const uuid = Array.isArray(r[0]) ? String(r[0][1]) : String(r[0]);
    const tag = typeof r[3] === 'number' ? r[3] : null;
    return { uuid, row: { name: String(r[1]), externalIds: toMap(r[2]), tag, datapathType: '', ports: [] } };
  });
}

function toMap(v: OvsJsonValue | undefined): Record<string, string> {
  if (Array.isArray(v) && v[0] === 'map') return Object.fromEntries(v[1]);
  return {};
}

/** Open vSwitch, as the network plane reads and changes it. */
export interface OvsSwitch {
  /** `system` when the kernel datapath can be used, else `netdev` (userspace). */
  datapathType(): Promise<'system' | 'netdev'>;
  /** Runs `ovs-vsctl` commands (argv lists) in one transaction; `noWait`: do not wait for ovs-vswitchd. */
  transact(commands: readonly (readonly string[])[], signal?: AbortSignal, o?: { noWait?: boolean }): Promise<string>;
  /** Every bridge with its ports, and every port row. */
  bridgesAndPorts(): Promise<{ bridges: OvsRow[]; ports: OvsRow[] }>;
}

/** Open vSwitch through `ovs-vsctl`: many changes go in one call (one OVSDB transaction). */
export class Ovs implements OvsSwitch {
  constructor(private readonly vsctl = 'ovs-vsctl') {}

  /** True when ovs-vsctl is installed and the database answers. */
  async available(): Promise<boolean> {
    try {
      await runCommand(this.vsctl, ['--timeout=5', 'show'], { timeoutMs: 10_000 });
      return true;
    } catch {
      return false;
    }
  }

  /** `system` when the kernel datapath module is loaded, else `netdev` (userspace). */
  async datapathType(): Promise<'system' | 'netdev'> {
    try {
      await access('/sys/module/openvswitch');
      return 'system';
    } catch {
      return 'netdev';
    }
  }

  /** Runs commands in one transaction: each command is an argv list, joined with `--`. */
  async transact(
    commands: readonly (readonly string[])[],
    signal?: AbortSignal,
    o: { noWait?: boolean } = {},
  ): Promise<string> {
    if (commands.length === 0) return '';
    // --no-wait: return once the database has the change; ovs-vswitchd then applies many
    // transactions in one reconfiguration instead of one each (it slows down as ports grow).
    const args = ['--timeout=60', ...(o.noWait ? ['--no-wait'] : [])];
    for (const c of commands) args.push('--', ...c);
    try {
      return await runCommand(this.vsctl, args, { timeoutMs: 120_000, signal });
    } catch (e) {
      if (e instanceof CommandError)
        throw new TenksError(
          'INTERNAL',
          `Open vSwitch refused the change: ${e.stderr.trim().split('\n').slice(0, 3).join('; ')}`,
          {
            cause: e,
          },
        );
      throw e;
    }
  }

  /** Every bridge with its ports, and every port row. */
  async bridgesAndPorts(): Promise<{ bridges: OvsRow[]; ports: OvsRow[] }> {
    // One ovs-vsctl, one OVSDB snapshot: both tables, one JSON document per line.
    const out = await runCommand(
      this.vsctl,
      [
        '--timeout=30',
        '--format=json',
        '--data=json',
        '--columns=_uuid,name,external_ids,datapath_type,ports',
        'list',
        'Bridge',
        '--',
        ...PORT_LIST,
      ],
      {
        timeoutMs: 60_000,
      },
    );
    const [bridgeDoc = '', portDoc = ''] = out.split('\n').filter((l) => l.trim() !== '');
    const ports = portRowsOf(portDoc);
    const byUuid = new Map(ports.map((p) => [p.uuid, p.row.name]));
    const doc = JSON.parse(bridgeDoc) as { data: OvsJsonValue[][] };
    const bridges = doc.data.map((r): OvsRow => {
      const portSet = r[4];
      const uuids: string[] =
        Array.isArray(portSet) && portSet[0] === 'set'
          ? (portSet[1] as ['uuid', string][]).map((u) => u[1])
          : Array.isArray(portSet) && portSet[0] === 'uuid'
            ? [portSet[1]]
            : [];
      return {
        name: String(r[1]),
        externalIds: toMap(r[2]),
        tag: null,
        datapathType: String(r[3] ?? ''),
        ports: uuids.map((u) => byUuid.get(u)).filter((n): n is string => n !== undefined),
      };
    });
    return { bridges, ports: ports.map((p) => p.row) };
  }

  /** Every bridge with its ports. */
  async bridges(): Promise<OvsRow[]> {
    return (await this.bridgesAndPorts()).bridges;
  }

  private async portRows(): Promise<{ uuid: string; row: OvsRow }[]> {
    const out = await runCommand(this.vsctl, ['--timeout=30', '--format=json', '--data=json', ...PORT_LIST], {
      timeoutMs: 60_000,
    });
    return portRowsOf(out);
  }

  /** Every port. */
  async ports(): Promise<OvsRow[]> {
    return (await this.portRows()).map((p) => p.row);
  }
}
