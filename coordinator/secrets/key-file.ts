/**
 * The coordinator's secrets key file: 32 random bytes in base64 on one line, mode 0600. Created on
 * first start when missing; every coordinator on one NATS must hold the same file, so that any of
 * them can open what another sealed (an apply resumed elsewhere, a cluster deleted elsewhere).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TenksError, type Logger } from '../../common/index.js';
import { SecretBox, SECRETS_KEY_BYTES } from './secret-box.js';

function fsError(e: unknown, file: string, doing: string): TenksError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TenksError(
    code === 'EACCES' || code === 'EPERM' ? 'PERMISSION' : 'INTERNAL',
    `cannot ${doing} the secrets key file ${file}: ${(e as Error).message}`,
    { cause: e, field: 'secrets_key_file' },
  );
}

async function createKeyFile(file: string, log: Logger): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Written whole under a temporary name, then linked into place: a coordinator starting at the same
  // moment either sees no file or a complete one, and exactly one key wins.
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(SECRETS_KEY_BYTES).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, file);
    log.info('secrets key created', { file });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Reads the key in `file`, creating the file first when it does not exist. */
export async function openSecretBox(file: string, log: Logger): Promise<SecretBox> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, file, 'read');
    try {
      await createKeyFile(file, log);
      text = await readFile(file, 'utf8');
    } catch (e2) {
      throw e2 instanceof TenksError ? e2 : fsError(e2, file, 'create');
    }
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== SECRETS_KEY_BYTES || key.toString('base64') !== text.trim())
    throw new TenksError(
      'INVALID_SPEC',
      `the secrets key file ${file} must hold ${SECRETS_KEY_BYTES} random bytes in base64 on one line`,
      { field: 'secrets_key_file', hint: `e.g. head -c ${SECRETS_KEY_BYTES} /dev/urandom | base64 > ${file}` },
    );
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) !== 0)
    log.warn('secrets key file is readable by others than its owner', { file, mode: mode.toString(8) });
  return new SecretBox(key, file);
}
