/** Where the stack's programs are. */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
/** Debian's nats-server (the integration tests' default too); `$NATS_SERVER` overrides. */
export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
