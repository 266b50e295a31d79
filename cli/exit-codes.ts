import { isErrorCode, type ErrorCode, type OperationState } from '../common/index.js';

/** tenksctl exit statuses. Stable: scripts may rely on them (documented in README). */
export const ExitCode = {
  OK: 0,
  /** Internal error or a bug. */
  INTERNAL: 1,
  /** Bad command line or invalid spec. */
  INVALID: 2,
  NOT_FOUND: 3,
  /** Exists already, or another operation holds it. */
  CONFLICT: 4,
  /** A daemon could not be reached, or a deadline passed. */
  UNAVAILABLE: 5,
  PERMISSION: 6,
  CAPACITY: 7,
  UNSUPPORTED: 8,
  /** Interrupted (Ctrl-C). */
  CANCELLED: 130,
} as const;

/** Exit status for each tenks error code. */
export const exitCodeOf: Record<ErrorCode, number> = {
  NOT_FOUND: ExitCode.NOT_FOUND,
  ALREADY_EXISTS: ExitCode.CONFLICT,
  INVALID_SPEC: ExitCode.INVALID,
  CAPACITY: ExitCode.CAPACITY,
  UNAVAILABLE: ExitCode.UNAVAILABLE,
  PERMISSION: ExitCode.PERMISSION,
  CONFLICT: ExitCode.CONFLICT,
  TIMEOUT: ExitCode.UNAVAILABLE,
  CANCELLED: ExitCode.CANCELLED,
  UNSUPPORTED: ExitCode.UNSUPPORTED,
  INTERNAL: ExitCode.INTERNAL,
};

/** Default hints per code, when the error carries none. */
export const defaultHint: Partial<Record<ErrorCode, string>> = {
  UNAVAILABLE: 'is the daemon running and reachable? check --agent/--coordinator and the TLS files',
  PERMISSION: 'check the certificates (--ca, --cert, --key) were made by the same CA as the daemon',
  INVALID_SPEC: 'fix the fields named above and run again',
  TIMEOUT: 'raise --timeout, or check the daemon log',
};

/** What {@link operationExitStatus} needs of an operation. */
export interface OperationOutcome {
  state: OperationState;
  /** Why the operation failed as a whole ('' when only some nodes failed). */
  errorCode: string;
  results: readonly { ok: boolean; errorCode: string }[];
}

/**
 * tenksctl's exit status for an ended operation: 0 when it succeeded, 130 when it was cancelled;
 * when it failed, the status of the operation's error code, else of the first failed node's code,
 * else 1 (a failure nobody explained). An operation that has not ended is 1 too: the caller decides.
 */
export function operationExitStatus(op: OperationOutcome): number {
  switch (op.state) {
    case 'succeeded':
      return ExitCode.OK;
    case 'cancelled':
      return ExitCode.CANCELLED;
    case 'failed': {
      if (isErrorCode(op.errorCode)) return exitCodeOf[op.errorCode];
      const failed = op.results.find((r) => !r.ok && isErrorCode(r.errorCode));
      if (failed !== undefined && isErrorCode(failed.errorCode)) return exitCodeOf[failed.errorCode];
      return ExitCode.INTERNAL;
    }
    default:
      return ExitCode.INTERNAL;
  }
}
