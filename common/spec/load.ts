import { readFile } from 'node:fs/promises';
import { parseYaml } from '../config.js';
import { TenksError } from '../errors.js';
import { compileClusterSpec, type CompiledClusterSpec } from './compile.js';

/**
 * Parses and compiles a cluster spec from YAML text. YAML syntax errors are reported as
 * `<source>:<line>:<col>`; spec errors by their path. Throws INVALID_SPEC.
 */
export function parseClusterSpec(text: string, source = 'cluster spec'): CompiledClusterSpec {
  return compileClusterSpec(parseYaml(text, source), source);
}

/** Reads, parses and compiles a cluster spec file. Throws NOT_FOUND when it cannot be read, else INVALID_SPEC. */
export async function loadClusterSpecFile(path: string): Promise<CompiledClusterSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TenksError('NOT_FOUND', `cannot read '${path}': ${(e as Error).message}`, { cause: e });
  }
  return parseClusterSpec(text, path);
}
