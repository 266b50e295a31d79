import { z } from 'zod';
import { clusterSpecSchema } from './schema.js';

/** Where the generated schema is committed (relative to the repository root). */
export const CLUSTER_SCHEMA_PATH = 'deploy/schema/cluster.schema.json';

/**
 * The JSON Schema (draft-07, which yaml-language-server reads) of what a user may write: the input
 * side of {@link clusterSpecSchema}, so fields with defaults are optional. Cross-field rules are not
 * in it; `tenksctl validate` checks those. Regenerate the committed file with
 * `npx tsx scripts/gen-schema.ts`; a unit test fails when it is stale.
 */
export function clusterJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(clusterSpecSchema, {
    io: 'input',
    target: 'draft-07',
    override: (ctx) => {
      // zod writes the safe-integer bounds of every int; they say nothing to a reader.
      const s = ctx.jsonSchema as Record<string, unknown>;
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
    },
  });
}
