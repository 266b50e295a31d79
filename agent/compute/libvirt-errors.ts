import { TenksError, type ErrorCode } from '../../common/errors.js';
import { LibvirtError, VirErr } from '../native/index.js';

/** The libvirt errors each tenks code stands for; every other libvirt error is INTERNAL. */
const LIBVIRT_ERRORS: Partial<Record<ErrorCode, number[]>> = {
  NOT_FOUND: [VirErr.NO_DOMAIN, VirErr.NO_STORAGE_POOL, VirErr.NO_STORAGE_VOL],
  ALREADY_EXISTS: [VirErr.DOM_EXIST, VirErr.STORAGE_VOL_EXIST],
  CONFLICT: [VirErr.OPERATION_INVALID],
  INVALID_SPEC: [VirErr.XML_ERROR, VirErr.XML_DETAIL, VirErr.INVALID_ARG],
  UNSUPPORTED: [VirErr.CONFIG_UNSUPPORTED, VirErr.NO_SUPPORT, VirErr.OPERATION_UNSUPPORTED],
  UNAVAILABLE: [VirErr.NO_CONNECT, VirErr.RPC],
  TIMEOUT: [VirErr.OPERATION_TIMEOUT],
  PERMISSION: [VirErr.AUTH_FAILED, VirErr.AUTH_UNAVAILABLE, VirErr.ACCESS_DENIED, VirErr.OPERATION_DENIED],
};

const CODE_OF = new Map<number, ErrorCode>(
  Object.entries(LIBVIRT_ERRORS).flatMap(([code, errors]) => errors.map((e) => [e, code as ErrorCode] as const)),
);

/** Turns a libvirt failure into a TenksError (keeping it as the cause); other errors pass through. */
export function fromLibvirt(e: unknown, what: string): unknown {
  if (e instanceof LibvirtError) {
    return new TenksError(CODE_OF.get(e.code) ?? 'INTERNAL', `${what}: ${e.message}`, { cause: e });
  }
  return e;
}

/** Awaits `p`, mapping libvirt errors. */
export async function lv<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw fromLibvirt(e, what);
  }
}

/** True for a libvirt "no such object" error of the given code. */
export function isVirCode(e: unknown, code: number): boolean {
  return e instanceof LibvirtError && e.code === code;
}
