/**
 * The cluster spec half of bench:fuzz. Mutants (bench/fuzz-spec-mutate.ts) are made until
 * `specs` of them are malformed (the spec compiler in this process rejects them); each goes
 *
 * - through `tenksctl validate -f` (the real CLI, `node bin/tenksctl.js`, `parallel` at a time):
 *   a rejected spec must exit 2 with `code: INVALID_SPEC` and print exactly the compiler's
 *   `<field>: <message>` lines; a valid one must exit 0; neither may print a stack trace, a Node
 *   warning or other noise;
 * - through the coordinator, Plan and then (rejected ones only, so nothing valid is ever applied)
 *   Apply, over gRPC with CoordinatorWire: INVALID_SPEC with the same problems. Mutants holding
 *   invalid UTF-8 are also sent as raw bytes in the request's string field, as a client not
 *   written in JavaScript could.
 *
 * Every error must name a field path (`specs[1].type`, `file:line:col` for YAML syntax, `(root)`
 * only when the document is not a mapping) and must not read like an internal failure (a stack,
 * `undefined`, a JavaScript error name). The coordinator must answer GetInfo throughout.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { parse } from 'yaml';
import { isTenksError, parseClusterSpec, unaryCall, type CoordinatorWire, type FieldError } from '../common/index.js';
import { ApplyResponse, PlanResponse } from '../proto/gen/tenks/v1/coordinator.pb.js';
import { loadBaseSpecs, mutant, type Mutant } from './fuzz-spec-mutate.js';
import { Rng } from './fuzz-rng.js';
import { note, type Tally } from './fuzz-tally.js';

/** Options of {@link fuzzSpecs}. */
export interface SpecFuzzOptions {
  repo: string;
  /** Where the mutants are written (the CLI reads files). */
  dir: string;
  cluster: string;
  seed: number;
  /** Malformed specs wanted. */
  specs: number;
  /** tenksctl processes at a time. */
  parallel: number;
  coordinator: CoordinatorWire;
  say: (line: string) => void;
}

/** What the spec fuzz saw. */
export interface SpecFuzzResult {
  /** Malformed mutants (rejected by the compiler), each through the CLI and the coordinator. */
  specs: number;
  /** Mutants the compiler accepted (validate and Plan only). */
  valid_mutants: number;
  mutations: Record<string, number>;
  /** Rejections with an error that names no field path or reads like an internal failure. */
  spec_errors_without_path: number;
  errors_without_path: Tally;
  /** CLI runs that did not print exactly the expected result (exit status, lines, noise). */
  cli_mismatches: number;
  cli_mismatch_examples: Tally;
  /** Coordinator answers that were not INVALID_SPEC with the compiler's problems (or failed with INTERNAL). */
  coordinator_mismatches: number;
  coordinator_mismatch_examples: Tally;
  /** Valid mutants' Plan outcomes by code (CAPACITY etc. are fine; INTERNAL is a mismatch). */
  valid_plan_outcomes: Record<string, number>;
  raw_utf8_requests: number;
  cli_runs: number;
  cli_seconds_median: number;
  coordinator_calls: number;
  seconds: number;
}

/** Text that marks an internal failure rather than an explanation (quoted input is fine). */
const INTERNAL =
  /Maximum call stack|Cannot read propert|is not a function|is not iterable|(?<!')\bundefined\b(?!')|(?<!')\[object Object\](?!')|\b(RangeError|TypeError|ReferenceError|SyntaxError)\b|\.(ts|js|cjs):\d+|^\s+at /m;

/** Why an error does not name its field, or null. `rootWrong`: the document is not a mapping. */
function pathProblem(e: FieldError, rootWrong: boolean): string | null {
  if (e.field.trim() === '') return 'empty field';
  if (e.field === '(root)' && !rootWrong && !/key here is a (list|mapping)/.test(e.message))
    return '(root) for a mapping';
  if (INTERNAL.test(e.field)) return `internal text in the field: ${INTERNAL.exec(e.field)?.[0] ?? ''}`;
  if (INTERNAL.test(e.message)) return `internal text in the message: ${INTERNAL.exec(e.message)?.[0] ?? ''}`;
  return null;
}

/** The compiler's verdict on a mutant: its problems, or null when valid. */
function compileLocally(m: Mutant, file: string): { errors: FieldError[] | null; internal: string | null } {
  try {
    parseClusterSpec(m.bytes.toString('utf8'), file);
    return { errors: null, internal: null };
  } catch (e) {
    if (isTenksError(e) && e.code === 'INVALID_SPEC')
      return {
        errors: e.details.length > 0 ? [...e.details] : [{ field: e.field ?? '', message: e.message }],
        internal: null,
      };
    return { errors: [], internal: `${isTenksError(e) ? e.code : (e as Error).name}: ${(e as Error).message}` };
  }
}

/** Whether the YAML is a document whose root is not a mapping (where `(root)` is the right place). */
function rootIsNotMapping(bytes: Buffer): boolean {
  try {
    // logLevel 'error': the library would print its warnings (unknown tags, ...) on this process's stderr.
    const v: unknown = parse(bytes.toString('utf8'), { logLevel: 'error' });
    return typeof v !== 'object' || v === null || Array.isArray(v);
  } catch {
    return false;
  }
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function runCli(repo: string, file: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repo, 'bin/tenksctl.js'), 'validate', '-f', file], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** Why a CLI run is not what the compiler's verdict says it must be, or null. */
function cliProblem(run: CliRun, errors: FieldError[] | null): string | null {
  if (/^\s+at .+:\d+:\d+\)?$/m.test(run.stderr)) return 'a stack trace on stderr';
  if (/\(node:\d+\)|Warning:/.test(run.stderr)) return 'a Node warning on stderr';
  if (errors === null) {
    if (run.code !== 0) return `exit ${String(run.code)} for a valid spec: ${run.stderr.slice(0, 200)}`;
    if (run.stderr.split('\n').some((l) => l !== '' && !l.startsWith('warning: '))) return 'stderr beyond warnings';
    return /^spec .* is valid/.test(run.stdout) ? null : 'no "is valid" line';
  }
  if (run.code !== 2) return `exit ${String(run.code)} for a malformed spec`;
  if (run.stdout !== '') return 'output on stdout for a malformed spec';
  const lines = run.stderr.split('\n');
  if (!lines[0]?.startsWith('error: ')) return 'stderr does not start with "error: "';
  if (!lines.includes('  code: INVALID_SPEC')) return 'no "code: INVALID_SPEC" line';
  const printed = run.stderr.replace(/^error: /, '       ');
  for (const e of errors) {
    const want = `${e.field}: ${e.message}`.split('\n');
    if (!want.every((l) => printed.includes(l))) return `the problem "${want[0] ?? ''}" is not printed`;
  }
  return null;
}

/** A PlanRequest / ApplyRequest encoded by hand, so its string field can hold invalid UTF-8. */
function rawRequest(specYaml: Buffer, source: string): Buffer {
  const field = (tag: number, bytes: Buffer): Buffer => {
    const len: number[] = [];
    let n = bytes.length;
    while (n > 0x7f) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    return Buffer.concat([Buffer.from([tag, ...len]), bytes]);
  };
  return Buffer.concat([field(0x0a, specYaml), field(0x12, Buffer.from(source))]);
}

/** Plan or Apply with a hand-encoded request. */
function rawCall(api: CoordinatorWire, method: 'Plan' | 'Apply', body: Buffer): Promise<unknown> {
  const decode = (b: Buffer): unknown => (method === 'Plan' ? PlanResponse.decode(b) : ApplyResponse.decode(b));
  return unaryCall(
    'coordinator',
    (md: Metadata, opts, cb) =>
      api.raw.makeUnaryRequest(
        `/tenks.v1.CoordinatorService/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => decode(b),
        body,
        md,
        opts,
        cb,
      ),
    { timeoutMs: 30_000 },
  );
}

/** Why a coordinator answer to a malformed spec is wrong, or null. */
function coordinatorProblem(outcome: unknown, errors: FieldError[], exact: boolean): string | null {
  if (!(outcome instanceof Error)) return 'accepted';
  if (!isTenksError(outcome)) return `not a TenksError: ${String(outcome)}`;
  if (outcome.code !== 'INVALID_SPEC') return `${outcome.code}: ${outcome.message.slice(0, 200)}`;
  const got = outcome.details.map((d) => (exact ? `${d.field}: ${d.message}` : d.field)).sort();
  const want = errors.map((d) => (exact ? `${d.field}: ${d.message}` : d.field)).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) return `other problems: ${JSON.stringify(got).slice(0, 300)}`;
  return null;
}

async function settle<T>(p: Promise<T>): Promise<T | Error> {
  try {
    return await p;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Runs the spec fuzz. */
export async function fuzzSpecs(opts: SpecFuzzOptions): Promise<SpecFuzzResult> {
  const t0 = performance.now();
  const bases = loadBaseSpecs(opts.repo);
  const rng = new Rng(opts.seed, 'specs');
  await mkdir(opts.dir, { recursive: true });
  const mutants: { m: Mutant; file: string; errors: FieldError[] | null }[] = [];
  const mutations: Record<string, number> = {};
  let rejected = 0;
  const withoutPath: Tally = {};
  let withoutPathCount = 0;
  const coordinatorBad: Tally = {};
  let coordinatorBadCount = 0;
  // Up to twice as many as wanted: most mutants are malformed, a few survive compilation.
  for (let i = 0; rejected < opts.specs && i < opts.specs * 2; i++) {
    const m = mutant(rng, bases, opts.cluster, i);
    const file = join(opts.dir, m.file);
    await writeFile(file, m.bytes);
    const local = compileLocally(m, file);
    for (const k of m.mutations) mutations[k] = (mutations[k] ?? 0) + 1;
    if (local.internal !== null) {
      // Not INVALID_SPEC at all: an error without a path by definition.
      withoutPathCount++;
      note(withoutPath, 'not INVALID_SPEC', `${m.file}: ${local.internal}`, 500);
    }
    if (local.errors !== null) {
      rejected++;
      const rootWrong = rootIsNotMapping(m.bytes);
      let bad = false;
      for (const e of local.errors) {
        const p = pathProblem(e, rootWrong);
        if (p) {
          bad = true;
          note(withoutPath, p.replace(/: .*/, ''), `${m.file}: ${e.field}: ${e.message}`, 500);
        }
      }
      if (bad) withoutPathCount++;
    }
    mutants.push({ m, file, errors: local.errors });
  }
  opts.say(
    `specs: ${mutants.length} mutants written, ${rejected} malformed by the compiler, ${withoutPathCount} without a path`,
  );

  // The CLI, `parallel` processes at a time, and the coordinator, one call at a time, side by side.
  let cliBadCount = 0;
  const cliBad: Tally = {};
  const cliSeconds: number[] = [];
  let next = 0;
  const cliWorker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const x = mutants[i];
      if (!x) return;
      const run = await runCli(opts.repo, x.file);
      cliSeconds.push(run.seconds);
      const p = cliProblem(run, x.errors);
      if (p) {
        cliBadCount++;
        note(
          cliBad,
          p.replace(/"[^"]*"|\d+/g, '_').slice(0, 60),
          `${x.m.file}: ${p}\n${run.stderr.slice(0, 300)}`,
          500,
        );
      }
      if ((i + 1) % 200 === 0)
        opts.say(`specs: tenksctl validate ${i + 1}/${mutants.length}, ${cliBadCount} mismatches`);
    }
  };
  const validPlans: Record<string, number> = {};
  let coordinatorCalls = 0;
  let rawUtf8 = 0;
  const coordinatorWorker = async (): Promise<void> => {
    for (const [i, x] of mutants.entries()) {
      const text = x.m.bytes.toString('utf8');
      const plan = await settle(opts.coordinator.plan(text, x.file, { timeoutMs: 30_000 }));
      coordinatorCalls++;
      const problems: string[] = [];
      if (x.errors === null) {
        let code = plan instanceof Error ? (isTenksError(plan) ? plan.code : 'NOT_TENKS') : 'OK';
        // The bench's coordinator has no cloud: a valid spec that enrols nodes or wants flavors is
        // refused at plan time, naming `cloud`, before anything is created.
        if (code === 'INVALID_SPEC' && isTenksError(plan) && plan.field === 'cloud') code = 'INVALID_SPEC(cloud)';
        validPlans[code] = (validPlans[code] ?? 0) + 1;
        if (code === 'INTERNAL' || code === 'NOT_TENKS' || code === 'INVALID_SPEC')
          problems.push(`Plan of a valid spec: ${code} ${plan instanceof Error ? plan.message.slice(0, 200) : ''}`);
      } else {
        const p = coordinatorProblem(plan, x.errors, true);
        if (p) problems.push(`Plan: ${p}`);
        const apply = await settle(opts.coordinator.apply(text, x.file, { timeoutMs: 30_000 }));
        coordinatorCalls++;
        const a = coordinatorProblem(apply, x.errors, true);
        if (a) problems.push(`Apply: ${a}`);
        if (x.m.mutations.includes('invalid-utf8')) {
          // Raw bytes: the server decodes them (with replacement characters, as the CLI's read does).
          rawUtf8++;
          const body = rawRequest(x.m.bytes, x.file);
          for (const method of ['Plan', 'Apply'] as const) {
            const r = await settle(rawCall(opts.coordinator, method, body));
            coordinatorCalls++;
            const rp = coordinatorProblem(r, x.errors, false);
            if (rp) problems.push(`raw ${method}: ${rp}`);
          }
        }
      }
      if (problems.length > 0) {
        coordinatorBadCount++;
        note(
          coordinatorBad,
          (problems[0] ?? '').replace(/:.*/, '').slice(0, 60),
          `${x.m.file}: ${problems.join('; ')}`,
          500,
        );
      }
      if ((i + 1) % 100 === 0) {
        await opts.coordinator.getInfo({ timeoutMs: 10_000 });
        if ((i + 1) % 200 === 0)
          opts.say(`specs: coordinator ${i + 1}/${mutants.length}, ${coordinatorBadCount} mismatches`);
      }
    }
  };
  await Promise.all([coordinatorWorker(), ...Array.from({ length: opts.parallel }, cliWorker)]);
  cliSeconds.sort((a, b) => a - b);
  return {
    specs: rejected,
    valid_mutants: mutants.length - rejected,
    mutations,
    spec_errors_without_path: withoutPathCount,
    errors_without_path: withoutPath,
    cli_mismatches: cliBadCount,
    cli_mismatch_examples: cliBad,
    coordinator_mismatches: coordinatorBadCount,
    coordinator_mismatch_examples: coordinatorBad,
    valid_plan_outcomes: validPlans,
    raw_utf8_requests: rawUtf8,
    cli_runs: cliSeconds.length,
    cli_seconds_median: Math.round((cliSeconds[cliSeconds.length >> 1] ?? 0) * 1000) / 1000,
    coordinator_calls: coordinatorCalls,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}
