/** One cloud's raw settings as found, with how to name its keys in messages. */
import type { TenksError } from '../../common/index.js';
import { fieldError, isDict, type Dict } from './clouds-yaml.js';

/** A raw cloud and how to name its keys in messages. */
export class RawCloud {
  readonly auth: Dict;

  constructor(
    readonly name: string,
    readonly top: Dict,
    /** File label, or `environment`. */
    readonly source: string,
    /** True for the cloud made of OS_* variables. */
    readonly fromEnv: boolean,
  ) {
    const a = top.auth;
    if (a !== undefined && !isDict(a)) throw fieldError(source, this.path('auth', false), 'must be a mapping');
    this.auth = a ?? {};
  }

  /** The path of a key in messages: `clouds.lab.auth.auth_url`, or `OS_AUTH_URL`. */
  path(key: string, inAuth: boolean): string {
    if (this.fromEnv) return `OS_${key.toUpperCase()}`;
    return inAuth ? `clouds.${this.name}.auth.${key}` : `clouds.${this.name}.${key}`;
  }

  error(key: string, inAuth: boolean, message: string, hint?: string): TenksError {
    return fieldError(this.source, this.path(key, inAuth), message, hint);
  }

  /** A string option at the top level. */
  str(key: string): string | null {
    return this.scalar(this.top, key, false);
  }

  /** An auth plugin option: in `auth:` first, then beside it (where OS_* variables put it); aliases after. */
  authStr(key: string, ...aliases: string[]): string | null {
    for (const k of [key, ...aliases]) {
      const v = this.scalar(this.auth, k, true) ?? this.scalar(this.top, k, false);
      if (v !== null) return v;
    }
    return null;
  }

  /** Where a missing auth option is expected. */
  authPath(key: string): string {
    return this.path(key, !this.fromEnv);
  }

  missing(key: string, message: string, hint?: string): TenksError {
    return fieldError(this.source, this.authPath(key), message, hint);
  }

  private scalar(d: Dict, key: string, inAuth: boolean): string | null {
    const v = d[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v === 'string') return v;
    // YAML numbers (project ids, versions) count as strings, as openstacksdk stringifies them.
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    throw this.error(key, inAuth, 'must be a string');
  }

  bool(key: string): boolean | null {
    const v = this.top[key];
    if (v === undefined || v === null || v === '') return null;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
    }
    throw this.error(key, false, 'must be true or false');
  }
}

/** An http(s) URL option without trailing slashes, or null when not given. */
export function compileUrl(r: RawCloud, key: string, value: string | null, inAuth: boolean): string | null {
  if (value === null) return null;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw r.error(key, inAuth, 'must be an http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw r.error(key, inAuth, 'must be an http(s) URL');
  return value.replace(/\/+$/, '');
}
