/** tenks-coordinator entry point: config file and flags → a running coordinator until SIGTERM. */
import { parseArgs } from 'node:util';
import {
  createWinstonLogger,
  onShutdownSignals,
  readYamlFile,
  runDaemonMain,
  silenceIpServerNameWarning,
  type ProcessGuard,
} from '../common/index.js';
import { compileCoordinatorConfig } from './config.js';
import { CoordinatorDaemon } from './daemon.js';

const USAGE = `usage: tenks-coordinator [--config FILE] [--listen HOST:PORT] [--nats URL[,URL...]]
                         [--insecure-loopback] [--log-level debug|info|warn|error]

Schedules cluster specs onto tenks agents, runs the operations, keeps the state in NATS JetStream KV
and publishes progress on NATS. Options given on the command line override the config file.`;

async function main(guard: ProcessGuard): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string' },
      nats: { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      'log-level': { type: 'string' },
      'coordinator-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const raw = (values.config ? await readYamlFile(values.config) : {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...raw };
  if (values.listen !== undefined) merged.listen = values.listen;
  if (values.nats !== undefined) merged.nats = { ...(raw.nats as object | undefined), servers: values.nats.split(',') };
  if (values['insecure-loopback'] !== undefined) merged.insecure_loopback = values['insecure-loopback'];
  if (values['log-level'] !== undefined) merged.log_level = values['log-level'];
  if (values['coordinator-id'] !== undefined) merged.coordinator_id = values['coordinator-id'];
  const config = compileCoordinatorConfig(merged);
  const log = createWinstonLogger({ level: config.logLevel, format: 'json', stream: 'stdout' });
  guard.useLogger(log);
  const daemon = await CoordinatorDaemon.start(config, log);
  log.info('coordinator listening', { port: daemon.port, id: config.coordinatorId });
  onShutdownSignals(log, async () => {
    await daemon.stop();
  });
}

silenceIpServerNameWarning();
runDaemonMain('tenks-coordinator', main);
