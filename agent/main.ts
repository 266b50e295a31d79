import { parseArgs } from 'node:util';
import { compileAgentConfig } from './config.js';
import { AgentDaemon } from './daemon.js';
import {
  createWinstonLogger,
  onShutdownSignals,
  readYamlFile,
  runDaemonMain,
  silenceIpServerNameWarning,
  type ProcessGuard,
} from '../common/index.js';

const USAGE = `usage: tenks-agent [--config FILE] [--listen HOST:PORT] [--libvirt-uri URI]
                   [--pool-name NAME] [--pool-path PATH] [--log-directory DIR] [--state-dir DIR]
                   [--insecure-loopback] [--log-level debug|info|warn|error]
                   [--nats URL[,URL...]] [--agent-id ID]

Serves the tenks AgentService (gRPC, mTLS) for this hypervisor host.
Options given on the command line override the config file.`;

async function main(guard: ProcessGuard): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string' },
      'libvirt-uri': { type: 'string' },
      'pool-name': { type: 'string' },
      'pool-path': { type: 'string' },
      'log-directory': { type: 'string' },
      'state-dir': { type: 'string' },
      'insecure-loopback': { type: 'boolean' },
      'log-level': { type: 'string' },
      nats: { type: 'string' },
      'agent-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const raw = (values.config ? await readYamlFile(values.config) : {}) as Record<string, unknown>;
  const storage = { ...((raw.storage as Record<string, unknown> | undefined) ?? {}) };
  if (values['pool-name'] !== undefined) storage.pool_name = values['pool-name'];
  if (values['pool-path'] !== undefined) storage.pool_path = values['pool-path'];
  const merged: Record<string, unknown> = { ...raw, storage };
  if (values.listen !== undefined) merged.listen = values.listen;
  if (values['libvirt-uri'] !== undefined) merged.libvirt_uri = values['libvirt-uri'];
  if (values['log-directory'] !== undefined) merged.log_directory = values['log-directory'];
  if (values['state-dir'] !== undefined) merged.state_dir = values['state-dir'];
  if (values['insecure-loopback'] !== undefined) merged.insecure_loopback = values['insecure-loopback'];
  if (values['log-level'] !== undefined) merged.log_level = values['log-level'];
  if (values.nats !== undefined) merged.nats = { ...(raw.nats as object | undefined), servers: values.nats.split(',') };
  if (values['agent-id'] !== undefined) merged.agent_id = values['agent-id'];
  const config = compileAgentConfig(merged);
  const log = createWinstonLogger({ level: config.logLevel, format: 'json', stream: 'stdout' });
  guard.useLogger(log);
  const daemon = await AgentDaemon.start(config, log);
  onShutdownSignals(log, async () => {
    await daemon.stop();
  });
}

silenceIpServerNameWarning();
runDaemonMain('tenks-agent', main);
