/**
 * tenksctl's client configuration: command-line flags > environment > config file > defaults.
 *
 * The config file is the first of `--config FILE`, `$TENKS_CONFIG`, `$XDG_CONFIG_HOME/tenks/tenksctl.yaml`
 * (`~/.config/tenks/tenksctl.yaml`) and `/etc/tenks/tenksctl.yaml` that exists; a file named by
 * `--config` or `TENKS_CONFIG` must exist. Relative paths in a file are relative to the file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseOutputFormat, type OutputFormat } from './output.js';
import { TenksError, invalidSpec, parseYaml, zodErrors } from '../common/index.js';
import type { DialOptions, FieldError, TlsFiles } from '../common/index.js';

/** Default coordinator address. */
export const DEFAULT_COORDINATOR = '127.0.0.1:7442';
/** Default agent address (`tenksctl agent ...`). */
export const DEFAULT_AGENT = '127.0.0.1:7443';
/** Default per-call deadline. */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** The system-wide config file (scripts/quickstart.sh writes it). */
export const SYSTEM_CONFIG_FILE = '/etc/tenks/tenksctl.yaml';

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;
const NATS_URL = /^(?:(?:nats|tls|ws|wss):\/\/\S+|(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):\d{1,5})$/;

function isHostPort(s: string): boolean {
  const m = HOST_PORT.exec(s);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
}

const hostPort = z.string().refine(isHostPort, 'expected HOST:PORT (e.g. 127.0.0.1:7442 or [::1]:7442)');
const natsUrl = z.string().regex(NATS_URL, 'expected a NATS URL (nats://HOST:PORT, tls://HOST:PORT) or HOST:PORT');
const path = z.string().min(1, 'must not be empty');

/** The config file's schema (snake_case). Every key is optional. */
export const cliConfigFileSchema = z
  .object({
    /** Coordinator address, HOST:PORT. Default 127.0.0.1:7442. */
    coordinator: hostPort.optional(),
    /** Agent address for `tenksctl agent ...`, HOST:PORT. Default 127.0.0.1:7443. */
    agent: hostPort.optional(),
    /** CA certificate (PEM) that signs the daemons' certificates. */
    ca_file: path.optional(),
    /** This client's certificate (PEM). */
    cert_file: path.optional(),
    /** This client's private key (PEM). */
    key_file: path.optional(),
    /** TLS name to verify when it differs from the host of the address (e.g. `localhost`). */
    server_name: z.string().min(1, 'must not be empty').optional(),
    /** Plaintext gRPC (loopback daemons only). Default false. */
    insecure: z.boolean().optional(),
    /** NATS server URL(s) for progress events. Default: the URLs the coordinator reports. */
    nats: z.union([natsUrl, z.array(natsUrl).min(1, 'give at least one URL')]).optional(),
    /** Default output format: table, json or yaml. Default table. */
    output: z.enum(['table', 'json', 'yaml']).optional(),
  })
  .strict();

/** A parsed config file. Paths are absolute. */
export interface CliConfigFile {
  /** Where it was read from. */
  path: string;
  coordinator?: string;
  agent?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  insecure?: boolean;
  nats?: string[];
  output?: OutputFormat;
}

/** The global flags that configure the client (undefined: not given). */
export interface CliFlags {
  config?: string | undefined;
  coordinator?: string | undefined;
  agent?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  insecure?: boolean | undefined;
  serverName?: string | undefined;
  /** Comma-separated NATS URLs. */
  nats?: string | undefined;
  output?: string | undefined;
  /** Seconds. */
  timeout?: string | undefined;
}

/** Environment variables (process.env, or a fake in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The compiled client settings. */
export interface CliSettings {
  coordinator: string;
  agent: string;
  /** TLS files as configured (any may be missing; {@link dialOptions} insists on all three). */
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  /** Plaintext gRPC (loopback only). */
  insecure: boolean;
  /** TLS name to verify, or null for the host of the address. */
  serverName: string | null;
  /** NATS URLs, or null for those the coordinator reports. */
  nats: string[] | null;
  output: OutputFormat;
  /** Per-call deadline. */
  timeoutMs: number;
  /** The config file used, or null. */
  configFile: string | null;
}

/** Parses a config file's text; throws INVALID_SPEC naming the file and every bad field. */
export function parseCliConfigFile(text: string, file: string): CliConfigFile {
  const raw = parseYaml(text, file) ?? {};
  const r = cliConfigFileSchema.safeParse(raw);
  if (!r.success) throw configFileError(file, zodErrors(r.error));
  const c = r.data;
  const base = dirname(resolve(file));
  const abs = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const out: CliConfigFile = { path: file };
  if (c.coordinator !== undefined) out.coordinator = c.coordinator;
  if (c.agent !== undefined) out.agent = c.agent;
  if (c.ca_file !== undefined) out.caFile = abs(c.ca_file);
  if (c.cert_file !== undefined) out.certFile = abs(c.cert_file);
  if (c.key_file !== undefined) out.keyFile = abs(c.key_file);
  if (c.server_name !== undefined) out.serverName = c.server_name;
  if (c.insecure !== undefined) out.insecure = c.insecure;
  if (c.nats !== undefined) out.nats = Array.isArray(c.nats) ? c.nats : [c.nats];
  if (c.output !== undefined) out.output = c.output;
  return out;
}

function configFileError(file: string, problems: readonly FieldError[]): TenksError {
  const first = problems[0];
  return new TenksError(
    'INVALID_SPEC',
    `bad tenksctl config file ${file}:\n${problems.map((p) => `${p.field}: ${p.message}`).join('\n')}`,
    {
      details: problems,
      ...(first ? { field: first.field } : {}),
      hint: `fix ${file} (keys: coordinator, agent, ca_file, cert_file, key_file, server_name, insecure, nats, output)`,
    },
  );
}

/** Config file locations in the order they are tried; `required` ones must exist. */
export function configFileCandidates(flags: CliFlags, env: Env, home: string): { path: string; required: boolean }[] {
  if (flags.config !== undefined) return [{ path: flags.config, required: true }];
  const fromEnv = env.TENKS_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return [{ path: fromEnv, required: true }];
  const xdg = env.XDG_CONFIG_HOME;
  const userDir = xdg !== undefined && isAbsolute(xdg) ? xdg : join(home, '.config');
  return [
    { path: join(userDir, 'tenks', 'tenksctl.yaml'), required: false },
    { path: SYSTEM_CONFIG_FILE, required: false },
  ];
}

/** Reads a file as text; null when it does not exist. */
export type ReadText = (path: string) => Promise<string | null>;

/** {@link ReadText} on the real file system. */
export const readTextFile: ReadText = async (p) => {
  try {
    return await readFile(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    const code = (e as NodeJS.ErrnoException).code === 'EACCES' ? 'PERMISSION' : 'INTERNAL';
    throw new TenksError(code, `cannot read tenksctl config file ${p}: ${(e as Error).message}`, { cause: e });
  }
};

/** Finds, reads and parses the config file that applies; null when there is none. */
export async function loadCliConfigFile(
  flags: CliFlags,
  env: Env,
  home: string,
  read: ReadText = readTextFile,
): Promise<CliConfigFile | null> {
  for (const c of configFileCandidates(flags, env, home)) {
    const text = await read(c.path);
    if (text === null) {
      if (c.required)
        throw new TenksError('NOT_FOUND', `tenksctl config file ${c.path} does not exist`, {
          field: flags.config !== undefined ? '--config' : 'TENKS_CONFIG',
          hint: 'give an existing file, or unset TENKS_CONFIG to use ~/.config/tenks/tenksctl.yaml',
        });
      continue;
    }
    return parseCliConfigFile(text, c.path);
  }
  return null;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

function parseBool(s: string, field: string, problems: FieldError[]): boolean | undefined {
  const v = s.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  problems.push({ field, message: `expected true or false, got '${s}'` });
  return undefined;
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/**
 * Merges flags, environment and config file into the client settings. Each setting is taken from
 * the first of flag, environment variable, file, default. Transport: `--insecure` wins; otherwise TLS
 * files given by flag or environment mean TLS even when the file says `insecure: true`.
 */
export function resolveCliSettings(flags: CliFlags, env: Env, file: CliConfigFile | null): CliSettings {
  const problems: FieldError[] = [];
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined): [string, string] | null => {
    if (flag !== undefined) return [flag, flagName(envName)];
    const e = nonEmpty(env[envName]);
    if (e !== undefined) return [e, envName];
    if (fromFile !== undefined) return [fromFile, `${file?.path ?? 'config'}: ${configKey(envName)}`];
    return null;
  };
  const address = (flag: string | undefined, envName: string, fromFile: string | undefined, dflt: string): string => {
    const p = pick(flag, envName, fromFile);
    if (p === null) return dflt;
    if (!isHostPort(p[0])) problems.push({ field: p[1], message: `'${p[0]}' is not HOST:PORT` });
    return p[0];
  };
  const coordinator = address(flags.coordinator, 'TENKS_COORDINATOR', file?.coordinator, DEFAULT_COORDINATOR);
  const agent = address(flags.agent, 'TENKS_AGENT', file?.agent, DEFAULT_AGENT);

  const caFlagEnv = flags.ca ?? nonEmpty(env.TENKS_CA);
  const certFlagEnv = flags.cert ?? nonEmpty(env.TENKS_CERT);
  const keyFlagEnv = flags.key ?? nonEmpty(env.TENKS_KEY);
  let insecure: boolean;
  if (flags.insecure === true) insecure = true;
  else if (nonEmpty(env.TENKS_INSECURE) !== undefined)
    insecure = parseBool(env.TENKS_INSECURE ?? '', 'TENKS_INSECURE', problems) ?? false;
  else if (caFlagEnv !== undefined || certFlagEnv !== undefined || keyFlagEnv !== undefined) insecure = false;
  else insecure = file?.insecure ?? false;

  let nats: string[] | null = null;
  const natsPick = pick(flags.nats, 'TENKS_NATS', undefined);
  if (natsPick !== null) {
    nats = splitList(natsPick[0]);
    if (nats.length === 0) problems.push({ field: natsPick[1], message: 'give at least one NATS URL' });
    for (const u of nats)
      if (!NATS_URL.test(u))
        problems.push({ field: natsPick[1], message: `'${u}' is not a NATS URL (nats://HOST:PORT or HOST:PORT)` });
  } else if (file?.nats !== undefined) nats = file.nats;

  let output: OutputFormat = file?.output ?? 'table';
  if (flags.output !== undefined) {
    try {
      output = parseOutputFormat(flags.output);
    } catch (e) {
      problems.push({ field: '-o', message: (e as Error).message });
    }
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (flags.timeout !== undefined) {
    const s = Number(flags.timeout);
    if (flags.timeout.trim() === '' || !Number.isFinite(s) || s <= 0)
      problems.push({ field: '--timeout', message: `must be a positive number of seconds, got '${flags.timeout}'` });
    else timeoutMs = Math.round(s * 1000);
  }

  if (problems.length > 0) throw invalidSpec(problems, 'see tenksctl --help');
  return {
    coordinator,
    agent,
    caFile: caFlagEnv ?? file?.caFile ?? null,
    certFile: certFlagEnv ?? file?.certFile ?? null,
    keyFile: keyFlagEnv ?? file?.keyFile ?? null,
    insecure,
    serverName: flags.serverName ?? nonEmpty(env.TENKS_SERVER_NAME) ?? file?.serverName ?? null,
    nats,
    output,
    timeoutMs,
    configFile: file?.path ?? null,
  };
}

function flagName(envName: string): string {
  return `--${envName.replace(/^TENKS_/, '').toLowerCase()}`;
}

function configKey(envName: string): string {
  return envName.replace(/^TENKS_/, '').toLowerCase();
}

/**
 * How to dial `address` with these settings: mTLS with all three files, or plaintext when insecure
 * (dialCredentials then refuses non-loopback addresses). Throws INVALID_SPEC when files are missing.
 */
export function dialOptions(s: CliSettings, address: string): DialOptions {
  let tls: TlsFiles | null = null;
  if (!s.insecure) {
    if (s.caFile === null || s.certFile === null || s.keyFile === null)
      throw new TenksError(
        'INVALID_SPEC',
        'mTLS files are required: --ca, --cert and --key (or TENKS_CA, TENKS_CERT, TENKS_KEY, or ca_file, cert_file, key_file in the config file)',
        {
          field: s.caFile === null ? '--ca' : s.certFile === null ? '--cert' : '--key',
          hint: `make them with deploy/make-certs.sh, or use --insecure against a loopback daemon (config file: ${s.configFile ?? 'none'})`,
        },
      );
    tls = { caFile: s.caFile, certFile: s.certFile, keyFile: s.keyFile };
  }
  return { address, tls, ...(s.serverName === null ? {} : { serverName: s.serverName }) };
}
