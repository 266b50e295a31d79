import { parseYaml, readYamlFile } from '../config.js';
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
  return compileClusterSpec(await readYamlFile(path), path);
}
