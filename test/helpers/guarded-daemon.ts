/**
 * A small daemon for the process guard test, run as a child process: it serves HTTP on
 * 127.0.0.1:0 under runDaemonMain, and on request lets an error escape from a late callback the
 * way a forgotten `catch` or a reply to a vanished client would in a real daemon.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWinstonLogger, onShutdownSignals, runDaemonMain } from '../../common/index.js';

runDaemonMain('guard-fixture', async (guard) => {
  const log = createWinstonLogger({ level: 'info', format: 'json', stream: 'stdout' });
  guard.useLogger(log);
  const server = createServer((req, res) => {
    switch (req.url) {
      case '/reject':
        // A promise nobody owns, failing after the request was answered.
        setTimeout(() => {
          void Promise.reject(new Error('late failure nobody awaited'));
        }, 10);
        break;
      case '/peer-gone': {
        // A reply sent from a timer on a socket that closed meanwhile (ERR_SOCKET_DGRAM_NOT_RUNNING).
        const socket = createSocket('udp4');
        socket.bind(0, '127.0.0.1', () => {
          socket.close(() => {
            setTimeout(() => {
              socket.send('late reply', 9, '127.0.0.1');
            }, 10);
          });
        });
        break;
      }
      case '/bug':
        setTimeout(() => {
          throw new Error('a bug in a callback');
        }, 10);
        break;
    }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  log.info('fixture listening', { port: (server.address() as AddressInfo).port });
  onShutdownSignals(log, async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});
