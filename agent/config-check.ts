/**
 * The agent's whole configuration, checked against the host before the agent touches anything:
 * every file it names is read and parsed (TLS certificates and key, NATS credentials, the BMC
 * credentials file), every directory it will write is writable, and every address it will listen
 * on belongs to this host. A bad config then fails with one error naming each field, and no pool,
 * directory, bridge or port has been made.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ServerCredentials } from '@grpc/grpc-js';
import {
  checkWritableDir,
  chooseServerCredentials,
  configError,
  readConfigFile,
  readTls,
  readTlsIdentity,
  splitHostPort,
  toTenksError,
  type ConfigProblem,
  type TlsIdentity,
} from '../common/index.js';
import { BmcManager, type BmcStore } from './bmc/index.js';
import type { AgentConfig } from './config.js';

/** What the agent's config named, read and checked; the agent starts from this, not from the files again. */
export interface CheckedAgentConfig {
  /** gRPC server credentials: mTLS, or plaintext on loopback when `insecure_loopback` asks for it. */
  grpcCredentials: ServerCredentials;
  /** Redfish's HTTPS identity (the agent's certificate), or null for HTTP. */
  redfishTls: { cert: Buffer; key: Buffer } | null;
  /** The BMC credentials file, loaded. */
  bmcStore: BmcStore;
}

/** Every problem a TenksError reports, as config problems (its details, else itself). */
function problemsOf(e: unknown, field: string): ConfigProblem[] {
  const err = toTenksError(e);
  if (err.details.length > 0) return err.details.map((d) => ({ ...d, code: err.code, cause: err.cause }));
  return [{ field: err.field ?? field, message: err.message, code: err.code, cause: err.cause ?? e }];
}

/** True for an address this host can bind: a wildcard, loopback, or one of its interfaces' addresses. */
function isLocalAddress(ip: string): boolean {
  if (ip === '0.0.0.0' || ip === '::' || ip === '::1' || ip.startsWith('127.')) return true;
  const want = ip.toLowerCase();
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.address.toLowerCase() === want) return true;
  return false;
}

/** Problem of a listen address that is an IP literal but none of this host's (host names are left to bind). */
function checkListenHost(host: string, field: string): ConfigProblem | null {
  const ip = host.replace(/^\[|\]$/g, '');
  if (isIP(ip) === 0 || isLocalAddress(ip)) return null;
  return { field, code: 'INVALID_SPEC', message: `${ip} is not an address of this host` };
}

/**
 * Checks `config` against the host without changing anything; throws one error (INVALID_SPEC or
 * PERMISSION, with `field`) listing every problem.
 */
export async function checkAgentConfig(config: AgentConfig): Promise<CheckedAgentConfig> {
  const problems: ConfigProblem[] = [];
  const collect = async <T>(field: string, work: Promise<T>): Promise<T | null> => {
    try {
      return await work;
    } catch (e) {
      problems.push(...problemsOf(e, field));
      return null;
    }
  };
  const push = (p: ConfigProblem | null): void => {
    if (p) problems.push(p);
  };

  let listenHost: string | null = null;
  try {
    listenHost = splitHostPort(config.listen).host;
  } catch (e) {
    problems.push(...problemsOf(e, 'listen'));
  }
  if (listenHost !== null) push(checkListenHost(listenHost, 'listen'));
  push(checkListenHost(config.bmc.listenAddress, 'bmc.listen_address'));

  // The identity is read when gRPC or Redfish uses it; a plaintext agent ignores a tls section.
  const needsTls = config.tls !== null && (!config.insecureLoopback || config.bmc.redfishTls);
  const [identity, , , bmcStore] = await Promise.all([
    needsTls && config.tls ? collect<TlsIdentity>('tls', readTls(config.tls)) : Promise.resolve(null),
    checkWritableDir(config.stateDir, 'state_dir').then(push),
    // The test driver runs no QEMU: nothing writes console logs.
    config.libvirtUri.startsWith('test:')
      ? Promise.resolve()
      : checkWritableDir(config.logDirectory, 'log_directory').then(push),
    collect('state_dir', BmcManager.openStore(config.stateDir, config.libvirtUri)),
    checkNatsFiles(config, problems),
  ]);
  let grpcCredentials: ServerCredentials | null = null;
  if (!needsTls || identity) {
    grpcCredentials = await collect(
      'listen',
      chooseServerCredentials({ listen: config.listen, tls: identity, insecureLoopback: config.insecureLoopback }),
    );
  }
  if (problems.length > 0 || !grpcCredentials || !bmcStore) {
    // Only the config's own problems are reported: the hint is for certificate trouble.
    const tlsTrouble = problems.some((p) => p.field.startsWith('tls'));
    throw configError(problems, tlsTrouble ? 'make certificates with deploy/make-certs.sh' : undefined);
  }
  return {
    grpcCredentials,
    redfishTls: config.bmc.redfishTls && identity ? { cert: identity.cert, key: identity.key } : null,
    bmcStore,
  };
}

/** Reads the files of the `nats` section (TLS identity, credentials file), adding their problems. */
async function checkNatsFiles(config: AgentConfig, problems: ConfigProblem[]): Promise<void> {
  const nats = config.nats;
  if (!nats) return;
  const work: Promise<unknown>[] = [];
  if (nats.tls) {
    const { caFile, certFile, keyFile } = nats.tls;
    if (certFile !== null && keyFile !== null)
      work.push(
        readTlsIdentity(
          { caFile, certFile, keyFile },
          { caFile: 'nats.tls.ca_file', certFile: 'nats.tls.cert_file', keyFile: 'nats.tls.key_file' },
        ),
      );
    else work.push(readConfigFile(caFile, 'nats.tls.ca_file'));
  }
  if (nats.credsFile !== null) work.push(readConfigFile(nats.credsFile, 'nats.creds_file'));
  const settled = await Promise.allSettled(work);
  for (const r of settled) if (r.status === 'rejected') problems.push(...problemsOf(r.reason, 'nats'));
}
