import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ErrorCode, grpcStatusOf, isErrorCode, TenksError, toTenksError, type FieldError } from '../errors.js';

/** Trailer keys that carry a TenksError across gRPC. */
export const TRAILER = {
  code: 'tenks-error-code',
  /** `-bin` keys travel base64-encoded, so any text (non-ASCII, newlines) is safe in them. */
  field: 'tenks-error-field-bin',
  hint: 'tenks-error-hint-bin',
  /** JSON array of FieldError. */
  details: 'tenks-error-details-bin',
} as const;

/** The error object grpc-js sends: always an integer `code`, so it never becomes UNKNOWN. */
export type WireError = Partial<ServiceError> & { code: status; details: string; metadata: Metadata };

/** Turns anything thrown by a handler into a gRPC error carrying the tenks code in the trailers. */
export function toWireError(e: unknown): WireError {
  const err = toTenksError(e);
  const metadata = new Metadata();
  metadata.set(TRAILER.code, err.code);
  if (err.field !== undefined) metadata.set(TRAILER.field, Buffer.from(err.field));
  if (err.hint !== undefined) metadata.set(TRAILER.hint, Buffer.from(err.hint));
  if (err.details.length > 0) metadata.set(TRAILER.details, Buffer.from(JSON.stringify(err.details)));
  return { name: 'TenksError', message: err.message, code: grpcStatusOf[err.code], details: err.message, metadata };
}

/**
 * The tenks code of a gRPC status a peer sent without one (a transport failure, or not a tenks
 * daemon): the inverse of `grpcStatusOf`, and UNAUTHENTICATED is PERMISSION too.
 */
const CODE_OF_STATUS: ReadonlyMap<status, ErrorCode> = new Map<status, ErrorCode>([
  ...Object.entries(grpcStatusOf).map(([code, s]) => [s, code as ErrorCode] as const),
  [status.UNAUTHENTICATED, 'PERMISSION'],
]);

function first(md: Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.toString('utf8');
}

function parseDetails(md: Metadata | undefined): FieldError[] {
  const raw = md?.get(TRAILER.details)[0];
  if (raw === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (d): d is FieldError =>
        typeof d === 'object' &&
        d !== null &&
        typeof (d as FieldError).field === 'string' &&
        typeof (d as FieldError).message === 'string',
    );
  } catch {
    return [];
  }
}

/** Restores the TenksError a peer sent, or maps a transport failure to the nearest tenks code. */
export function fromWireError(e: unknown, peer: string): TenksError {
  if (e instanceof TenksError) return e;
  const se = e as Partial<ServiceError>;
  if (typeof se.code !== 'number') return toTenksError(e);
  const sent = first(se.metadata, TRAILER.code);
  const code: ErrorCode = isErrorCode(sent) ? sent : (CODE_OF_STATUS.get(se.code) ?? 'INTERNAL');
  const field = first(se.metadata, TRAILER.field);
  const hint = first(se.metadata, TRAILER.hint);
  const message = isErrorCode(sent)
    ? (se.details ?? se.message ?? 'error')
    : `${peer}: ${se.details ?? se.message ?? 'error'}`;
  return new TenksError(code, message, {
    cause: e,
    details: parseDetails(se.metadata),
    ...(field === undefined ? {} : { field }),
    ...(hint === undefined ? {} : { hint }),
  });
}
