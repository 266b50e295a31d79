/** tenks-coordinator entry point: config file and flags → a running coordinator until SIGTERM. */
import { runDaemon } from '../common/index.js';
import { compileCoordinatorConfig } from './config.js';
import { CoordinatorDaemon } from './daemon.js';

const USAGE = `usage: tenks-coordinator [--config FILE] [--listen HOST:PORT] [--nats URL[,URL...]]
                         [--insecure-loopback] [--log-level debug|info|warn|error]

Schedules cluster specs onto tenks agents, runs the operations, keeps the state in NATS JetStream KV
and publishes progress on NATS. Options given on the command line override the config file.`;

runDaemon({
  name: 'tenks-coordinator',
  usage: USAGE,
  flags: { 'coordinator-id': { type: 'string' } },
  override: (_file, flags) =>
    flags['coordinator-id'] === undefined ? {} : { coordinator_id: flags['coordinator-id'] },
  compile: compileCoordinatorConfig,
  start: (config, log) => CoordinatorDaemon.start(config, log),
  started: (daemon, config, log) => {
    log.info('coordinator listening', { port: daemon.port, id: config.coordinatorId });
  },
  stop: (daemon) => daemon.stop(),
});
