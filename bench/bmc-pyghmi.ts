/**
 * pyghmi BMCs for bench:bmc: bench/pyghmi_bmc.py (a pyghmi Bmc subclass with in-memory state, no
 * libvirt), one process per BMC as VirtualBMC runs them, each on a port the OS chooses.
 */
import type { BmcCredentials } from './bmc-agent.js';
import type { Daemon, Stack } from './lib-stack.js';

/** Debian's interpreter: the one that can import python3-pyghmi. */
const PYTHON = '/usr/bin/python3';

/** A running pyghmi BMC. */
export interface Pyghmi {
  daemon: Daemon;
  pid: number;
  port: number;
}

/** Starts one pyghmi BMC; resolves once it prints `READY <port>`. */
export function startPyghmi(stack: Stack, creds: BmcCredentials): Promise<Pyghmi> {
  const args = ['bench/pyghmi_bmc.py', '--port', '0', '--username', creds.username, '--password', creds.password];
  const daemon = stack.spawn('pyghmi', PYTHON, args);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`pyghmi BMC did not start in 60 s: ${daemon.output()}`));
    }, 60_000);
    daemon.onLine((line) => {
      const m = /READY (\d+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({ daemon, pid: daemon.pid, port: Number(m[1]) });
    });
    daemon.proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pyghmi BMC exited (${code}): ${daemon.output()}`));
    });
  });
}

/** Starts `n` pyghmi BMCs, `parallel` at a time. */
export async function startPyghmis(stack: Stack, creds: BmcCredentials, n: number, parallel = 8): Promise<Pyghmi[]> {
  const out: Pyghmi[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (started < n) {
        started++;
        out.push(await startPyghmi(stack, creds));
      }
    }),
  );
  return out;
}
