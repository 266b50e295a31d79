/**
 * Who a Redfish request comes from: a session token (`X-Auth-Token`) or HTTP Basic credentials,
 * checked against the node BMC credentials. A token is only as good as the credentials that opened
 * its session: when they no longer open any node, the session ends.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RedfishBackend } from '../backend.js';
import { MessageId, RedfishError } from './errors.js';
import type { RedfishSession, SessionStore } from './sessions.js';

/** An authenticated client: its user name and the nodes its credentials open. */
export interface Caller {
  username: string;
  nodes: Set<string>;
}

/** The session a request's token opens, or null when it carries none; 401 for a token that opens none. */
function sessionOf(headers: IncomingHttpHeaders, sessions: SessionStore): RedfishSession | null {
  const token = headers['x-auth-token'];
  if (typeof token !== 'string') return null;
  const s = sessions.byTokenValue(token);
  if (!s) throw new RedfishError(401, 'the session token is not valid (expired or logged out)', MessageId.NO_SESSION);
  return s;
}

/** The user name and password of a Basic `Authorization` header; 401 when absent or malformed. */
function basicCredentials(headers: IncomingHttpHeaders): { username: string; password: string } {
  const auth = headers.authorization;
  if (auth === undefined)
    throw new RedfishError(401, 'authentication required (HTTP Basic or X-Auth-Token)', MessageId.NO_SESSION);
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth);
  if (!m)
    throw new RedfishError(401, 'unsupported Authorization scheme: use Basic or X-Auth-Token', MessageId.NO_SESSION);
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) throw new RedfishError(401, 'malformed Basic credentials', MessageId.NO_SESSION);
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Who is asking and which nodes their credentials open; 401 when none. A token wins over Basic. */
export function authenticate(
  headers: IncomingHttpHeaders,
  sessions: SessionStore,
  backend: Pick<RedfishBackend, 'redfishLogin'>,
): Caller {
  const s = sessionOf(headers, sessions);
  const { username, password } = s ?? basicCredentials(headers);
  const nodes = backend.redfishLogin(username, password);
  if (nodes.size === 0) {
    if (s) sessions.close(s.id);
    throw new RedfishError(401, 'invalid credentials', MessageId.NO_SESSION);
  }
  return { username, nodes };
}
