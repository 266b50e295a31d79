/**
 * Every real upstream Tenks configuration file in shared/compat (Kayobe, Kolla-Ansible, Tenks CI,
 * StackHPC's a-universe-from-nothing, ...) validates with no error and applies unchanged: one `it`
 * per file, found by listing the directory (`$TENKS_COMPAT_DIR`, default the shared directory's
 * `compat/`: see bench/shared-dir.ts),
 * so a new file is covered without a change here.
 *
 * Each file: `tenksctl validate` gives no error, and every warning left is about a variable that
 * truly means nothing in tenks and says what replaces it ({@link MEANINGLESS}); then the file's text
 * goes as it is to a real coordinator (over NATS and mTLS, one per run), which applies it on an
 * agent of its own; the nodes are checked against what the file asks for (names, RAM, vCPUs,
 * volumes, NICs, console logs), in Ironic and Nova where the file enrols, then the cluster is
 * deleted and nothing of it may be left: not in the agent, Ironic, Nova, the namespace, nor on the
 * host (a host snapshot before and after).
 *
 * Isolation. The files name host devices (breth1, braio, br-0, brmgmt, ...) and physnet1, whose
 * tenks bridge `tb-physnet1` a quickstart lab on the host may have. So each file's agent runs in a
 * network namespace of this test, where the test makes those source bridges, with an Open vSwitch
 * of its own (ovsdb-server and ovs-vswitchd in the namespace, userspace datapath, database under
 * the test's directory, reached through OVS_RUNDIR): the host's OVS database is host-wide, and
 * its `tb-physnet1` would otherwise be another agent's bridge to this one. An `ipmi_address`
 * (192.168.33.4) is given to the namespace's end of the veth pair, with a /32 route to it over the
 * root end only: Ironic reaches the BMCs at the address the file tells it.
 *
 * Agents: libvirt's test driver, with `test_capacity` large enough for the biggest file (a 304 GiB,
 * 48-vCPU node), so the files' sizes go to the scheduler as written, and reporting x86_64 and
 * aarch64 (`test_capacity.arches`), so aarch64 files are placed and defined as written (real aarch64
 * guests boot in test/system/aarch64-qemu.test.ts). Real QEMU is not used here: an
 * agent that can reach QEMU must share its network namespace (the VM NICs are macvtaps on links of
 * the agent's namespace), and on this host qemu:///system lives in the root namespace, where a
 * file's physnet1 clashes with a lab's; `qemu:///embed` (which would run QEMU in the namespace)
 * has no storage pools, and root's `qemu:///session` is the system daemon. See the summary printed
 * for each file.
 *
 * OpenStack: the standalone Ironic and Nova of test/helpers/openstack.ts (Ironic with the `flat`
 * network interface enabled, which Kayobe's files ask for). Glance names (`deploy_kernel:
 * ipa.kernel`) are resolved by a stand-in for Glance's image lookup (test/helpers/glance-names.ts).
 * There is no Placement: `wait_for_placement: true` must come back as a warning saying so.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { parse } from 'yaml';
import { parseClusterSpec } from '../../common/spec/index.js';
import { parseSize } from '../../common/sizes.js';
import type { FieldError } from '../../common/errors.js';
import { OperationState, type Operation } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import type { NodeStatus } from '../../proto/gen/tenks/v1/types.pb.js';
import {
  Stack,
  makePki,
  run,
  startAgent,
  startCoordinator,
  startNats,
  tenksctl,
  type Coordinator,
  type Daemon,
  type Nats,
  type Pki,
} from '../../bench/lib-stack.js';
import {
  IRONIC_LATEST,
  cloudsConfig,
  openstackPrerequisites,
  startIronic,
  startNova,
  type TestIronic,
  type TestNova,
} from '../helpers/openstack.js';
import { startGlanceNames, type GlanceNames } from '../helpers/glance-names.js';
import { hostProblems, hostSnapshot, settledDiff } from '../helpers/host-guard.js';
import { sharedMissing, sharedPath } from '../../bench/shared-dir.js';
import { suffix, waitUntil } from './helpers.js';

/** Where the upstream files are. */
const COMPAT_DIR: string = process.env.TENKS_COMPAT_DIR ?? sharedPath('compat') ?? '';

/**
 * Upstream variables that truly mean nothing in tenks, each with what its warning must say: the
 * tenks setting that replaces it, or why it has no use.
 */
const MEANINGLESS: ReadonlyMap<string, RegExp> = new Map([
  ['python_upper_constraints_url', /installs no Python/],
  ['virtualenv_path', /installs no Python/],
  ['libvirt_host_install_daemon', /scripts\/setup\.sh/],
  ['libvirt_host_configure_apparmor', /scripts\/setup\.sh/],
  ['libvirt_custom_socket_path', /libvirt_uri/],
]);

/**
 * What the test agent reports: more than the biggest file asks for (vpasias: 336 GiB, 56 vCPUs,
 * 1000 GiB), and both architectures (the test driver defines domains of either).
 */
const TEST_CAPACITY = { memory_mb: 1024 * 1024, cpus: 128, pool_gib: 8192, arches: ['x86_64', 'aarch64'] };

/** The agents' IPMI ports (in the test's namespace, so fixed ports clash with nobody's). */
const IPMI_RANGE = { start: 6230, end: 7229 };

// ---------------------------------------------------------------- the files, read as upstream reads them

interface RawVolume {
  capacity?: string | number;
}
interface RawNodeType {
  memory_mb: number;
  vcpus: number;
  volumes?: RawVolume[] | null;
  physical_networks?: string[] | null;
  console_log_enabled?: boolean | null;
  ironic_driver?: string | null;
  arch?: string | null;
}
interface RawIronicConfig {
  resource_class: string;
  network_interface?: string;
  properties?: Record<string, unknown>;
}
interface RawSpec {
  type: string;
  count: number;
  node_name_prefix?: string;
  ironic_config?: RawIronicConfig | null;
}
interface RawFlavor {
  resource_class: string;
  node_type: string;
  name?: string | null;
}
/** The variables of an upstream file this test reads (the file itself goes to tenks as text). */
interface RawFile {
  name?: string;
  node_types?: Record<string, RawNodeType> | null;
  specs?: RawSpec[] | null;
  nova_flavors?: RawFlavor[] | null;
  physnet_mappings?: Record<string, string> | null;
  node_name_prefix?: string;
  default_ironic_driver?: string;
  ipmi_address?: string;
  ipmi_port_range_start?: number;
  ipmi_port_range_end?: number;
  deploy_kernel?: string;
  deploy_ramdisk?: string;
  wait_for_placement?: boolean | null;
  state_file_path?: string;
  libvirt_vm_default_console_log_dir?: string;
  libvirt_vm_arch?: string | null;
}

/** A node type's guest architecture: its `arch`, else `libvirt_vm_arch`, else x86_64. */
function archOf(f: RawFile, type: string): string {
  // Empty means not given, as upstream's default() reads it.
  const given = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);
  return given(f.node_types?.[type]?.arch) ?? given(f.libvirt_vm_arch) ?? 'x86_64';
}

/** A node as upstream Tenks makes it from a file. */
interface ExpectedNode {
  name: string;
  memoryMb: number;
  vcpus: number;
  arch: string;
  volumeBytes: number[];
  nics: number;
  consoleLog: boolean;
  driver: string;
  ironic: RawIronicConfig | null;
}

function bytesOf(size: string | number | undefined): number {
  const r = parseSize(size ?? 0);
  assert.ok(r.ok, `volume size ${String(size)}`);
  return r.bytes;
}

/** Upstream's nodes of a file: `<prefix><index>`, specs sharing a prefix sharing its sequence. */
function expectedNodes(f: RawFile): ExpectedNode[] {
  const next = new Map<string, number>();
  const out: ExpectedNode[] = [];
  for (const s of f.specs ?? []) {
    const t = f.node_types?.[s.type];
    assert.ok(t, `node type ${s.type}`);
    const prefix = s.node_name_prefix ?? f.node_name_prefix ?? 'tk';
    for (let i = 0; i < s.count; i++) {
      const index = next.get(prefix) ?? 0;
      next.set(prefix, index + 1);
      out.push({
        name: `${prefix}${index}`,
        memoryMb: t.memory_mb,
        vcpus: t.vcpus,
        arch: archOf(f, s.type),
        volumeBytes: (t.volumes ?? []).map((v) => bytesOf(v.capacity)),
        nics: (t.physical_networks ?? []).length,
        consoleLog: t.console_log_enabled === true,
        driver: t.ironic_driver ?? f.default_ironic_driver ?? 'ipmi',
        ironic: s.ironic_config ?? null,
      });
    }
  }
  return out;
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/** The addresses a file tells Ironic its BMCs are at, when it names one. */
function bmcAddressOf(f: RawFile): string | null {
  return f.ipmi_address !== undefined && !WILDCARD.has(f.ipmi_address) ? f.ipmi_address : null;
}

const files: string[] | null =
  COMPAT_DIR !== '' && existsSync(COMPAT_DIR)
    ? readdirSync(COMPAT_DIR)
        .filter((n) => /\.ya?ml$/.test(n))
        .sort()
    : null;
const raw = new Map((files ?? []).map((n) => [n, parse(readFileSync(join(COMPAT_DIR, n), 'utf8')) as RawFile]));

// ---------------------------------------------------------------- Ironic and Nova views

interface IronicNode {
  uuid: string;
  name: string;
  driver: string;
  resource_class: string | null;
  network_interface: string;
  provision_state: string;
  properties: Record<string, unknown>;
  driver_info: Record<string, unknown>;
  last_error: string | null;
}
interface NovaFlavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
}

describe('upstream Tenks files in shared/compat validate and apply unchanged', function () {
  if (files === null) {
    it('(no compat directory)', function () {
      console.log(
        `      skipped: ${COMPAT_DIR === '' ? sharedMissing('compat') : `${COMPAT_DIR} does not exist`} (or set TENKS_COMPAT_DIR to the upstream files)`,
      );
      this.skip();
    });
    return;
  }

  const tag = suffix().slice(0, 6);
  const ns = `tcx${tag}`;
  const vethRoot = `tcr${tag}`;
  const vethNs = `tcn${tag}`;
  const net = `10.${randomInt(200, 250)}.${randomInt(1, 250)}`;
  const rootIp = `${net}.1`;
  const nsIp = `${net}.2`;
  /** Every source device the files map, made as Linux bridges in the namespace. */
  const devices = [
    ...new Set(
      [...raw.values()].flatMap((f) => Object.values(f.physnet_mappings ?? {}).map((d) => d.split(':')[0] ?? d)),
    ),
  ].sort();
  /** Every BMC address the files name. */
  const bmcAddresses = [...new Set([...raw.values()].map(bmcAddressOf).filter((a): a is string => a !== null))];
  let bmcRouteProblem: string | null = null;
  let skipOpenStack: string | null = null;
  let stack: Stack;
  let nats: Nats;
  let pki: Pki;
  let coord: Coordinator;
  let ironic: TestIronic | null = null;
  let nova: TestNova | null = null;
  let glance: GlanceNames | null = null;
  let ovsDir = '';
  let nsBaseline = '';
  const inNs = (...args: string[]): Promise<string> => run('ip', ['netns', 'exec', ns, ...args]);
  const ovsctl = (...args: string[]): Promise<string> =>
    run('env', [`OVS_RUNDIR=${ovsDir}`, 'ovs-vsctl', '--timeout=10', ...args]);

  /** The namespace's links and the private OVS's bridges, as text: a file's delete must bring it back. */
  const nsState = async (): Promise<string> => {
    const links = (JSON.parse(await inNs('ip', '-j', 'link')) as { ifname: string }[]).map((l) => l.ifname).sort();
    const bridges = (await ovsctl('list-br')).trim().split('\n').filter(Boolean).sort();
    return JSON.stringify({ links, bridges });
  };

  before(async function () {
    this.timeout(300_000);
    const pre = await openstackPrerequisites();
    skipOpenStack = [pre.ironic, pre.nova].filter((x) => x !== null).join('; ') || null;
    stack = await Stack.create('tenks-compat-');
    // Namespace, veth pair, the files' source bridges.
    await run('ip', ['netns', 'add', ns]);
    stack.onCleanup(`netns ${ns}`, () => run('ip', ['netns', 'del', ns]));
    await run('ip', ['link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethNs]);
    stack.onCleanup(`link ${vethRoot}`, () => run('ip', ['link', 'del', vethRoot]).catch(() => ''));
    await run('ip', ['link', 'set', vethNs, 'netns', ns]);
    await run('ip', ['addr', 'add', `${rootIp}/30`, 'dev', vethRoot]);
    await run('ip', ['link', 'set', vethRoot, 'up']);
    await inNs('ip', 'addr', 'add', `${nsIp}/30`, 'dev', vethNs);
    await inNs('ip', 'link', 'set', vethNs, 'up');
    await inNs('ip', 'link', 'set', 'lo', 'up');
    for (const d of devices) {
      await inNs('ip', 'link', 'add', d, 'type', 'bridge');
      await inNs('ip', 'link', 'set', d, 'up');
    }
    // The files' BMC addresses: on the namespace's end, routed to over the root end only. Not where
    // the host itself has the address or a route of that exact length already.
    for (const a of bmcAddresses) {
      const route = await run('ip', ['route', 'get', a]).catch((e: unknown) => String(e));
      const exact = await run('ip', ['route', 'show', `${a}/32`]);
      if (route.startsWith('local ') || exact.trim() !== '') {
        bmcRouteProblem = `the host already has ${a} (${route.trim() || exact.trim()}): Ironic cannot be sent there`;
        continue;
      }
      await inNs('ip', 'addr', 'add', `${a}/32`, 'dev', vethNs);
      await run('ip', ['route', 'add', `${a}/32`, 'dev', vethRoot, 'src', rootIp]);
    }
    // Open vSwitch of the namespace's own.
    ovsDir = join(stack.dir, 'ovs');
    await run('mkdir', ['-p', ovsDir]);
    await run('ovsdb-tool', ['create', join(ovsDir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    const ovsEnv = { OVS_RUNDIR: ovsDir, OVS_DBDIR: ovsDir, OVS_LOGDIR: ovsDir };
    const ovsdb = stack.spawn(
      'ovsdb-server',
      'ip',
      [
        'netns',
        'exec',
        ns,
        'ovsdb-server',
        join(ovsDir, 'conf.db'),
        `--remote=punix:${join(ovsDir, 'db.sock')}`,
        `--unixctl=${join(ovsDir, 'ovsdb-server.ctl')}`,
        `--log-file=${join(ovsDir, 'ovsdb-server.log')}`,
      ],
      { env: ovsEnv },
    );
    await waitUntil('ovsdb-server', () => Promise.resolve(existsSync(join(ovsDir, 'db.sock')) || !ovsdb.alive), 30_000);
    await ovsctl('--no-wait', 'init');
    const vswitchd = stack.spawn(
      'ovs-vswitchd',
      'ip',
      [
        'netns',
        'exec',
        ns,
        'ovs-vswitchd',
        `unix:${join(ovsDir, 'db.sock')}`,
        `--unixctl=${join(ovsDir, 'ovs-vswitchd.ctl')}`,
        `--log-file=${join(ovsDir, 'ovs-vswitchd.log')}`,
      ],
      { env: ovsEnv },
    );
    await waitUntil(
      'ovs-vswitchd',
      () => Promise.resolve(existsSync(join(ovsDir, 'ovs-vswitchd.ctl')) || !vswitchd.alive),
      30_000,
    );
    assert.ok(vswitchd.alive && ovsdb.alive, `${ovsdb.tail()}\n${vswitchd.tail()}`);

    // NATS on the root end (the agents dial it from the namespace), PKI naming both ends.
    nats = await startNats(stack, { host: rootIp });
    pki = await makePki(stack, { sans: [`IP:${rootIp}`, `IP:${nsIp}`] });

    let openstack: Record<string, unknown> = {};
    if (skipOpenStack === null) {
      const images = [...raw.values()].flatMap((f) =>
        [f.deploy_kernel, f.deploy_ramdisk].filter((x): x is string => x !== undefined),
      );
      const [i, v, g] = await Promise.allSettled([
        startIronic({ extraConfig: '[DEFAULT]\nenabled_network_interfaces = noop,flat\n' }),
        startNova(),
        startGlanceNames(images),
      ]);
      if (i.status === 'fulfilled') stack.onCleanup('ironic', () => i.value.stop());
      if (v.status === 'fulfilled') stack.onCleanup('nova', () => v.value.stop());
      if (g.status === 'fulfilled') stack.onCleanup('glance stand-in', () => g.value.close());
      for (const r of [i, v, g]) if (r.status === 'rejected') throw r.reason;
      if (i.status !== 'fulfilled' || v.status !== 'fulfilled' || g.status !== 'fulfilled') return;
      [ironic, nova, glance] = [i.value, v.value, g.value];
      const clouds = cloudsConfig({ ironicUrl: ironic.url, novaUrl: nova.url });
      const cloud = clouds.clouds['tenks-test'] ?? {};
      cloud.image_endpoint_override = glance.url;
      const cloudsFile = join(stack.dir, 'clouds.yaml');
      await writeFile(cloudsFile, JSON.stringify(clouds), { mode: 0o600 });
      openstack = { openstack: { clouds_file: cloudsFile, cloud: 'tenks-test' } };
    }
    coord = await startCoordinator(stack, nats, pki, {
      extra: { ...openstack, agent_timeout_s: 5, log_level: 'info' },
      callTimeoutMs: 60_000,
    });
    nsBaseline = await nsState();
  });

  after(async function () {
    this.timeout(180_000);
    await stack.close((l) => {
      console.log(`      ${l}`);
    });
  });

  const ironicGet = async <T>(path: string): Promise<T> => {
    assert.ok(ironic);
    const r = await fetch(`${ironic.url}${path}`, { headers: IRONIC_LATEST });
    assert.equal(r.status, 200, `GET ${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  const novaGet = async <T>(path: string): Promise<T> => {
    assert.ok(nova);
    const r = await fetch(`${nova.computeUrl}${path}`, { headers: nova.headers });
    assert.equal(r.status, 200, `GET ${path}: ${await r.clone().text()}`);
    return (await r.json()) as T;
  };
  const finish = async (op: Operation, timeoutMs = 300_000): Promise<Operation> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const o = await coord.api.getOperation(op.id);
      if (o.state >= OperationState.OPERATION_STATE_SUCCEEDED) return o;
      if (Date.now() > end) assert.fail(`operation ${op.id} did not end within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const failedResults = (op: Operation): string =>
    `${op.errorCode} ${op.errorMessage} ${JSON.stringify(op.results.filter((r) => !r.ok))}`;

  files.forEach((file, index) => {
    it(file, async function () {
      this.timeout(600_000);
      const t0 = Date.now();
      const f = raw.get(file) ?? {};
      const path = join(COMPAT_DIR, file);
      const text = await readFile(path, 'utf8');
      const summary: string[] = [];

      // 1. Validation: no error; only warnings about variables that mean nothing here.
      const ctl = await tenksctl(['validate', '-f', path, '-o', 'json'], {});
      assert.equal(ctl.code, 0, `tenksctl validate: ${ctl.stderr}${ctl.stdout}`);
      const report = JSON.parse(ctl.stdout) as { valid: boolean; warnings: FieldError[]; errors: FieldError[] };
      assert.ok(report.valid && report.errors.length === 0, JSON.stringify(report.errors));
      const { warnings } = parseClusterSpec(text, path);
      assert.deepEqual(report.warnings, warnings, 'tenksctl and the compile API warn alike');
      for (const w of warnings) console.log(`      warning: ${w.field}: ${w.message}`);
      const unexpected = warnings.filter((w) => {
        const says = MEANINGLESS.get(w.field);
        return !says?.test(w.message);
      });
      // Checked last, so that the apply is tried whatever the warnings.

      // 2. Apply the file unchanged on an agent of its own, in the test's namespace.
      const ownCluster: string[] = [];
      const hostBefore = await hostSnapshot();
      const bmcAddress = bmcAddressOf(f);
      const agentId = `cx${String(index)}-${tag}`;
      const agent: Daemon = await startAgent(stack, nats, pki, {
        id: agentId,
        libvirtUri: 'test:///default',
        poolName: `tenks-cx${String(index)}-${tag}`,
        ipmi: IPMI_RANGE,
        netns: ns,
        env: { OVS_RUNDIR: ovsDir },
        extra: {
          listen: `${nsIp}:0`,
          bmc: {
            // The BMCs answer from the address the file gives Ironic, where there is one.
            listen_address: bmcAddress !== null && bmcRouteProblem === null ? bmcAddress : nsIp,
            ipmi_port_range_start: IPMI_RANGE.start,
            ipmi_port_range_end: IPMI_RANGE.end,
            redfish_port: 0,
          },
          heartbeat_interval_s: 0.5,
          test_capacity: TEST_CAPACITY,
        },
      });
      let cluster = '';
      let deleted = false;
      try {
        await waitUntil(
          `agent ${agentId} alive at the coordinator`,
          async () => {
            if (!agent.alive) assert.fail(`agent ${agentId} exited:\n${agent.tail()}`);
            return (await coord.api.getAgents()).some((a) => a.id === agentId && a.alive);
          },
          90_000,
        );
        const plan = await coord.api.plan(text, path);
        cluster = plan.cluster;
        // Upstream keeps a file with its own state_file_path apart from the default state file.
        if (f.name === undefined && f.state_file_path !== undefined && cluster === 'tenks')
          ownCluster.push("the cluster is named 'tenks', as every file without name or state_file_path is");
        const op = await finish(await coord.api.apply(text, path));
        summary.push(
          `cluster ${cluster}: apply ${op.state === OperationState.OPERATION_STATE_SUCCEEDED ? 'ok' : 'FAILED'}`,
        );
        for (const w of op.warnings) console.log(`      apply warning: ${w}`);
        assert.equal(op.state, OperationState.OPERATION_STATE_SUCCEEDED, failedResults(op));

        // 3. The nodes, as the file asks for them.
        const want = expectedNodes(f);
        const nodes = new Map<string, NodeStatus>((await coord.api.getNodes(cluster)).map((n) => [n.name, n]));
        assert.deepEqual([...nodes.keys()].sort(), want.map((n) => n.name).sort(), 'node names');
        for (const w of want) {
          const n = nodes.get(w.name);
          assert.ok(n);
          assert.equal(n.hypervisor !== '', true);
          assert.equal(n.memoryMb, w.memoryMb, `${w.name} memory`);
          assert.equal(n.vcpus, w.vcpus, `${w.name} vCPUs`);
          assert.equal(n.arch, w.arch, `${w.name} architecture`);
          assert.deepEqual(
            n.volumes.map((v) => v.capacityBytes),
            w.volumeBytes,
            `${w.name} volumes`,
          );
          assert.equal(n.nics.length, w.nics, `${w.name} NICs`);
          for (const nic of n.nics) await inNs('ip', 'link', 'show', nic.switchPort);
          if (w.consoleLog) {
            assert.ok(n.consoleLogPath.endsWith(`/${w.name}-console.log`), `${w.name} console log ${n.consoleLogPath}`);
            if (f.libvirt_vm_default_console_log_dir !== undefined)
              assert.ok(
                n.consoleLogPath.startsWith(`${f.libvirt_vm_default_console_log_dir.replace(/\/+$/, '')}/`),
                `${w.name} console log in libvirt_vm_default_console_log_dir: ${n.consoleLogPath}`,
              );
          } else assert.equal(n.consoleLogPath, '', `${w.name} has no console log`);
        }
        summary.push(`${String(want.length)} nodes checked`);

        // 4. Ironic and Nova, where the file enrols.
        const enrolled = want.filter((n) => n.ironic !== null);
        const flavors = f.nova_flavors ?? [];
        if ((enrolled.length > 0 || flavors.length > 0) && skipOpenStack !== null) {
          summary.push(`enrolment not checked: ${skipOpenStack}`);
        } else if (enrolled.length > 0 || flavors.length > 0) {
          const inIronic = new Map(
            (await ironicGet<{ nodes: IronicNode[] }>('/v1/nodes/detail')).nodes.map((n) => [n.name, n]),
          );
          for (const w of enrolled) {
            const ic = w.ironic as RawIronicConfig;
            const n = inIronic.get(w.name);
            assert.ok(n, `${w.name} in Ironic`);
            assert.equal(n.uuid, nodes.get(w.name)?.uuid, `${w.name}: Ironic's node is the VM`);
            assert.equal(n.driver, w.driver, `${w.name} driver`);
            assert.equal(n.resource_class, ic.resource_class, `${w.name} resource_class`);
            if (ic.network_interface !== undefined)
              assert.equal(n.network_interface, ic.network_interface, `${w.name} network_interface`);
            assert.equal(n.properties.cpu_arch, w.arch, `${w.name} cpu_arch`);
            for (const [k, v] of Object.entries(ic.properties ?? {}))
              assert.deepEqual(n.properties[k], v, `${w.name} properties.${k}`);
            assert.equal(n.provision_state, 'available', `${w.name}: ${n.last_error ?? ''}`);
            if (w.driver === 'ipmi') {
              if (bmcAddress !== null) assert.equal(n.driver_info.ipmi_address, bmcAddress, `${w.name} ipmi_address`);
              const port = Number(n.driver_info.ipmi_port);
              const lo = f.ipmi_port_range_start ?? (f.ipmi_port_range_end === undefined ? IPMI_RANGE.start : 6230);
              const hi = f.ipmi_port_range_end ?? (f.ipmi_port_range_start === undefined ? IPMI_RANGE.end : 6240);
              assert.ok(port >= lo && port <= hi, `${w.name} ipmi_port ${String(port)} in ${String(lo)}-${String(hi)}`);
            }
            if (f.deploy_kernel !== undefined)
              assert.equal(n.driver_info.deploy_kernel, glance?.idOf(f.deploy_kernel), `${w.name} deploy_kernel`);
            if (f.deploy_ramdisk !== undefined)
              assert.equal(n.driver_info.deploy_ramdisk, glance?.idOf(f.deploy_ramdisk), `${w.name} deploy_ramdisk`);
          }
          const novaFlavors = (await novaGet<{ flavors: NovaFlavor[] }>('/flavors/detail')).flavors;
          for (const fl of flavors) {
            const name = fl.name ?? fl.resource_class;
            const got = novaFlavors.find((x) => x.name === name);
            assert.ok(got, `flavor ${name} in Nova`);
            const type = f.node_types?.[fl.node_type];
            assert.equal(got.ram, type?.memory_mb, `flavor ${name} ram`);
            assert.equal(got.vcpus, type?.vcpus, `flavor ${name} vcpus`);
            const specs = (await novaGet<{ extra_specs: Record<string, string> }>(`/flavors/${got.id}/os-extra_specs`))
              .extra_specs;
            const rc = `resources:CUSTOM_${fl.resource_class.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
            assert.equal(specs[rc], '1', `flavor ${name}: ${JSON.stringify(specs)}`);
          }
          if (flavors.length > 0 && f.wait_for_placement !== false)
            assert.ok(
              op.warnings.some((w) => w.includes('wait_for_placement') && /placement/i.test(w)),
              `wait_for_placement without Placement is said: ${op.warnings.join('; ')}`,
            );
          summary.push(`Ironic: ${String(enrolled.length)} nodes; Nova: ${String(flavors.length)} flavors`);
          if (bmcAddress !== null && bmcRouteProblem !== null) summary.push(bmcRouteProblem);
        }

        // 5. Delete: nothing of the cluster is left.
        const del = await finish(await coord.api.deleteCluster(cluster));
        deleted = true;
        assert.equal(del.state, OperationState.OPERATION_STATE_SUCCEEDED, failedResults(del));
        assert.deepEqual(await coord.api.getNodes(cluster), []);
        assert.ok(!(await coord.api.getClusters()).some((c) => c.name === cluster), 'cluster gone');
        if (ironic !== null && (enrolled.length > 0 || flavors.length > 0)) {
          const left = (await ironicGet<{ nodes: IronicNode[] }>('/v1/nodes')).nodes.map((n) => n.name);
          assert.deepEqual(left, [], 'Ironic nodes left');
          const flavorsLeft = (await novaGet<{ flavors: NovaFlavor[] }>('/flavors')).flavors.map((x) => x.name);
          assert.deepEqual(flavorsLeft, [], 'Nova flavors left');
        }
        assert.equal(await nsState(), nsBaseline, 'the namespace and its OVS are as before the apply');
      } finally {
        // A failed file must not leave its cluster to the next one (the default name 'tenks' is shared).
        if (cluster !== '' && !deleted)
          await (async () => finish(await coord.api.deleteCluster(cluster)))().catch((e: unknown) => {
            console.log(`      cleanup: deleting cluster ${cluster} failed: ${String(e)}`);
          });
        await agent.stop();
      }
      const hostDiff = hostProblems(`after ${file}`, await settledDiff(hostBefore));
      assert.equal(hostDiff, null, hostDiff ?? '');
      summary.push(`test:///default agent (test_capacity), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      console.log(`      ${summary.join('; ')}`);
      assert.deepEqual(ownCluster, [], 'a file with its own state_file_path is a cluster of its own');
      assert.deepEqual(
        unexpected.map((w) => `${w.field}: ${w.message}`),
        [],
        'a warning remains only for a variable that truly means nothing in tenks, naming what replaces it',
      );
    });
  });
});
