import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { runAgentCommand } from './agent-commands.js';
import { dialOptions, loadCliConfigFile, resolveCliSettings, type CliFlags, type CliSettings } from './config.js';
import { COORDINATOR_COMMANDS, runCoordinatorCommand } from './coordinator-commands.js';
import { defaultHint, ExitCode, exitCodeOf } from './exit-codes.js';
import { parseOutputFormat, type OutputFormat } from './output.js';
import { usageError } from './usage.js';
import {
  AgentApi,
  CoordinatorApi,
  TenksError,
  channelOptions,
  dialCredentials,
  isTenksError,
  toTenksError,
  silenceIpServerNameWarning,
} from '../common/index.js';

const VERSION = '0.1.0';

const USAGE = `tenksctl: virtual bare metal clusters

usage: tenksctl [global options] COMMAND ...

commands (through the coordinator):
  validate -f SPEC.yaml [-f MORE.yaml ...]
                                      check a cluster spec offline: every error with its path
  plan -f SPEC.yaml [-f ...] [--prune]
                                      what apply would do (+ create, ~ update, -/+ replace, - delete)
  apply -f SPEC.yaml [-f ...] [--prune]
                                      bring the cluster to the spec, following progress to the end;
                                      deleting more than half of a cluster's nodes needs --prune
  delete CLUSTER [--force]            remove a cluster: nodes, BMCs, enrolment, flavors, bridges
  teardown [--force]                  remove every cluster and all host setup tenks made
                                      (--force: also nodes Ironic reports in use)
  get clusters [--show-secrets]       declared clusters (-o json|yaml: with their spec, whose
                                      secrets the coordinator redacts unless --show-secrets)
  get nodes [NAME] [--cluster C] [--show-secrets]
                                      nodes; BMC passwords only with --show-secrets
  get agents                          agents (hypervisors), alive or not
  get operation ID                    one operation and its per-node results
  describe node NAME [--cluster C] [--show-secrets]
                                      one node: hypervisor, MACs, BMC endpoints, volumes
  power on|off|soft-off|reset|nmi|cycle NAME [--cluster C]
  watch [OPERATION_ID]                stream progress events: of one operation until it ends,
                                      or of all operations until Ctrl-C (-o json: one per line)
  cancel OPERATION_ID                 ask the coordinator to cancel an operation
  info                                coordinator id, version and NATS URLs
  export CLUSTER --format ironic|bifrost|metal3 [--file OUT]
                                      the cluster's nodes as a baremetal create file (ironic),
                                      a Bifrost inventory or metal3 BareMetalHosts + Secrets;
                                      BMC passwords included (--file writes it mode 0600);
                                      -o does not apply
  version

  Several -f files are merged in order as Ansible merges -e @FILE: a later file's top-level key
  replaces the earlier value wholesale (no deep merge); errors name the file of their key. A spec
  without name is named after its state_file_path (else "tenks"); plan and validate say how.

  apply, delete and teardown show live progress on a terminal (plain lines otherwise) and end
  with a summary per node. Ctrl-C cancels the operation and waits up to 10 s for it to end;
  a second Ctrl-C stops waiting. With -o json stdout holds the final operation.
  Progress comes from NATS (--nats, else the URLs the coordinator reports); when NATS cannot
  be reached tenksctl says so and polls the coordinator every 2 s instead.

commands (direct to one agent):
  agent info                          host facts of the agent
  agent nodes [--cluster C]           the agent's nodes
  agent get NAME|UUID                 one node
  agent ensure -f NODE.yaml [--dry-run]
                                      create or update a node to match the file
  agent delete NAME|UUID              remove a node, its volumes and NVRAM
  agent power on|off|soft-off|reset|nmi|cycle NAME|UUID
  agent watch [--cluster C]           stream node events (Ctrl-C to stop)
  agent setup-host --cluster C [--bridge-type openvswitch|linuxbridge]
                   --physnet NAME=DEVICE[:VLAN] ...
                                      bridges and uplinks of the cluster's physnets
  agent teardown-host [--cluster C]   remove them (all clusters without --cluster)
  agent physnets                      physnets set up on the agent's host

global options (flags > environment > config file > defaults):
  --coordinator HOST:PORT
                       coordinator address (env TENKS_COORDINATOR, file coordinator:,
                       default 127.0.0.1:7442)
  --agent HOST:PORT    agent address (env TENKS_AGENT, file agent:, default 127.0.0.1:7443)
  --ca FILE --cert FILE --key FILE
                       mTLS files (env TENKS_CA, TENKS_CERT, TENKS_KEY; file ca_file:,
                       cert_file:, key_file:, relative to the file)
  --insecure           plaintext gRPC, loopback addresses only (env TENKS_INSECURE=1,
                       file insecure: true)
  --server-name NAME   TLS name to verify (env TENKS_SERVER_NAME, file server_name:,
                       default: the host of the address)
  --nats URL[,URL]     NATS for progress events (env TENKS_NATS, file nats:, default the
                       URLs the coordinator reports; tls:// URLs use the mTLS files)
  --config FILE        config file (env TENKS_CONFIG; default ~/.config/tenks/tenksctl.yaml,
                       else /etc/tenks/tenksctl.yaml)
  -o, --output table|json|yaml
                       (file output:, default table); with json, stdout holds only JSON
                       and errors go to stderr as {"error":{"code","message"}}
  --timeout SECONDS    per-call deadline (default 120)
  --show-secrets       ask for BMC passwords (nodes) and spec secrets (clusters)
  --debug              print stacks and causes on errors, and debug logs

exit codes: 0 ok, 1 internal, 2 invalid input, 3 not found, 4 conflict/exists,
            5 unavailable/timeout, 6 permission, 7 capacity, 8 unsupported, 130 interrupted
  apply, delete, teardown and watch ID: 0 when the operation succeeded, 130 when it was
  cancelled or interrupted, else the status of the operation's error code or, when only
  nodes failed, of the first failed node's code.`;

function printError(e: unknown, format: OutputFormat, debug: boolean): number {
  const err = toTenksError(e);
  if (format === 'json') {
    process.stderr.write(
      JSON.stringify({
        error: {
          code: err.code,
          message: err.message,
          ...(err.field ? { field: err.field } : {}),
          ...(err.details.length ? { details: err.details } : {}),
        },
      }) + '\n',
    );
  } else {
    // Several problems (every spec error with its path) are one per line, aligned under the first.
    const [first = '', ...more] = err.message.split('\n');
    process.stderr.write(`error: ${first}\n${more.map((l) => `       ${l}\n`).join('')}  code: ${err.code}\n`);
    const hint = err.hint ?? defaultHint[err.code];
    if (hint) process.stderr.write(`  hint: ${hint}\n`);
    if (debug) {
      process.stderr.write(`${err.stack ?? ''}\n`);
      if (err.cause)
        process.stderr.write(
          `caused by: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : JSON.stringify(err.cause)}\n`,
        );
    }
  }
  return exitCodeOf[err.code];
}

/** Ctrl-C: the first press aborts `interrupt`, the second `hardStop`, a third exits at once. */
function interrupts(): { interrupt: AbortSignal; hardStop: AbortSignal; dispose: () => void } {
  const first = new AbortController();
  const second = new AbortController();
  let presses = 0;
  const onSigint = (): void => {
    presses++;
    if (presses === 1) first.abort(new TenksError('CANCELLED', 'interrupted'));
    else if (presses === 2) second.abort(new TenksError('CANCELLED', 'interrupted'));
    else process.exit(ExitCode.CANCELLED);
  };
  process.on('SIGINT', onSigint);
  return {
    interrupt: first.signal,
    hardStop: second.signal,
    dispose: () => process.removeListener('SIGINT', onSigint),
  };
}

async function runAgent(
  settings: CliSettings,
  rest: string[],
  values: {
    cluster?: string | undefined;
    file?: string | undefined;
    'dry-run': boolean;
    physnet?: string[] | undefined;
    'bridge-type'?: string | undefined;
    'show-secrets': boolean;
  },
  signal: AbortSignal,
): Promise<number> {
  const dial = dialOptions(settings, settings.agent);
  const creds = await dialCredentials(dial);
  const client = new AgentApi(settings.agent, creds, channelOptions(dial), settings.timeoutMs);
  try {
    await runAgentCommand(
      {
        client,
        format: settings.output,
        timeoutMs: settings.timeoutMs,
        signal,
        note: (l) => process.stderr.write(l + '\n'),
      },
      rest,
      {
        cluster: values.cluster,
        file: values.file,
        dryRun: values['dry-run'],
        physnets: values.physnet,
        bridgeType: values['bridge-type'],
        showSecrets: values['show-secrets'],
      },
    );
  } finally {
    client.close();
  }
  return ExitCode.OK;
}

async function main(argv: string[]): Promise<number> {
  let format: OutputFormat = 'table';
  let debug = false;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        coordinator: { type: 'string' },
        agent: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        'server-name': { type: 'string' },
        nats: { type: 'string' },
        config: { type: 'string' },
        output: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        debug: { type: 'boolean', default: false },
        cluster: { type: 'string' },
        file: { type: 'string', short: 'f', multiple: true },
        force: { type: 'boolean', default: false },
        prune: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        physnet: { type: 'string', multiple: true },
        'bridge-type': { type: 'string' },
        'show-secrets': { type: 'boolean', default: false },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    debug = values.debug;
    // Errors before the config is read still honour -o json when it is valid.
    try {
      format = parseOutputFormat(values.output);
    } catch {
      format = 'table';
    }
    const [group, ...rest] = positionals;
    if (values.help || group === undefined || group === 'help') {
      process.stdout.write(USAGE + '\n');
      return group === undefined && !values.help ? ExitCode.INVALID : ExitCode.OK;
    }
    if (group === 'version') {
      parseOutputFormat(values.output);
      process.stdout.write(format === 'table' ? `tenksctl ${VERSION}\n` : JSON.stringify({ version: VERSION }) + '\n');
      return ExitCode.OK;
    }
    if (group !== 'agent' && !(COORDINATOR_COMMANDS as readonly string[]).includes(group))
      throw usageError(`unknown command '${group}'`, 'COMMAND');
    const files = values.file ?? [];
    if (files.length > 1 && !(group === 'validate' || group === 'plan' || group === 'apply'))
      throw usageError(
        `-f/--file is given ${files.length} times; only validate, plan and apply take several files`,
        '-f',
      );

    const flags: CliFlags = {
      config: values.config,
      coordinator: values.coordinator,
      agent: values.agent,
      ca: values.ca,
      cert: values.cert,
      key: values.key,
      insecure: values.insecure,
      serverName: values['server-name'],
      nats: values.nats,
      output: values.output,
      timeout: values.timeout,
    };
    const file = await loadCliConfigFile(flags, process.env, homedir());
    const settings = resolveCliSettings(flags, process.env, file);
    format = settings.output;

    const sig = interrupts();
    let api: CoordinatorApi | null = null;
    try {
      if (group === 'agent') return await runAgent(settings, rest, { ...values, file: files[0] }, sig.interrupt);
      return await runCoordinatorCommand(
        {
          settings,
          format,
          api: async () => {
            if (api === null) {
              const dial = dialOptions(settings, settings.coordinator);
              const creds = await dialCredentials(dial);
              api ??= new CoordinatorApi(settings.coordinator, creds, channelOptions(dial), settings.timeoutMs);
            }
            return api;
          },
          interrupt: sig.interrupt,
          hardStop: sig.hardStop,
          debug,
          env: process.env,
          stdout: process.stdout,
          stderr: process.stderr,
        },
        group,
        rest,
        {
          file: files[0],
          files,
          cluster: values.cluster,
          force: values.force,
          prune: values.prune,
          showSecrets: values['show-secrets'],
          format: values.format,
        },
      );
    } finally {
      sig.dispose();
      (api as CoordinatorApi | null)?.close();
    }
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return printError(usageError(e.message), format, debug);
    }
    return printError(isTenksError(e) ? e : toTenksError(e), format, debug);
  }
}

silenceIpServerNameWarning();
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
