/** Redfish errors: an HTTP status and a Base registry message, rendered in the Redfish error format. */
import { isTenksError, type ErrorCode } from '../../../common/index.js';

/** Message ids of the Base message registry tenks uses. */
export const MessageId = {
  GENERAL: 'Base.1.8.GeneralError',
  NO_SESSION: 'Base.1.8.NoValidSession',
  MISSING: 'Base.1.8.ResourceMissingAtURI',
  NOT_ALLOWED: 'Base.1.8.OperationNotAllowed',
  PROPERTY_MISSING: 'Base.1.8.PropertyMissing',
  PROPERTY_VALUE: 'Base.1.8.PropertyValueNotInList',
  PROPERTY_TYPE: 'Base.1.8.PropertyValueTypeError',
  PROPERTY_UNKNOWN: 'Base.1.8.PropertyUnknown',
  ACTION_PARAMETER: 'Base.1.8.ActionParameterNotSupported',
  ACTION_PARAMETER_MISSING: 'Base.1.8.ActionParameterMissing',
  MALFORMED_JSON: 'Base.1.8.MalformedJSON',
  PRECONDITION: 'Base.1.8.PreconditionFailed',
  CONFLICT: 'Base.1.8.ResourceInUse',
  NOT_SUPPORTED: 'Base.1.8.ActionNotSupported',
  UNAVAILABLE: 'Base.1.8.ServiceTemporarilyUnavailable',
  TOO_LARGE: 'Base.1.8.PayloadTooLarge',
} as const;

/** One of {@link MessageId}. */
export type MessageId = (typeof MessageId)[keyof typeof MessageId];

/** A failed Redfish request. */
export class RedfishError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly messageId: MessageId = MessageId.GENERAL,
    /** Extra response headers (`WWW-Authenticate`, `Allow`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, [number, MessageId]>> = {
  NOT_FOUND: [404, MessageId.MISSING],
  INVALID_SPEC: [400, MessageId.PROPERTY_VALUE],
  CONFLICT: [409, MessageId.CONFLICT],
  ALREADY_EXISTS: [409, MessageId.CONFLICT],
  UNSUPPORTED: [400, MessageId.NOT_SUPPORTED],
  PERMISSION: [403, MessageId.NOT_ALLOWED],
  UNAVAILABLE: [503, MessageId.UNAVAILABLE],
  TIMEOUT: [503, MessageId.UNAVAILABLE],
  CAPACITY: [507, MessageId.GENERAL],
};

/** Anything thrown while serving a request, as a Redfish error (tenks codes keep their meaning). */
export function toRedfishError(e: unknown): RedfishError {
  if (e instanceof RedfishError) return e;
  if (isTenksError(e)) {
    const [status, id] = STATUS_OF[e.code] ?? [500, MessageId.GENERAL];
    return new RedfishError(status, e.message, id);
  }
  return new RedfishError(500, e instanceof Error ? e.message : String(e));
}

/** The Redfish error document for `e` (what sushy reads: `error.code`, `error.message`, extended info). */
export function errorBody(e: RedfishError): unknown {
  return {
    error: {
      code: e.messageId,
      message: e.message,
      '@Message.ExtendedInfo': [
        {
          '@odata.type': '#Message.v1_1_1.Message',
          MessageId: e.messageId,
          Message: e.message,
          Severity: e.status >= 500 ? 'Critical' : 'Warning',
          Resolution: e.status === 401 ? 'Authenticate with the node BMC credentials.' : 'None.',
        },
      ],
    },
  };
}
