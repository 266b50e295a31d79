/**
 * SessionService: a login (`POST /redfish/v1/SessionService/Sessions` with the node BMC
 * credentials, answered with an `X-Auth-Token`) opens a session; a caller sees and ends only its own.
 */
import type { RedfishBackend } from '../../backend.js';
import { collection, type Doc } from '../documents.js';
import { MessageId, RedfishError } from '../errors.js';
import { allow, missing, noContent, ok, type Reply } from '../reply.js';
import type { RedfishRouter, RedfishRequest } from '../router.js';
import type { RedfishSession, SessionStore } from '../sessions.js';

const SERVICE = '/redfish/v1/SessionService';
const SESSIONS = `${SERVICE}/Sessions`;

/** What the SessionService needs. */
export interface SessionServiceDeps {
  backend: Pick<RedfishBackend, 'redfishLogin'>;
  sessions: SessionStore;
  /** The service's counters: a refused login counts as unauthorised. */
  stats: { unauthorised: number };
}

function sessionDoc(s: RedfishSession): Doc {
  return {
    '@odata.id': `${SESSIONS}/${s.id}`,
    '@odata.type': '#Session.v1_3_0.Session',
    Id: s.id,
    Name: 'User Session',
    UserName: s.username,
  };
}

function sessionServiceDoc(idleMs: number): Doc {
  return {
    '@odata.id': SERVICE,
    '@odata.type': '#SessionService.v1_1_8.SessionService',
    Id: 'SessionService',
    Name: 'Session Service',
    ServiceEnabled: true,
    SessionTimeout: Math.round(idleMs / 1000),
    Sessions: { '@odata.id': SESSIONS },
  };
}

/** A login: the credentials of the body must open a node; the answer carries the session's token. */
async function login(req: RedfishRequest, deps: SessionServiceDeps): Promise<Reply> {
  const b = ((await req.body()) ?? {}) as { UserName?: unknown; Password?: unknown };
  if (typeof b.UserName !== 'string' || typeof b.Password !== 'string')
    throw new RedfishError(400, 'UserName and Password (strings) are required', MessageId.PROPERTY_MISSING);
  if (deps.backend.redfishLogin(b.UserName, b.Password).size === 0) {
    deps.stats.unauthorised++;
    throw new RedfishError(401, 'invalid credentials', MessageId.NO_SESSION);
  }
  const s = deps.sessions.open(b.UserName, b.Password);
  return { status: 201, body: sessionDoc(s), headers: { 'X-Auth-Token': s.token, Location: `${SESSIONS}/${s.id}` } };
}

/** Serves the SessionService, its Sessions collection and the caller's sessions. */
export function registerSessionService(router: RedfishRouter, deps: SessionServiceDeps): void {
  const { sessions } = deps;
  router.anonymous(
    'SessionService',
    (req) => req.parts.length === 2 && req.parts[1] === 'Sessions' && req.method === 'POST',
    (req) => login(req, deps),
  );
  router.service('SessionService', (req, rest, caller) => {
    const [id, ...below] = rest;
    if (id === undefined) {
      allow('GET,HEAD', req.method);
      return ok(sessionServiceDoc(sessions.idleMs));
    }
    if (id !== 'Sessions' || below.length > 1) throw missing(`resource ${SERVICE}/${rest.join('/')}`);
    const sid = below[0];
    if (sid === undefined) {
      allow('GET,HEAD,POST', req.method);
      const mine = sessions.list(caller.username).map((s) => `${SESSIONS}/${s.id}`);
      return ok(collection(SESSIONS, 'SessionCollection', 'Sessions', mine));
    }
    const s = sessions.get(sid);
    // Another user's session is as invisible as a missing one.
    if (s?.username !== caller.username) throw missing(`session ${sid}`);
    allow('GET,HEAD,DELETE', req.method);
    if (req.method === 'DELETE') {
      sessions.close(sid);
      return noContent;
    }
    return ok(sessionDoc(s));
  });
}
