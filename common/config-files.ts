/**
 * Files and directories a daemon's config names, read and checked before the daemon changes
 * anything: a bad path, an unreadable key or a key that does not go with its certificate is
 * reported against its config field, not found halfway through starting.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TenksError, type ErrorCode } from './errors.js';

/** One thing wrong with a config's files, with the field that names the file. */
export interface ConfigProblem {
  field: string;
  message: string;
  /** INVALID_SPEC (wrong path or content) or PERMISSION (not allowed to read or write). */
  code: ErrorCode;
  cause?: unknown;
}

/** One error listing every problem; its code, field and cause are the first problem's. */
export function configError(problems: readonly ConfigProblem[], hint?: string): TenksError {
  const first = problems[0];
  return new TenksError(first?.code ?? 'INVALID_SPEC', problems.map((p) => `${p.field}: ${p.message}`).join('\n'), {
    ...(first ? { field: first.field } : {}),
    ...(first?.cause === undefined ? {} : { cause: first.cause }),
    details: problems.map((p) => ({ field: p.field, message: p.message })),
    ...(hint === undefined ? {} : { hint }),
  });
}

function problemOf(e: unknown, path: string, field: string, verb: string): ConfigProblem {
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'EACCES' || errno === 'EPERM')
    return { field, code: 'PERMISSION', message: `not allowed to ${verb} '${path}'`, cause: e };
  if (errno === 'ENOENT') return { field, code: 'INVALID_SPEC', message: `'${path}' does not exist`, cause: e };
  if (errno === 'EISDIR') return { field, code: 'INVALID_SPEC', message: `'${path}' is a directory`, cause: e };
  return { field, code: 'INVALID_SPEC', message: `cannot ${verb} '${path}': ${(e as Error).message}`, cause: e };
}

/** Reads a file the config names at `field`; throws a TenksError naming the field. */
export async function readConfigFile(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw configError([problemOf(e, path, field, 'read')]);
  }
}

/** PEM certificate and key files of a TLS identity, with the CA that signs the peers. */
export interface TlsFileFields {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A TLS identity whose files were read and whose key goes with its certificate. */
export interface TlsIdentity {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** A parsed file, or why it does not parse. */
type Parsed<T> = { value: T } | { problem: ConfigProblem };

function parseCertificate(pem: Buffer, path: string, field: string): Parsed<X509Certificate> {
  try {
    return { value: new X509Certificate(pem) };
  } catch (e) {
    return { problem: { field, code: 'INVALID_SPEC', message: `'${path}' is not a PEM certificate`, cause: e } };
  }
}

function parseKey(pem: Buffer, path: string, field: string): Parsed<KeyObject> {
  try {
    return { value: createPrivateKey(pem) };
  } catch (e) {
    const message = `'${path}' is not a PEM private key (or it is encrypted)`;
    return { problem: { field, code: 'INVALID_SPEC', message, cause: e } };
  }
}

/**
 * Reads a TLS identity and checks it: the CA and the certificate parse as PEM certificates, the
 * key as an unencrypted PEM private key, and the key is the certificate's. `fields` names each
 * file's config field (`tls.ca_file`...). Throws one error listing every problem.
 */
export async function readTlsIdentity(files: TlsFileFields, fields: TlsFileFields): Promise<TlsIdentity> {
  const order = [fields.caFile, fields.certFile, fields.keyFile];
  const read = async (path: string, field: string): Promise<Parsed<Buffer>> => {
    try {
      return { value: await readFile(path) };
    } catch (e) {
      return { problem: problemOf(e, path, field, 'read') };
    }
  };
  const [caRead, certRead, keyRead] = await Promise.all([
    read(files.caFile, fields.caFile),
    read(files.certFile, fields.certFile),
    read(files.keyFile, fields.keyFile),
  ]);
  const ca = 'value' in caRead ? caRead.value : null;
  const cert = 'value' in certRead ? certRead.value : null;
  const key = 'value' in keyRead ? keyRead.value : null;
  const caCert = ca ? parseCertificate(ca, files.caFile, fields.caFile) : null;
  const ownCert = cert ? parseCertificate(cert, files.certFile, fields.certFile) : null;
  const ownKey = key ? parseKey(key, files.keyFile, fields.keyFile) : null;
  // In file order: each file's read or parse problem.
  const problems = [caRead, certRead, keyRead, caCert, ownCert, ownKey]
    .flatMap((p) => (p && 'problem' in p ? [p.problem] : []))
    .sort((x, y) => order.indexOf(x.field) - order.indexOf(y.field));
  if (ownCert && 'value' in ownCert && ownKey && 'value' in ownKey && !ownCert.value.checkPrivateKey(ownKey.value))
    problems.push({
      field: fields.keyFile,
      code: 'INVALID_SPEC',
      message: `the key in '${files.keyFile}' does not belong to the certificate in '${files.certFile}'`,
    });
  if (problems.length > 0 || !ca || !cert || !key)
    throw configError(problems, 'make certificates with deploy/make-certs.sh');
  return { ca, cert, key };
}

/**
 * Checks that `path` is a directory this process can write, or can be created: its nearest
 * existing ancestor is a writable directory. Returns the problem, or null.
 */
export async function checkWritableDir(path: string, field: string): Promise<ConfigProblem | null> {
  let at = resolve(path);
  for (;;) {
    const st = await stat(at).catch((e: unknown) => e as NodeJS.ErrnoException);
    if (!(st instanceof Error)) {
      if (!st.isDirectory())
        return {
          field,
          code: 'INVALID_SPEC',
          message: at === resolve(path) ? `'${path}' is not a directory` : `'${at}' (in '${path}') is not a directory`,
        };
      try {
        await access(at, constants.W_OK | constants.X_OK);
        return null;
      } catch (e) {
        return problemOf(e, at, field, at === resolve(path) ? 'write in' : `create '${path}' in`);
      }
    }
    // Missing, or under a file (ENOTDIR): look at the parent, which says which.
    if (st.code !== 'ENOENT' && st.code !== 'ENOTDIR') return problemOf(st, at, field, 'reach');
    const up = dirname(at);
    if (up === at) return { field, code: 'INVALID_SPEC', message: `'${path}' cannot be created` };
    at = up;
  }
}
