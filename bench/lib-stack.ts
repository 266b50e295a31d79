/**
 * A real tenks stack for benchmarks and tests, every part its own child process: nats-server with
 * JetStream, tenks-coordinator and tenks-agents (as scripts/quickstart.sh configures them: config
 * files, mTLS certificates from deploy/make-certs.sh), plus `tenksctl` runs timed wall-clock the
 * way a user runs them. Its parts are in bench/lib-stack/, one concept a file; this file
 * exports what tests use (benches import the parts).
 *
 * Every process is spawned in its own process group and killed (SIGTERM, then SIGKILL) by
 * {@link Stack.close}, which also runs the registered cleanups (libvirt pools, bridges, ...) in
 * reverse order and removes the temp dir; {@link Stack.closeOnSignals} does the same on Ctrl-C.
 * Ports: NATS picks its own (`-p -1`), daemons bind 127.0.0.1:0 and the stack reads back what they
 * got; only the ports a daemon must be told before it starts (NATS cluster routes, agents' IPMI
 * ranges) are chosen up front, below the kernel's ephemeral range (bench/lib-stack/ports.ts).
 */
export { setTimeout as sleep } from 'node:timers/promises';
export { startAgent, waitForAgents } from './lib-stack/agent.js';
export { startCoordinator, type Coordinator } from './lib-stack/coordinator.js';
export type { Daemon } from './lib-stack/daemon.js';
export { startNats, startNatsCluster, type Nats, type NatsCluster } from './lib-stack/nats.js';
export { makePki, type Pki } from './lib-stack/pki.js';
export { run } from './lib-stack/run.js';
export { Stack } from './lib-stack/stack.js';
export { tenksctl, type CtlRun } from './lib-stack/tenksctl.js';
