/**
 * tenks-coordinator entry point. The coordinator (scheduling across agents, NATS progress, JetStream
 * state) is not part of this release; the binary exists so packaging and units are stable. It says
 * so plainly and exits with the UNSUPPORTED status instead of pretending to run.
 */
const message =
  'tenks-coordinator is not available in this version: drive agents directly with `tenksctl agent ...`.\n';
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`usage: tenks-coordinator\n\n${message}`);
} else {
  process.stderr.write(message);
  process.exitCode = 8;
}
