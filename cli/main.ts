import { credentials } from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { runAgentCommand } from './agent-commands.js';
import { defaultHint, ExitCode, exitCodeOf } from './exit-codes.js';
import { parseOutputFormat, type OutputFormat } from './output.js';
import { AgentApi, TenksError, channelOptions, dialCredentials, isTenksError, toTenksError } from '../common/index.js';

const VERSION = '0.1.0';

const USAGE = `tenksctl: virtual bare metal clusters

usage: tenksctl [global options] COMMAND ...

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
  version

global options:
  --agent HOST:PORT    agent address (env TENKS_AGENT, default 127.0.0.1:7443)
  --ca FILE --cert FILE --key FILE
                       mTLS files (env TENKS_CA, TENKS_CERT, TENKS_KEY)
  --insecure           plaintext gRPC (loopback addresses only)
  --server-name NAME   TLS name to verify (default: the host in --agent)
  -o, --output table|json|yaml
  --timeout SECONDS    per-call deadline (default 120)
  --show-secrets       include BMC passwords in node output
  --debug              print stacks and causes on errors

exit codes: 0 ok, 1 internal, 2 invalid input, 3 not found, 4 conflict/exists,
            5 unavailable/timeout, 6 permission, 7 capacity, 8 unsupported, 130 interrupted`;

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
    process.stderr.write(`error: ${err.message}\n  code: ${err.code}\n`);
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

async function main(argv: string[]): Promise<number> {
  let format: OutputFormat = 'table';
  let debug = false;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        agent: { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        'server-name': { type: 'string' },
        output: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        debug: { type: 'boolean', default: false },
        cluster: { type: 'string' },
        file: { type: 'string', short: 'f' },
        'dry-run': { type: 'boolean', default: false },
        physnet: { type: 'string', multiple: true },
        'bridge-type': { type: 'string' },
        'show-secrets': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    debug = values.debug;
    format = parseOutputFormat(values.output);
    const [group, ...rest] = positionals;
    if (values.help || group === undefined || group === 'help') {
      process.stdout.write(USAGE + '\n');
      return group === undefined && !values.help ? ExitCode.INVALID : ExitCode.OK;
    }
    if (group === 'version') {
      process.stdout.write(format === 'table' ? `tenksctl ${VERSION}\n` : JSON.stringify({ version: VERSION }) + '\n');
      return ExitCode.OK;
    }
    if (group !== 'agent')
      throw new TenksError('INVALID_SPEC', `unknown command '${group}' (see tenksctl --help)`, { field: 'COMMAND' });

    const timeoutS = values.timeout === undefined ? 120 : Number(values.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0)
      throw new TenksError('INVALID_SPEC', `--timeout must be a positive number of seconds`, { field: '--timeout' });
    const address = values.agent ?? process.env.TENKS_AGENT ?? '127.0.0.1:7443';
    const ca = values.ca ?? process.env.TENKS_CA;
    const cert = values.cert ?? process.env.TENKS_CERT;
    const key = values.key ?? process.env.TENKS_KEY;
    let tls = null;
    if (!values.insecure) {
      if (!ca || !cert || !key)
        throw new TenksError(
          'INVALID_SPEC',
          'mTLS files are required: --ca, --cert and --key (or TENKS_CA, TENKS_CERT, TENKS_KEY)',
          {
            field: '--ca',
            hint: 'make them with deploy/make-certs.sh, or use --insecure against a loopback agent',
          },
        );
      tls = { caFile: ca, certFile: cert, keyFile: key };
    }
    const dial = {
      address,
      tls,
      ...(values['server-name'] === undefined ? {} : { serverName: values['server-name'] }),
    };
    const creds = values.insecure ? credentials.createInsecure() : await dialCredentials(dial);
    if (values.insecure) await dialCredentials({ address, tls: null });
    const client = new AgentApi(address, creds, channelOptions(dial), timeoutS * 1000);
    const ac = new AbortController();
    const onSigint = (): void => {
      ac.abort(new TenksError('CANCELLED', 'interrupted'));
    };
    process.once('SIGINT', onSigint);
    try {
      await runAgentCommand(
        { client, format, timeoutMs: timeoutS * 1000, signal: ac.signal, note: (l) => process.stderr.write(l + '\n') },
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
      process.removeListener('SIGINT', onSigint);
      client.close();
    }
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      return printError(new TenksError('INVALID_SPEC', e.message, { hint: 'see tenksctl --help' }), format, debug);
    }
    return printError(isTenksError(e) ? e : toTenksError(e), format, debug);
  }
}

process.exitCode = await main(process.argv.slice(2));
