/**
 * BMC credentials and ports of this agent's nodes, in one JSON file readable only by the agent
 * (mode 0600), so BMCs come back after a restart with the same ports and passwords.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { TenksError, zodErrors } from '../../common/index.js';

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

const recordSchema: z.ZodType<BmcRecord> = z.object({
  name: z.string(),
  username: z.string(),
  password: z.string(),
  ipmiPort: z.number().int().min(0).max(65535),
  redfish: z.boolean(),
});

/** The file: its format version and the records by node UUID. */
const fileSchema = z.object({ version: z.literal(1), nodes: z.record(z.string(), recordSchema) });

type FileFormat = z.infer<typeof fileSchema>;

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
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new TenksError('INTERNAL', `BMC credentials file '${this.path}' is not valid JSON`, { cause: e });
    }
    const parsed = fileSchema.safeParse(doc);
    if (!parsed.success) {
      // Field paths and zod's messages only: a record's password never appears (zod does not quote values).
      const problems = zodErrors(parsed.error).map((p) => `${p.field}: ${p.message}`);
      throw new TenksError('INTERNAL', `BMC credentials file '${this.path}' is not valid: ${problems.join('; ')}`, {
        cause: parsed.error,
      });
    }
    this.nodes = new Map(Object.entries(parsed.data.nodes));
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
