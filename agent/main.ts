import { compileAgentConfig } from './config.js';
import { AgentDaemon } from './daemon.js';
import { runDaemon } from '../common/index.js';

const USAGE = `usage: tenks-agent [--config FILE] [--listen HOST:PORT] [--libvirt-uri URI]
                   [--pool-name NAME] [--pool-path PATH] [--log-directory DIR] [--state-dir DIR]
                   [--insecure-loopback] [--log-level debug|info|warn|error]
                   [--nats URL[,URL...]] [--agent-id ID]

Serves the tenks AgentService (gRPC, mTLS) for this hypervisor host.
Options given on the command line override the config file.`;

runDaemon({
  name: 'tenks-agent',
  usage: USAGE,
  flags: {
    'libvirt-uri': { type: 'string' },
    'pool-name': { type: 'string' },
    'pool-path': { type: 'string' },
    'log-directory': { type: 'string' },
    'state-dir': { type: 'string' },
    'agent-id': { type: 'string' },
  },
  override: (file, flags) => {
    const storage = { ...((file.storage as Record<string, unknown> | undefined) ?? {}) };
    if (flags['pool-name'] !== undefined) storage.pool_name = flags['pool-name'];
    if (flags['pool-path'] !== undefined) storage.pool_path = flags['pool-path'];
    const keys: Record<string, unknown> = { storage };
    if (flags['libvirt-uri'] !== undefined) keys.libvirt_uri = flags['libvirt-uri'];
    if (flags['log-directory'] !== undefined) keys.log_directory = flags['log-directory'];
    if (flags['state-dir'] !== undefined) keys.state_dir = flags['state-dir'];
    if (flags['agent-id'] !== undefined) keys.agent_id = flags['agent-id'];
    return keys;
  },
  compile: compileAgentConfig,
  start: (config, log) => AgentDaemon.start(config, log),
  stop: (daemon) => daemon.stop(),
});
