/**
 * BMC credentials and ports of this agent's nodes, in one JSON file readable only by the agent
 * (mode 0600), so BMCs come back after a restart with the same ports and passwords.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TenksError } from '../../common/index.js';

/** One node's BMC record. Never logged. */
export interface BmcRecord {
  name: string;
  username: string;
  password: string;
  /** IPMI UDP port, 0 when IPMI is off. */
  ipmiPort: number;
  /** Served by the agent's Redfish service. */
  redfish: boolean;
}

interface FileFormat {
  version: 1;
  nodes: Record<string, BmcRecord>;
}

/** The credentials file. Writes are serialised and atomic (write, then rename). */
export class BmcStore {
  private nodes = new Map<string, BmcRecord>();
  private writing: Promise<void> = Promise.resolve();
  /** The write that will include every change made so far, if not started yet. */
  private next: Promise<void> | null = null;

  constructor(readonly path: string) {}

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new TenksError('PERMISSION', `cannot read BMC credentials '${this.path}': ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      const doc = JSON.parse(text) as FileFormat;
      this.nodes = new Map(Object.entries(doc.nodes));
    } catch (e) {
      throw new TenksError('INTERNAL', `BMC credentials file '${this.path}' is not valid JSON`, { cause: e });
    }
  }

  get(uuid: string): BmcRecord | undefined {
    return this.nodes.get(uuid);
  }

  entries(): [string, BmcRecord][] {
    return [...this.nodes.entries()];
  }

  usedPorts(): Set<number> {
    return new Set([...this.nodes.values()].map((r) => r.ipmiPort).filter((p) => p > 0));
  }

  async set(uuid: string, record: BmcRecord): Promise<void> {
    this.nodes.set(uuid, record);
    await this.flush();
  }

  async delete(uuid: string): Promise<void> {
    if (this.nodes.delete(uuid)) await this.flush();
  }

  /**
   * Writes the file. Changes made while a write is in flight are coalesced into one next write, so
   * a burst of N ensures costs a few writes, not N (each of the whole file).
   */
  private flush(): Promise<void> {
    this.next ??= this.writing.then(async () => {
      this.next = null;
      const doc: FileFormat = { version: 1, nodes: Object.fromEntries(this.nodes) };
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, JSON.stringify(doc, null, 2), { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, this.path);
    });
    this.writing = this.next.catch(() => undefined);
    return this.next;
  }
}
