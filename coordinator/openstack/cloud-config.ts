/** A compiled OpenStack cloud: how to authenticate, where its services are, its TLS settings. */
import type { Logger } from '../../common/index.js';
import type { Secret } from './secret.js';

/** The services tenks uses, by catalog type. */
export const SERVICE_TYPES = ['baremetal', 'compute', 'placement', 'image'] as const;
/** One of {@link SERVICE_TYPES}. */
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** Catalog endpoint interface. */
export type EndpointInterface = 'public' | 'internal' | 'admin';

/** A domain by id or by name. */
export type DomainRef = { id: string } | { name: string };

/** A Keystone user by id, or by name in a domain. */
export type UserRef = { id: string } | { name: string; domain: DomainRef };

/** What a Keystone token is scoped to. */
export type KeystoneScope =
  | { kind: 'project'; project: { id: string } | { name: string; domain: DomainRef } }
  | { kind: 'domain'; domain: DomainRef }
  | { kind: 'system' };

/** How to authenticate, by auth type. */
export type CloudAuth =
  | { type: 'password'; authUrl: string; user: UserRef; password: Secret; scope: KeystoneScope }
  | {
      type: 'v3applicationcredential';
      authUrl: string;
      credential: { id: string } | { name: string; user: UserRef };
      secret: Secret;
    }
  | { type: 'token'; authUrl: string; token: Secret; scope: KeystoneScope }
  | { type: 'admin_token'; token: Secret; endpoint: string | null }
  | { type: 'http_basic'; username: string; password: Secret; endpoint: string | null }
  | { type: 'none'; endpoint: string | null };

/** The auth types tenks implements. */
export type AuthType = CloudAuth['type'];

/** Settings of one service. */
export interface ServiceSettings {
  /** `<service>_endpoint_override` (or `<service>_endpoint`): used instead of the catalog. */
  endpointOverride: string | null;
  /** Catalog interface; default the cloud's `interface`, else `public`. */
  interface: EndpointInterface;
  /** Catalog region; default the cloud's region. */
  regionName: string | null;
  /** `<service>_api_version`, e.g. `1.78` for baremetal: caps the microversion. */
  apiVersion: string | null;
}

/** TLS settings of a cloud (files are read when connecting). */
export interface CloudTls {
  /** CA bundle that signs the cloud's certificates (`cacert`); null for the system CAs. */
  caFile: string | null;
  /** Client certificate (`cert`), with `keyFile`. */
  certFile: string | null;
  keyFile: string | null;
  /** False with `verify: false` or `insecure: true`. */
  verify: boolean;
}

/** A compiled cloud. */
export interface CloudConfig {
  /** Cloud name, or `envvars` (`OS_CLOUD_NAME`) for one from OS_* variables. */
  name: string;
  /** Where it came from, for messages: a file path (`+ secure.yaml`) or `environment`. */
  source: string;
  auth: CloudAuth;
  /** The cloud's region, or null (any). */
  regionName: string | null;
  services: Record<ServiceType, ServiceSettings>;
  tls: CloudTls;
  /** `api_timeout`, or null to use the caller's default. */
  apiTimeoutMs: number | null;
}

/** Where to look, and in what environment. */
export interface CloudLookupOptions {
  /** Environment (OS_*, HOME, XDG_*); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Working directory, first on the search path; default `process.cwd()`. */
  cwd?: string;
  /** Directories to search instead of the standard ones (tests). */
  searchDirs?: readonly string[];
  log: Logger;
}

/** The service `auth.endpoint` stands for when there is no catalog (see the file comment). */
export function endpointServiceOf(type: AuthType): ServiceType | null {
  switch (type) {
    case 'none':
    case 'http_basic':
      return 'baremetal';
    case 'admin_token':
      return 'compute';
    default:
      return null;
  }
}
