/**
 * Writes deploy/schema/cluster.schema.json, the JSON Schema of cluster specs for editors
 * (yaml-language-server: `# yaml-language-server: $schema=<path or URL of cluster.schema.json>`).
 *
 *   npx tsx scripts/gen-schema.ts           # regenerate
 *   npx tsx scripts/gen-schema.ts --check   # exit 1 if the committed file is stale
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { CLUSTER_SCHEMA_PATH, clusterJsonSchema } from '../common/spec/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const path = join(root, CLUSTER_SCHEMA_PATH);
const options = (await resolveConfig(path)) ?? {};
const text = await format(JSON.stringify(clusterJsonSchema()), { ...options, parser: 'json', filepath: path });

if (process.argv.includes('--check')) {
  const committed = await readFile(path, 'utf8').catch(() => '');
  if (committed !== text) {
    process.stderr.write(`${CLUSTER_SCHEMA_PATH} is stale: run npx tsx scripts/gen-schema.ts\n`);
    process.exitCode = 1;
  }
} else {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  process.stdout.write(`wrote ${CLUSTER_SCHEMA_PATH}\n`);
}
