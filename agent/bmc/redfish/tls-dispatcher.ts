/**
 * A dispatcher for Node's fetch that does not check TLS certificates: what Redfish
 * `VerifyCertificate: false` asks of a virtual media download.
 *
 * fetch takes per-request TLS options only through an undici dispatcher. Node bundles undici for
 * fetch without exporting its classes, and the undici package is not a dependency of tenks. The
 * dispatcher Node's fetch uses by default is such an Agent, kept under the global symbol undici
 * shares between copies of itself; a fresh instance of that class, told not to verify
 * certificates, is the dispatcher needed. Should a future Node hide it, this says so instead of
 * quietly verifying (or not).
 */
import { TenksError } from '../../../common/index.js';

/** What fetch accepts as `dispatcher`. */
export type FetchDispatcher = NonNullable<RequestInit['dispatcher']>;

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

type AgentClass = new (options: { connect: { rejectUnauthorized: boolean } }) => FetchDispatcher;

function globalDispatcher(): unknown {
  return (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
}

/** A new dispatcher that skips certificate checks; the caller destroys it when done. */
export async function insecureDispatcher(): Promise<FetchDispatcher> {
  // fetch creates its global dispatcher on first use; a data: URL makes it do so without a socket.
  if (globalDispatcher() === undefined) await (await fetch('data:,')).arrayBuffer();
  const agent = globalDispatcher();
  const Agent = typeof agent === 'object' && agent !== null ? (agent.constructor as unknown) : null;
  if (typeof Agent !== 'function' || Agent.name !== 'Agent')
    throw new TenksError(
      'UNSUPPORTED',
      `this Node.js (${process.version}) gives fetch no undici Agent to copy: cannot skip TLS certificate checks`,
      { hint: 'serve the image over http, or with a certificate the host trusts and VerifyCertificate true' },
    );
  return new (Agent as AgentClass)({ connect: { rejectUnauthorized: false } });
}
