import { status } from '@grpc/grpc-js';

/**
 * The stable set of tenks error codes. They cross gRPC in the `tenks-error-code` trailer, map to
 * gRPC status codes (below) and to tenksctl exit statuses (cli/exit-codes.ts).
 */
export const ErrorCode = {
  /** The thing asked for does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** Something of that name exists and is not ours or not compatible. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The spec or request is wrong; `field` names where. */
  INVALID_SPEC: 'INVALID_SPEC',
  /** Not enough memory, CPU, disk, ports or hosts. */
  CAPACITY: 'CAPACITY',
  /** A peer (libvirtd, an agent, NATS, Ironic) cannot be reached right now; retrying may help. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** Not allowed (credentials, certificates, file permissions). */
  PERMISSION: 'PERMISSION',
  /**
   * The object changed under us, or another operation holds it, or the request would undo what
   * exists (an apply deleting most of a cluster without prune).
   */
  CONFLICT: 'CONFLICT',
  /** A deadline passed. */
  TIMEOUT: 'TIMEOUT',
  /** The caller cancelled. */
  CANCELLED: 'CANCELLED',
  /** The host or server does not support what was asked. */
  UNSUPPORTED: 'UNSUPPORTED',
  /** A bug or an unexpected failure of a component. */
  INTERNAL: 'INTERNAL',
} as const;

/** One of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** gRPC status for each tenks code. */
export const grpcStatusOf: Record<ErrorCode, status> = {
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  INVALID_SPEC: status.INVALID_ARGUMENT,
  CAPACITY: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  PERMISSION: status.PERMISSION_DENIED,
  CONFLICT: status.ABORTED,
  TIMEOUT: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  UNSUPPORTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
};

/** Options of a {@link TenksError}. */
export interface TenksErrorOptions {
  /** The underlying error, kept for logs and `--debug`. */
  cause?: unknown;
  /** Path of the offending field in a spec or request, e.g. `specs[1].type`. */
  field?: string;
  /** What the user can do about it. */
  hint?: string;
  /** Further errors reported together with this one (validation reports every error at once). */
  details?: readonly FieldError[];
}

/** One validation problem. */
export interface FieldError {
  /** Path of the field, e.g. `node_types.type0.volumes[1].capacity`. */
  field: string;
  message: string;
}

/** The one error type of tenks. */
export class TenksError extends Error {
  override readonly name = 'TenksError';
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly hint: string | undefined;
  readonly details: readonly FieldError[];

  constructor(code: ErrorCode, message: string, options: TenksErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

/** True for a {@link TenksError} (also one restored from gRPC). */
export function isTenksError(e: unknown): e is TenksError {
  return e instanceof TenksError;
}

/** True when `code` is one of {@link ErrorCode}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCode, code);
}

/** Wraps anything thrown into a TenksError, keeping it as the cause. */
export function toTenksError(e: unknown, fallback: ErrorCode = 'INTERNAL'): TenksError {
  if (isTenksError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new TenksError(fallback, message, { cause: e });
}

/** Builds one INVALID_SPEC error that lists every problem, each with its path. */
export function invalidSpec(problems: readonly FieldError[], hint?: string): TenksError {
  const lines = problems.map((p) => `${p.field}: ${p.message}`);
  const first = problems[0];
  return new TenksError('INVALID_SPEC', lines.join('\n'), {
    ...(first ? { field: first.field } : {}),
    details: problems,
    ...(hint === undefined ? {} : { hint }),
  });
}
