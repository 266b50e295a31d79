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
  /** Runs one check; its problems are kept apart so they are reported in the config's order. */
  const check = async <T>(field: string, work: Promise<T>): Promise<{ value: T | null; problems: ConfigProblem[] }> => {
    try {
      return { value: await work, problems: [] };
    } catch (e) {
      return { value: null, problems: problemsOf(e, field) };
    }
  };
  const listen = ((): ConfigProblem[] => {
    try {
      const problem = checkListenHost(splitHostPort(config.listen).host, 'listen');
      return problem ? [problem] : [];
    } catch (e) {
      return problemsOf(e, 'listen');
    }
  })();
  const bmcListen = checkListenHost(config.bmc.listenAddress, 'bmc.listen_address');
  // The identity is read when gRPC or Redfish uses it; a plaintext agent ignores a tls section.
  const tlsFiles = config.tls !== null && (!config.insecureLoopback || config.bmc.redfishTls) ? config.tls : null;
  const [tls, stateDir, logDir, store, nats] = await Promise.all([
    tlsFiles ? check<TlsIdentity>('tls', readTls(tlsFiles)) : Promise.resolve({ value: null, problems: [] }),
    checkWritableDir(config.stateDir, 'state_dir'),
    // The test driver runs no QEMU: nothing writes console logs.
    config.libvirtUri.startsWith('test:') ? null : checkWritableDir(config.logDirectory, 'log_directory'),
    check('state_dir', BmcManager.openStore(config.stateDir, config.libvirtUri)),
    checkNatsFiles(config),
  ]);
  // With the TLS files broken, their problems say it all; without them, this says whether TLS is needed.
  const grpc =
    tlsFiles && !tls.value
      ? { value: null, problems: [] }
      : await check(
          'listen',
          chooseServerCredentials({ listen: config.listen, tls: tls.value, insecureLoopback: config.insecureLoopback }),
        );
  const problems = [
    ...listen,
    ...grpc.problems,
    ...tls.problems,
    ...(bmcListen ? [bmcListen] : []),
    ...(stateDir ? [stateDir] : []),
    ...store.problems,
    ...(logDir ? [logDir] : []),
    ...nats,
  ];
  if (problems.length > 0 || !grpc.value || !store.value) {
    const tlsTrouble = problems.some((p) => p.field.startsWith('tls.'));
    throw configError(problems, tlsTrouble ? 'make certificates with deploy/make-certs.sh' : undefined);
  }
  return {
    grpcCredentials: grpc.value,
    redfishTls: config.bmc.redfishTls && tls.value ? { cert: tls.value.cert, key: tls.value.key } : null,
    bmcStore: store.value,
  };
}

/** Reads the files of the `nats` section (TLS identity, credentials file); returns their problems. */
async function checkNatsFiles(config: AgentConfig): Promise<ConfigProblem[]> {
  const nats = config.nats;
  if (!nats) return [];
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
  return settled.flatMap((r) => (r.status === 'rejected' ? problemsOf(r.reason, 'nats') : []));
}
