/**
 * `tenksctl export CLUSTER --format ironic|bifrost|metal3 [--file OUT]`: a cluster's nodes as the
 * enrolment file of another tool, BMC credentials included.
 *
 * The nodes are the cluster's spec (GetClusters' `spec_yaml`, compiled and expanded as the
 * coordinator does) joined by name with what the agents report (GetNodes with secrets: UUIDs, MACs,
 * switch ports, BMC endpoints and passwords). Nodes the spec asks for that do not exist yet are left
 * out, with a note. Ironic's view of a node is `desiredIronicNode`, the function enrolment uses, so
 * an export says what tenks would enrol. Deploy images are the spec's values as given: names are not
 * looked up in Glance offline.
 *
 * - `ironic`: YAML for python-ironicclient's `baremetal create` (`openstack baremetal create`):
 *   `{nodes: [{...node create body, ports: [...]}]}`. Keys the client refuses to pass to the node
 *   create call (its `_creation_attributes`, python-ironicclient 5.0.1: no `traits`, `shard`,
 *   `firmware_interface`) are left out and turned into the commands that set them afterwards, in
 *   the file's header.
 * - `bifrost`: Bifrost's JSON inventory (`BIFROST_INVENTORY_SOURCE`, `bifrost-cli enroll`): an
 *   object keyed by node name with `name`, `uuid`, `driver`, `driver_info` (flat: current Bifrost
 *   documents the nested `power` section as legacy), `nics: [{mac}]` and the `properties` its
 *   enrolment module knows (`cpu_arch`, `cpus`, `ram`, `disk_size`, `capabilities`).
 * - `metal3`: Kubernetes YAML, per node a `Secret` `<node>-bmc-secret` (username, password) and a
 *   `BareMetalHost` (`metal3.io/v1alpha1`): `online: false`, `bootMACAddress` (first NIC), `bootMode`,
 *   `bmc.address` (`ipmi://host:port`, `redfish+http://host:port/redfish/v1/Systems/<uuid>`),
 *   `bmc.credentialsName`, `rootDeviceHints.deviceName: /dev/vda` (tenks disks are virtio; the
 *   operator's own default hint is /dev/sda).
 */
import { open } from 'node:fs/promises';
import { stringify } from 'yaml';
import {
  TenksError,
  createBody,
  desiredIronicNode,
  expandNodes,
  hostSettings,
  parseClusterSpec,
  type ClusterSpec,
  type CoordinatorApi,
  type DesiredIronicNode,
  type DesiredNode,
  type IronicConfig,
  type NodeFacts,
  type NodeStatus,
} from '../common/index.js';
import { ExitCode } from './exit-codes.js';
import { noMoreArgs, usageError } from './usage.js';

/** Formats of `tenksctl export`. */
export const EXPORT_FORMATS = ['ironic', 'bifrost', 'metal3'] as const;
/** One of {@link EXPORT_FORMATS}. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An export: the file's text and what the user should know about it (printed on stderr). */
export interface ExportResult {
  text: string;
  /** Nodes in the file. */
  nodes: number;
  notes: string[];
}

/** A stream the command writes to (process.stdout / process.stderr, or fakes). */
interface ExportStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** What `export` needs of the CLI (the coordinator commands' context satisfies it). */
export interface ExportContext {
  api: () => Promise<CoordinatorApi>;
  settings: { timeoutMs: number };
  /** Aborted at the first Ctrl-C. */
  interrupt: AbortSignal;
  stdout: ExportStream;
  stderr: ExportStream;
}

/** Flags `export` reads. */
export interface ExportFlags {
  /** `--format`. */
  format?: string | undefined;
  /** `--file` / `-f`: write there (mode 0600) instead of stdout. */
  file?: string | undefined;
}

/** Node keys python-ironicclient 5.0.1 passes to the node create call (`NodeManager._creation_attributes`). */
const CLIENT_NODE_KEYS: ReadonlySet<string> = new Set([
  'chassis_uuid',
  'driver',
  'driver_info',
  'extra',
  'uuid',
  'properties',
  'name',
  'bios_interface',
  'boot_interface',
  'console_interface',
  'deploy_interface',
  'inspect_interface',
  'management_interface',
  'network_interface',
  'power_interface',
  'raid_interface',
  'rescue_interface',
  'storage_interface',
  'vendor_interface',
  'resource_class',
  'conductor_group',
  'automated_clean',
  'network_data',
]);

/** How to set, after `baremetal create`, a node key the client does not take at creation. */
const SET_LATER: Record<string, (node: string, value: unknown) => string> = {
  shard: (n, v) => `baremetal node set ${n} --shard ${String(v)}`,
  // Ironic itself takes it only from API 1.86 (Ironic 21.4, API 1.82, refuses it with 400).
  firmware_interface: (n, v) => `baremetal node set ${n} --firmware-interface ${String(v)}   (Ironic API 1.86+)`,
};

/** The properties Bifrost's enrolment (openstack.cloud.baremetal_node) knows, by their inventory names. */
const BIFROST_PROPERTIES: Record<string, string> = {
  cpu_arch: 'cpu_arch',
  cpus: 'cpus',
  memory_mb: 'ram',
  local_gb: 'disk_size',
  capabilities: 'capabilities',
};

/** Stand-in for nodes without ironic_config: metal3 needs only their BMC, not an enrolment. */
const NO_IRONIC_CONFIG: IronicConfig = {
  resourceClass: '',
  traits: [],
  properties: {},
  interfaces: {},
  conductorGroup: null,
  shard: null,
};

/** The first disk of a tenks VM as the guest sees it (virtio, domain-xml.ts names it vda). */
const ROOT_DEVICE = '/dev/vda';

/**
 * YAML 1.1 output: python-ironicclient reads the file with PyYAML (YAML 1.1), which takes an
 * unquoted `52:54:00:12:34:56` for a base-60 integer and `on`/`no` for booleans; 1.1 quotes them.
 */
const YAML_11 = { version: '1.1' } as const;

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses `--format`; INVALID_SPEC when missing or unknown. */
export function parseExportFormat(s: string | undefined): ExportFormat {
  if (s !== undefined && (EXPORT_FORMATS as readonly string[]).includes(s)) return s as ExportFormat;
  throw new TenksError(
    'INVALID_SPEC',
    s === undefined
      ? `export needs --format ${EXPORT_FORMATS.join('|')}`
      : `unknown export format '${s}' (use ${EXPORT_FORMATS.join(', ')})`,
    { field: '--format', hint: 'e.g. tenksctl export CLUSTER --format ironic --file nodes.yaml' },
  );
}

/** An endpoint with the spec's credentials where the agent sent none. */
function withCredentials<E extends { username: string; password: string }>(
  endpoint: E | null | undefined,
  spec: { username: string; password: string },
): E | null {
  if (!endpoint) return null;
  return { ...endpoint, username: endpoint.username || spec.username, password: endpoint.password || spec.password };
}

/** What desiredIronicNode needs of a node, from its status; empty credentials fall back to the spec's. */
function factsOf(spec: ClusterSpec, s: NodeStatus): NodeFacts {
  return {
    uuid: s.uuid,
    nics: s.nics.map((c) => ({ ...c })),
    bmc: {
      ipmi: withCredentials(s.bmc?.ipmi, spec.ipmi),
      redfish: withCredentials(s.bmc?.redfish, spec.redfish),
    },
  };
}

/** A node of the export: the spec's view, the agent's, and Ironic's. */
interface Exported {
  desired: DesiredNode;
  status: NodeStatus;
  ironic: DesiredIronicNode;
}

/**
 * The spec's nodes that exist, in the spec's order. `needIronicConfig`: leave out (with a note)
 * nodes the spec does not enrol in Ironic.
 */
function exportedNodes(
  spec: ClusterSpec,
  statuses: readonly NodeStatus[],
  needIronicConfig: boolean,
  notes: string[],
): Exported[] {
  const byName = new Map(statuses.filter((s) => s.cluster === spec.name || s.cluster === '').map((s) => [s.name, s]));
  const desired = expandNodes(spec);
  const missing: string[] = [];
  const unenrolled: string[] = [];
  const out: Exported[] = [];
  for (const n of desired) {
    const status = byName.get(n.name);
    if (!status) {
      missing.push(n.name);
      continue;
    }
    if (n.ironicConfig === null && needIronicConfig) {
      unenrolled.push(n.name);
      continue;
    }
    const settings = hostSettings(spec, status.hypervisor);
    const node = n.ironicConfig === null ? { ...n, ironicConfig: NO_IRONIC_CONFIG } : n;
    let ironic: DesiredIronicNode;
    try {
      ironic = desiredIronicNode(
        spec,
        node,
        factsOf(spec, status),
        { kernel: spec.deployKernel, ramdisk: spec.deployRamdisk },
        { ipmi: settings.ipmiAddress, redfish: settings.redfishAddress },
      );
    } catch (e) {
      // The agent reports no endpoint of the node's driver (e.g. Redfish disabled on its host).
      throw new TenksError('UNAVAILABLE', `node ${n.name}: ${(e as Error).message}`, {
        cause: e,
        hint: 'tenksctl describe node NAME shows its BMC endpoints',
      });
    }
    out.push({ desired: n, status, ironic });
  }
  if (missing.length > 0)
    notes.push(`left out ${missing.length} node(s) the spec asks for but no agent reports: ${missing.join(', ')}`);
  if (unenrolled.length > 0)
    notes.push(`left out ${unenrolled.length} node(s) without ironic_config (not enrolled): ${unenrolled.join(', ')}`);
  const known = new Set(desired.map((n) => n.name));
  const extra = statuses.filter((s) => !known.has(s.name)).map((s) => s.name);
  if (extra.length > 0) notes.push(`left out node(s) the spec no longer asks for: ${extra.join(', ')}`);
  return out;
}

function deployImagesNote(spec: ClusterSpec): string {
  if (spec.deployKernel === null && spec.deployRamdisk === null)
    return "deploy_kernel/deploy_ramdisk: not in the spec, so not in the file (Ironic's [conductor] defaults apply)";
  return (
    `deploy_kernel=${spec.deployKernel ?? '(unset)'} deploy_ramdisk=${spec.deployRamdisk ?? '(unset)'} are the ` +
    'spec values as given: Glance image names are not resolved offline (use UUIDs or URLs where a name is given)'
  );
}

/** `baremetal create` YAML. */
function ironicExport(spec: ClusterSpec, nodes: readonly Exported[], notes: string[]): ExportResult {
  const later: string[] = [];
  const dropped = new Set<string>();
  const list = nodes.map(({ ironic: d }) => {
    const body = createBody(d, spec.name);
    for (const [k, v] of Object.entries(body)) {
      if (CLIENT_NODE_KEYS.has(k)) continue;
      Reflect.deleteProperty(body, k);
      dropped.add(k);
      const set = SET_LATER[k];
      later.push(set ? set(d.name, v) : `baremetal node set ${d.name} --${k.replace(/_/g, '-')} ${String(v)}`);
    }
    if (d.traits.length > 0) later.push(`baremetal node add trait ${d.name} ${d.traits.join(' ')}`);
    return {
      ...body,
      ports: d.ports.map((p) => ({
        address: p.address,
        physical_network: p.physical_network,
        ...(p.local_link_connection ? { local_link_connection: p.local_link_connection } : {}),
        pxe_enabled: p.pxe_enabled,
      })),
    };
  });
  if (nodes.some((n) => n.ironic.traits.length > 0)) dropped.add('traits');
  if (dropped.size > 0)
    notes.push(
      `baremetal create does not take ${[...dropped].sort().join(', ')}: the file's header lists the commands to run after it`,
    );
  const header = [
    `tenks export of cluster ${spec.name}: ${list.length} Ironic node(s) with their ports, for python-ironicclient:`,
    '  baremetal create FILE.yaml   (the name must end in .yaml), then baremetal node manage / provide',
    'It holds BMC passwords (driver_info.*_password): keep it private.',
    deployImagesNote(spec),
    ...(later.length > 0 ? ['Not accepted by baremetal create; run after it:', ...later.map((c) => `  ${c}`)] : []),
  ];
  const text = header.map((l) => `# ${l}`.trimEnd()).join('\n') + '\n' + stringify({ nodes: list }, YAML_11);
  return { text, nodes: list.length, notes };
}

/** Bifrost inventory JSON. */
function bifrostExport(spec: ClusterSpec, nodes: readonly Exported[], notes: string[]): ExportResult {
  const droppedProps = new Set<string>();
  const out: Record<string, unknown> = {};
  for (const { ironic: d } of nodes) {
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.properties)) {
      const key = BIFROST_PROPERTIES[k];
      // The inventory examples (and the module's options) carry strings.
      if (key !== undefined) properties[key] = String(v);
      else droppedProps.add(k);
    }
    out[d.name] = {
      name: d.name,
      uuid: d.uuid,
      driver: d.driver,
      driver_info: d.driverInfo,
      nics: d.ports.map((p) => ({ mac: p.address })),
      properties,
      ...(d.interfaces.boot !== undefined ? { boot_interface: d.interfaces.boot } : {}),
    };
  }
  notes.push(deployImagesNote(spec));
  if (droppedProps.size > 0)
    notes.push(`Bifrost's enrolment takes no properties ${[...droppedProps].sort().join(', ')}: left out`);
  if (nodes.length > 0)
    notes.push(
      "Bifrost's inventory has no resource class, traits, interfaces (but boot), physical networks or switch ports: " +
        'set them with baremetal node set / port set after enrolment if you need them',
    );
  return { text: JSON.stringify(out, null, 2) + '\n', nodes: nodes.length, notes };
}

/** The BareMetalHost `bmc.address` of a node, from the driver_info enrolment would use. */
function metal3Address(d: DesiredIronicNode): string {
  const info = d.driverInfo;
  if (d.driver === 'ipmi') {
    const host = String(info.ipmi_address);
    return `ipmi://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${String(info.ipmi_port)}`;
  }
  const u = new URL(String(info.redfish_address));
  // metal3: redfish:// is HTTPS, redfish+http:// plain HTTP.
  const scheme = u.protocol === 'http:' ? 'redfish+http' : 'redfish';
  return `${scheme}://${u.host}${String(info.redfish_system_id)}`;
}

function k8sName(node: string): string {
  const name = node.toLowerCase().replace(/_/g, '-');
  if (!K8S_NAME.test(name) || name.length > 253 - '-bmc-secret'.length)
    throw new TenksError('INVALID_SPEC', `node name '${node}' cannot be a Kubernetes object name`, {
      hint: 'metal3 names are lower case letters, digits, - and .',
    });
  return name;
}

/** metal3 Secrets and BareMetalHosts, as YAML documents. */
function metal3Export(spec: ClusterSpec, nodes: readonly Exported[], notes: string[]): ExportResult {
  const docs: unknown[] = [];
  const renamed: string[] = [];
  const seen = new Map<string, string>();
  for (const { desired: n, ironic: d } of nodes) {
    const name = k8sName(d.name);
    const other = seen.get(name);
    if (other !== undefined)
      throw new TenksError('INVALID_SPEC', `nodes '${other}' and '${d.name}' would both be BareMetalHost ${name}`);
    seen.set(name, d.name);
    if (name !== d.name) renamed.push(`${d.name} → ${name}`);
    const secret = `${name}-bmc-secret`;
    const ipmi = d.driver === 'ipmi';
    const labels = { 'tenks-cluster': spec.name };
    docs.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret, labels },
      type: 'Opaque',
      stringData: {
        username: String(d.driverInfo[ipmi ? 'ipmi_username' : 'redfish_username']),
        password: String(d.driverInfo[ipmi ? 'ipmi_password' : 'redfish_password']),
      },
    });
    const mac = d.ports[0]?.address;
    if (mac === undefined) notes.push(`${d.name} has no NIC: metal3 needs bootMACAddress to network-boot it`);
    const insecure = !ipmi && spec.redfishVerifyCa === false;
    docs.push({
      apiVersion: 'metal3.io/v1alpha1',
      kind: 'BareMetalHost',
      metadata: { name, labels },
      spec: {
        online: false,
        ...(mac !== undefined ? { bootMACAddress: mac } : {}),
        bootMode: n.bootMode === 'uefi' ? 'UEFI' : 'legacy',
        bmc: { address: metal3Address(d), credentialsName: secret, disableCertificateVerification: insecure },
        ...(n.volumes.length > 0 ? { rootDeviceHints: { deviceName: ROOT_DEVICE } } : {}),
      },
    });
  }
  if (renamed.length > 0) notes.push(`Kubernetes names are lower case: ${renamed.join(', ')}`);
  const header =
    `# tenks export of cluster ${spec.name}: ${nodes.length} metal3 BareMetalHost(s) and their BMC Secrets.\n` +
    '# The Secrets hold BMC passwords: keep this file private. kubectl apply -n NAMESPACE -f FILE\n';
  return { text: header + docs.map((d) => `---\n${stringify(d, YAML_11)}`).join(''), nodes: nodes.length, notes };
}

/**
 * Renders an export of a cluster: `spec` compiled from its spec YAML, `statuses` what GetNodes
 * reports (with secrets). Pure.
 */
export function renderExport(format: ExportFormat, spec: ClusterSpec, statuses: readonly NodeStatus[]): ExportResult {
  const notes: string[] = [];
  const nodes = exportedNodes(spec, statuses, format !== 'metal3', notes);
  switch (format) {
    case 'ironic':
      return ironicExport(spec, nodes, notes);
    case 'bifrost':
      return bifrostExport(spec, nodes, notes);
    case 'metal3':
      return metal3Export(spec, nodes, notes);
  }
}

async function writePrivate(file: string, text: string): Promise<void> {
  let h;
  try {
    // 0600 from the start: the file holds passwords.
    h = await open(file, 'w', 0o600);
    await h.chmod(0o600);
    await h.writeFile(text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TenksError(
      code === 'EACCES' || code === 'EPERM' ? 'PERMISSION' : 'INVALID_SPEC',
      `cannot write '${file}': ${(e as Error).message}`,
      { cause: e, field: '--file' },
    );
  } finally {
    await h?.close();
  }
}

/** `tenksctl export CLUSTER --format F [--file OUT]`. `-o` does not apply: the format is the file's. */
export async function runExport(ctx: ExportContext, args: readonly string[], flags: ExportFlags): Promise<number> {
  const [cluster] = args;
  if (cluster === undefined || cluster === '')
    throw usageError(
      `export needs a cluster name: tenksctl export CLUSTER --format ${EXPORT_FORMATS.join('|')}`,
      'CLUSTER',
    );
  noMoreArgs(args, 1, 'export');
  const format = parseExportFormat(flags.format);
  const api = await ctx.api();
  const opts = { timeoutMs: ctx.settings.timeoutMs, signal: ctx.interrupt };
  // The export holds BMC passwords: it asks for the specs with their secrets.
  const c = (await api.getClusters(true, opts)).find((x) => x.name === cluster);
  if (!c)
    throw new TenksError('NOT_FOUND', `cluster '${cluster}' not found`, { hint: 'tenksctl get clusters lists them' });
  if (c.specYaml === '')
    throw new TenksError('UNAVAILABLE', `the coordinator sent no spec for cluster '${cluster}'`, {
      hint: 'is an apply of it still starting? tenksctl get clusters -o yaml shows the spec',
    });
  const { spec } = parseClusterSpec(c.specYaml, `cluster ${cluster} (as stored by the coordinator)`);
  const statuses = await api.getNodes(cluster, '', true, opts);
  const r = renderExport(format, spec, statuses);
  for (const n of r.notes) ctx.stderr.write(`note: ${n}\n`);
  if (flags.file !== undefined && flags.file !== '') {
    if (format === 'ironic' && !flags.file.endsWith('.yaml'))
      ctx.stderr.write('note: baremetal create reads this YAML only from a file whose name ends in .yaml\n');
    await writePrivate(flags.file, r.text);
    ctx.stderr.write(`wrote ${r.nodes} node(s) of cluster ${cluster} to ${flags.file} (mode 0600: BMC passwords)\n`);
  } else {
    if (ctx.stdout.isTTY === true)
      ctx.stderr.write('warning: the export holds BMC credentials (passwords included); --file OUT writes it 0600\n');
    ctx.stdout.write(r.text);
  }
  return ExitCode.OK;
}
