/** `tenksctl validate|plan|apply -f SPEC.yaml [-f ...]`: a cluster spec, checked here and sent to the coordinator. */
import { readFile } from 'node:fs/promises';
import {
  TenksError,
  describeNameSource,
  isTenksError,
  parseClusterSpecFiles,
  type CompiledClusterSpec,
  type MergedClusterSpec,
  type SpecFile,
} from '../common/index.js';
import { callOpts, fieldLine, warn, type CoordinatorContext, type CoordinatorFlags } from './coordinator-context.js';
import { ExitCode } from './exit-codes.js';
import { runOperation } from './operation-commands.js';
import { emit } from './output.js';
import { clusterLine, planJson, renderPlan } from './plan-render.js';
import { useColor } from './style.js';
import { usageError } from './usage.js';

/** The -f files of `command`; a usage error when there are none. */
export function needFiles(flags: CoordinatorFlags, command: string): string[] {
  const files = [...(flags.files ?? (flags.file === undefined ? [] : [flags.file]))];
  if (files.length === 0 || files.includes(''))
    throw usageError(`${command} needs the cluster spec: tenksctl ${command} -f FILE [-f FILE ...]`, '-f');
  return files;
}

/**
 * Reads the spec files, merges them in order (a later file's top-level keys replace the earlier
 * ones, see common/spec/spec-files.ts) and validates the result locally; INVALID_SPEC lists every
 * problem with its path (and, of several files, the file of its key).
 */
async function loadSpec(files: readonly string[]): Promise<MergedClusterSpec> {
  const read: SpecFile[] = [];
  for (const file of files) {
    try {
      read.push({ source: file, text: await readFile(file, 'utf8') });
    } catch (e) {
      throw new TenksError('NOT_FOUND', `cannot read '${file}': ${(e as Error).message}`, { cause: e, field: '-f' });
    }
  }
  return parseClusterSpecFiles(read);
}

function nodeCount(c: CompiledClusterSpec): number {
  return c.spec.specs.reduce((n, s) => n + s.count, 0);
}

/** `validate`: offline; `-o json|yaml` reports an invalid spec as data (exit 2). */
export async function validate(ctx: CoordinatorContext, files: readonly string[]): Promise<number> {
  const file = files.join(' + ');
  let loaded: MergedClusterSpec;
  try {
    loaded = await loadSpec(files);
  } catch (e) {
    if (ctx.format !== 'table' && isTenksError(e) && e.code === 'INVALID_SPEC') {
      const errors = e.details.length > 0 ? e.details : [{ field: e.field ?? '(root)', message: e.message }];
      emit(ctx.format, { valid: false, file, files, nodes: 0, warnings: [], errors }, () => '');
      return ExitCode.INVALID;
    }
    throw e;
  }
  const { spec, warnings } = loaded.compiled;
  warn(ctx, warnings.map(fieldLine));
  const nodes = nodeCount(loaded.compiled);
  const nameSource = describeNameSource(spec);
  const data = {
    valid: true,
    file,
    files,
    cluster: spec.name,
    name_source: nameSource,
    state_file_path: spec.stateFilePath,
    nodes,
    specs: spec.specs.length,
    flavors: spec.novaFlavors.length,
    warnings,
    errors: [],
  };
  emit(
    ctx.format,
    data,
    () =>
      `spec ${file} is valid: ${nodes} node${nodes === 1 ? '' : 's'} in ${spec.specs.length} spec${spec.specs.length === 1 ? '' : 's'}, ${spec.novaFlavors.length} flavor${spec.novaFlavors.length === 1 ? '' : 's'}\n` +
      `${clusterLine(spec.name, nameSource)}\n`,
  );
  return ExitCode.OK;
}

/** `plan`: what an apply would do; warnings on stderr. */
export async function plan(ctx: CoordinatorContext, files: readonly string[], prune: boolean): Promise<number> {
  const { specYaml, source, compiled } = await loadSpec(files);
  const api = await ctx.api();
  const p = await api.plan(specYaml, source, { ...callOpts(ctx), prune });
  // A coordinator from before name_source: say it from the local compile.
  if (p.nameSource === '') p.nameSource = describeNameSource(compiled.spec);
  warn(ctx, [...compiled.warnings.map(fieldLine), ...p.warnings, ...(p.pruneRequired !== '' ? [p.pruneRequired] : [])]);
  emit(ctx.format, planJson(p), () => renderPlan(p, { color: useColor(ctx.stdout, ctx.env) }).join('\n') + '\n');
  return ExitCode.OK;
}

/** `apply`: starts the operation and follows it to its end. */
export async function apply(ctx: CoordinatorContext, files: readonly string[], prune: boolean): Promise<number> {
  const { specYaml, source, compiled } = await loadSpec(files);
  warn(ctx, compiled.warnings.map(fieldLine));
  const api = await ctx.api();
  return runOperation(
    ctx,
    () => api.apply(specYaml, source, { ...callOpts(ctx, true), prune }),
    compiled.warnings.map(fieldLine),
  );
}
