/**
 * How an operation's progress is shown on stderr: a live task list with a progress bar on a
 * terminal, plain lines otherwise (CI logs, pipes, `-o json`), or a stream of events (`watch`).
 * The final per-node summary is {@link summaryLines}.
 */
import { isErrorCode, type OpEvent } from '../common/index.js';
import type { OperationProgress, StepState } from './progress.js';
import { stepLabel } from './progress.js';
import { isoTime } from './present-coordinator.js';
import { table } from './output.js';
import { painter, type Paint } from './style.js';

/** Receives what the follow loop learns. */
export interface ProgressView {
  /** Once, before anything else. */
  start(p: OperationProgress): void;
  /** After an event (`ev`) or a snapshot (`ev` null) changed `changed` (maybe none). */
  update(p: OperationProgress, changed: readonly StepState[], ev: OpEvent | null): void;
  /** A notice for the user (NATS unreachable, cancelling, ...). */
  note(line: string): void;
  /** Once, when the loop ends: clears anything live. */
  stop(p: OperationProgress): void;
}

/** Where a view writes. */
export interface ViewStream {
  write(s: string): unknown;
  columns?: number;
}

function onHost(s: StepState): string {
  return s.node !== '' && s.hypervisor !== '' ? ` (${s.hypervisor})` : '';
}

/** The plain line for a step's new status, or null when it is not worth a line (started). */
export function stepLine(s: StepState): string | null {
  const label = stepLabel(s);
  switch (s.status) {
    case 'ok':
      return `${label} ok${onHost(s)}`;
    case 'failed':
      if (s.code === 'CANCELLED') return `${label} cancelled${onHost(s)}`;
      return `${label} failed${onHost(s)}: ${s.code}: ${s.message}`;
    case 'retrying':
      return `${label} retrying${onHost(s)}: ${s.code}: ${s.message}`;
    case 'unfinished':
      return `${label} not finished${onHost(s)}`;
    case 'running':
      return null;
  }
}

/** One line per step outcome, no escape codes: for logs and pipes. */
export class PlainProgressView implements ProgressView {
  constructor(private readonly out: ViewStream) {}

  start(): void {
    // Nothing until something happens: the command already said which operation started.
  }

  update(_p: OperationProgress, changed: readonly StepState[]): void {
    for (const s of changed) {
      const l = stepLine(s);
      if (l !== null) this.out.write(l + '\n');
    }
  }

  note(line: string): void {
    this.out.write(line + '\n');
  }

  stop(): void {
    // Nothing live to clear.
  }
}

/** `[=====>    ]` of `width` cells. */
export function progressBar(done: number, total: number, width = 24): string {
  if (total <= 0) return `[${' '.repeat(width)}]`;
  const filled = Math.min(width, Math.floor((done / total) * width));
  const head = filled < width ? '>' : '';
  return `[${'='.repeat(filled)}${head}${' '.repeat(Math.max(0, width - filled - head.length))}]`;
}

/** `12s`, `3m04s`, `1h02m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

/** `line` when it fits in `width` columns, else its text (colour dropped) cut with an ellipsis. */
export function fitLine(line: string, width: number): string {
  const plain = line.replace(ANSI, '');
  if (plain.length <= width) return line;
  return plain.slice(0, Math.max(0, width - 1)) + '…';
}

/** Most running steps listed under the bar. */
const MAX_RUNNING_LINES = 8;
const REDRAW_MS = 100;
const TICK_MS = 1000;

/**
 * The live view (a terminal): a bar and the running steps, redrawn in place with ANSI escapes;
 * failed steps and notices are printed above it and stay.
 */
export class LiveProgressView implements ProgressView {
  private drawn = 0;
  private dirty = false;
  private redrawTimer: NodeJS.Timeout | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private progress: OperationProgress | null = null;
  private readonly paint: Paint;
  private readonly startedMs: number;

  constructor(
    private readonly out: ViewStream,
    color: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.paint = painter(color);
    this.startedMs = now();
  }

  start(p: OperationProgress): void {
    this.progress = p;
    this.ticker = setInterval(() => {
      this.draw();
    }, TICK_MS);
    this.ticker.unref();
    this.draw();
  }

  update(p: OperationProgress, changed: readonly StepState[]): void {
    this.progress = p;
    const lasting = changed.filter((s) => s.status === 'failed' || s.status === 'retrying');
    if (lasting.length > 0) {
      this.clear();
      for (const s of lasting) {
        const l = stepLine(s);
        if (l !== null) this.out.write(this.paint(s.status === 'failed' ? 'red' : 'yellow', this.fit(l)) + '\n');
      }
      this.draw();
      return;
    }
    if (!this.dirty) {
      this.dirty = true;
      this.redrawTimer = setTimeout(() => {
        this.redrawTimer = null;
        this.draw();
      }, REDRAW_MS);
      this.redrawTimer.unref();
    }
  }

  note(line: string): void {
    this.clear();
    this.out.write(this.paint('yellow', line) + '\n');
    this.draw();
  }

  stop(p: OperationProgress): void {
    this.progress = p;
    if (this.ticker) clearInterval(this.ticker);
    if (this.redrawTimer) clearTimeout(this.redrawTimer);
    this.ticker = null;
    this.redrawTimer = null;
    this.clear();
    this.out.write(this.fit(this.barLine(p)) + '\n');
  }

  /** The lines of the live block (exported for tests through {@link liveLines}). */
  lines(p: OperationProgress): string[] {
    const running = p.steps().filter((s) => s.status === 'running');
    const lines = [this.barLine(p)];
    for (const s of running.slice(0, MAX_RUNNING_LINES))
      lines.push(this.paint('dim', `  ${stepLabel(s)} …${onHost(s)}`));
    if (running.length > MAX_RUNNING_LINES)
      lines.push(this.paint('dim', `  … ${running.length - MAX_RUNNING_LINES} more`));
    return lines;
  }

  private barLine(p: OperationProgress): string {
    const failed = p.stepsWith('failed').length;
    const running = p.stepsWith('running').length + p.stepsWith('retrying').length;
    const bits = [`${progressBar(p.done, p.total)} ${p.done}/${p.total}`, duration(this.now() - this.startedMs)];
    if (p.ended) bits.push(p.stateName);
    else {
      bits.push(`${running} running`);
      if (failed > 0) bits.push(this.paint('red', `${failed} failed`));
    }
    return bits.join('  ');
  }

  /** Cuts a line to the terminal width, so that none wraps and the redraw moves up the right count. */
  private fit(line: string): string {
    const cols = this.out.columns;
    return fitLine(line, (cols !== undefined && cols > 0 ? cols : 80) - 1);
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.dirty = false;
    if (!this.progress) return;
    const lines = this.lines(this.progress).map((l) => this.fit(l));
    this.clear();
    this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }
}

/** A plain one-line rendering of an event (`watch`). */
export function eventLine(ev: OpEvent): string {
  const head = `${isoTime(ev.timeMs)}  ${ev.op}  ${ev.cluster}  `;
  switch (ev.type) {
    case 'operation_started':
      return `${head}operation started: ${ev.kind}, ${ev.actions} actions`;
    case 'step_started':
      return `${head}${stepLabel(ev)} started${ev.node !== '' && ev.hypervisor !== '' ? ` (${ev.hypervisor})` : ''}`;
    case 'step_finished':
      return `${head}${stepLabel(ev)} ok${ev.node !== '' && ev.hypervisor !== '' ? ` (${ev.hypervisor})` : ''}${ev.changes.length > 0 ? `: ${ev.changes.join(', ')}` : ''}`;
    case 'step_failed':
      return `${head}${stepLabel(ev)} ${ev.retrying ? 'retrying' : 'failed'}${ev.node !== '' && ev.hypervisor !== '' ? ` (${ev.hypervisor})` : ''}: ${ev.code}: ${ev.message}`;
    case 'operation_done':
      return `${head}operation ${ev.state}: ${ev.succeeded} ok, ${ev.failed} failed${ev.code !== undefined ? `: ${ev.code}: ${ev.message ?? ''}` : ''}`;
  }
}

/** An event for a step outcome learnt from a snapshot (its event was missed), or null. */
export function eventOfStep(p: OperationProgress, s: StepState, timeMs: number): OpEvent | null {
  const base = {
    op: p.id,
    cluster: p.operation.cluster,
    timeMs,
    node: s.node,
    hypervisor: s.hypervisor,
    action: s.action,
  };
  if (s.status === 'ok') return { ...base, type: 'step_finished', changes: [...s.changes] };
  if (s.status === 'failed')
    return {
      ...base,
      type: 'step_failed',
      code: isErrorCode(s.code) ? s.code : 'INTERNAL',
      message: s.message,
      retrying: false,
    };
  return null;
}

/**
 * `watch OPERATION_ID`: every event as a line (or JSON line) on stdout. Step outcomes only a
 * snapshot showed (events missed, or no NATS) are written as the events they stand for, and an
 * `operation_done` is written at the end when none arrived.
 */
export class EventStreamView implements ProgressView {
  private sawDone = false;

  constructor(
    private readonly out: ViewStream,
    private readonly notes: ViewStream,
    private readonly json: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  private emit(ev: OpEvent): void {
    this.out.write((this.json ? JSON.stringify(ev) : eventLine(ev)) + '\n');
  }

  /** Outcomes already in the first snapshot happened before we watched: written as their events. */
  start(p: OperationProgress): void {
    this.synthesize(p, p.steps());
  }

  private synthesize(p: OperationProgress, steps: readonly StepState[]): void {
    for (const s of steps) {
      const e = eventOfStep(p, s, this.now());
      if (e !== null) this.emit(e);
    }
  }

  update(p: OperationProgress, changed: readonly StepState[], ev: OpEvent | null): void {
    if (ev !== null) {
      if (ev.op !== p.id) return;
      if (ev.type === 'operation_done') this.sawDone = true;
      this.emit(ev);
      return;
    }
    this.synthesize(p, changed);
  }

  note(line: string): void {
    this.notes.write(line + '\n');
  }

  stop(p: OperationProgress): void {
    if (this.sawDone || !p.ended) return;
    const steps = p.steps();
    const state = p.stateName;
    this.emit({
      op: p.id,
      cluster: p.operation.cluster,
      timeMs: p.operation.finishedUnixMs || this.now(),
      type: 'operation_done',
      state: state === 'succeeded' || state === 'cancelled' ? state : 'failed',
      succeeded: steps.filter((s) => s.status === 'ok').length,
      failed: steps.filter((s) => s.status === 'failed').length,
      ...(isErrorCode(p.current.errorCode) ? { code: p.current.errorCode, message: p.current.errorMessage } : {}),
    });
  }
}

/** What the summary calls a step's outcome: a step failed with CANCELLED was cancelled. */
function outcome(s: StepState): string {
  switch (s.status) {
    case 'failed':
      return s.code === 'CANCELLED' ? 'cancelled' : 'failed';
    case 'unfinished':
      return 'not finished';
    default:
      return s.status;
  }
}

/** The end of an apply/delete/teardown: a headline, the operation's error, and one row per step. */
export function summaryLines(p: OperationProgress, color: boolean): string[] {
  const paint = painter(color);
  const op = p.current;
  const steps = p.steps();
  const count = (name: string): number => steps.filter((s) => outcome(s) === name).length;
  const ok = count('ok');
  const failed = count('failed');
  const cancelled = count('cancelled');
  const other = steps.length - ok - failed - cancelled;
  const took =
    op.startedUnixMs > 0 && op.finishedUnixMs >= op.startedUnixMs
      ? ` in ${duration(op.finishedUnixMs - op.startedUnixMs)}`
      : '';
  const state = op.state;
  const tally =
    steps.length === 0
      ? 'nothing to do'
      : `${ok} ok, ${failed} failed${cancelled > 0 ? `, ${cancelled} cancelled` : ''}${other > 0 ? `, ${other} not finished` : ''}`;
  const stateColour = state === 'succeeded' ? 'green' : state === 'running' || state === 'pending' ? 'yellow' : 'red';
  const head = `${op.kind || 'operation'}${op.cluster ? ` ${op.cluster}` : ''}: ${paint(stateColour, state)}${took} (${tally})  [${op.id}]`;
  const out = [head];
  if (op.errorCode !== '') out.push(paint('red', `error: ${op.errorCode}: ${op.errorMessage}`));
  if (steps.length === 0) return out;
  const rows = table(steps, [
    { header: 'NODE', cell: (s) => (s.node !== '' ? s.node : s.hypervisor || '-') },
    { header: 'ACTION', cell: (s) => s.action },
    { header: 'RESULT', cell: outcome },
    { header: 'HYPERVISOR', cell: (s) => s.hypervisor || '-' },
    {
      header: 'DETAIL',
      cell: (s) =>
        (s.status === 'failed' && s.code !== 'CANCELLED') || s.status === 'retrying'
          ? `${s.code}: ${s.message}`
          : s.changes.length > 0
            ? s.changes.join(', ')
            : '-',
    },
  ]);
  return [...out, ...rows.trimEnd().split('\n')];
}
