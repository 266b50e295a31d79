import { TenksError, type ErrorCode } from '../../common/errors.js';
import { LibvirtError, VirErr } from '../native/index.js';

const CODE_OF: Partial<Record<number, ErrorCode>> = {
  [VirErr.NO_DOMAIN]: 'NOT_FOUND',
  [VirErr.NO_STORAGE_POOL]: 'NOT_FOUND',
  [VirErr.NO_STORAGE_VOL]: 'NOT_FOUND',
  [VirErr.DOM_EXIST]: 'ALREADY_EXISTS',
  [VirErr.STORAGE_VOL_EXIST]: 'ALREADY_EXISTS',
  [VirErr.OPERATION_INVALID]: 'CONFLICT',
  [VirErr.XML_ERROR]: 'INVALID_SPEC',
  [VirErr.XML_DETAIL]: 'INVALID_SPEC',
  [VirErr.INVALID_ARG]: 'INVALID_SPEC',
  [VirErr.CONFIG_UNSUPPORTED]: 'UNSUPPORTED',
  [VirErr.NO_SUPPORT]: 'UNSUPPORTED',
  [VirErr.OPERATION_UNSUPPORTED]: 'UNSUPPORTED',
  [VirErr.NO_CONNECT]: 'UNAVAILABLE',
  [VirErr.RPC]: 'UNAVAILABLE',
  [VirErr.OPERATION_TIMEOUT]: 'TIMEOUT',
  [VirErr.AUTH_FAILED]: 'PERMISSION',
  [VirErr.AUTH_UNAVAILABLE]: 'PERMISSION',
  [VirErr.ACCESS_DENIED]: 'PERMISSION',
  [VirErr.OPERATION_DENIED]: 'PERMISSION',
};

/** Turns a libvirt failure into a TenksError (keeping it as the cause); other errors pass through. */
export function fromLibvirt(e: unknown, what: string): unknown {
  if (e instanceof LibvirtError) {
    return new TenksError(CODE_OF[e.code] ?? 'INTERNAL', `${what}: ${e.message}`, { cause: e });
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
