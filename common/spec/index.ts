/**
 * The cluster spec: what a user writes (YAML, snake_case, a superset of upstream Tenks' variables so
 * an upstream `override.yml` applies unchanged), validated and compiled once into a ClusterSpec, and
 * expanded into the nodes it asks for. Used alike by `tenksctl validate` (offline) and the
 * coordinator. What others may use from common/spec.
 *
 * Rules worth knowing (the details are beside the code that applies them):
 *
 * - Schema: schema.ts (with schema-fields.ts, node-type-schema.ts and scheduler-spec.ts) is the only
 *   description of the input; deploy/schema/cluster.schema.json is generated from it
 *   (`npx tsx scripts/gen-schema.ts`) for editors. compile.ts and its compile-*.ts parts apply the
 *   rules across fields.
 * - Errors: every problem at once, each with its path, in one INVALID_SPEC error. Passwords are never
 *   echoed.
 * - Secrets (secrets.ts): `ipmi_password`, `redfish_password`, and any key whose name says it holds a
 *   secret (`*password*`, `*token*`, ...) at any depth, with what aliases of them point at. One
 *   definition for everyone: the coordinator seals them in what it stores and redacts them in what it
 *   reports, and validation errors never show them.
 * - Unknown keys (unknown-keys.ts): at the top level, in node types and in volumes, keys tenks does
 *   not know are warnings (upstream and Ansible variables are common there), except near misses of
 *   keys tenks uses (`memroy_mb`), which are errors with "did you mean". Elsewhere unknown keys are
 *   errors.
 * - Physnets: `hypervisors.<id>.physnet_mappings` replaces the global `physnet_mappings` on that host,
 *   as upstream host_vars do. With `hypervisors` listed, every physnet a spec's node type uses must be
 *   mapped on at least one listed host (hosts without it simply do not get those nodes). Without
 *   `hypervisors`, the hosts are whatever agents are alive, and one may have the physnet set up
 *   already, so an unmapped physnet is a warning; the scheduler is given, per host, the physnets the
 *   spec maps there plus those the agent reports.
 * - Cluster name (cluster-name.ts): `name`, else from upstream's `state_file_path` (the state file's
 *   name without extension and leading `state-`), else `tenks`.
 * - Several files (spec-files.ts): merged in order, a later file's top-level key replacing the
 *   earlier value wholesale, as Ansible merges `-e @file`; errors name the file of their key.
 * - Names: `<node_name_prefix><index>`, specs sharing a prefix share its sequence (as upstream);
 *   node names follow the agent's rule (1-63 characters of letters, digits, `_ . -`); names made by
 *   different prefixes must not collide (`tk1`+`0` vs `tk`+`10`). Volumes are `<vol_name_prefix><i>`.
 * - Defaults differing from upstream: `ipmi_port_range_*` unset means the agent's range (upstream's
 *   6230-6240 would cap a hypervisor at 11 nodes; giving one end fills the other with upstream's
 *   default); `ipmi_address`/`redfish_address` 0.0.0.0 mean the agent's advertised address, not a
 *   listen address; Redfish credentials default to the IPMI ones; `deploy_kernel_uuid` /
 *   `deploy_ramdisk_uuid` are accepted as old names.
 */
export { compileClusterSpec, type CompiledClusterSpec } from './compile.js';
export { hostSettings } from './compile-hosts.js';
export { clusterNameFromStateFile, describeNameSource, resolveClusterName, stateFileName } from './cluster-name.js';
export { expandNodes } from './expand.js';
export { canonicalJson } from '../canonical-json.js';
export { parseClusterSpec, loadClusterSpecFile } from './load.js';
export { mergeSpecFiles, parseClusterSpecFiles, type MergedClusterSpec, type SpecFile } from './spec-files.js';
export { clusterJsonSchema, CLUSTER_SCHEMA_PATH } from './json-schema.js';
export { defaultSchedulerSpec } from './scheduler-spec.js';
export {
  isSecretKey,
  redactSpecSecrets,
  replaceSpecSecrets,
  specSecrets,
  REDACTED,
  SECRET_SPEC_FIELDS,
} from './secrets.js';
export { NAME_PATTERN, CLUSTER_NAME_PATTERN } from './rules.js';
export type * from './types.js';
