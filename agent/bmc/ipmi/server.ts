/** UDP transport of the IPMI BMCs: one socket per node, all on the agent's event loop. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { TenksError, type Logger } from '../../../common/index.js';
import type { IpmiBmc } from './bmc.js';

/** A BMC listening on its UDP port. */
export interface IpmiListener {
  bmc: IpmiBmc;
  port: number;
  /** Closes the socket; replies still being worked out are dropped. Safe to call more than once. */
  close(): Promise<void>;
}

/** Binds `bmc` to `address:port` (port 0: any free port). */
export async function listenIpmi(bmc: IpmiBmc, address: string, port: number, log: Logger): Promise<IpmiListener> {
  const socket: Socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (e) => {
      reject(
        new TenksError('UNAVAILABLE', `cannot bind IPMI for node ${bmc.uuid} on ${address}:${port}: ${e.message}`, {
          cause: e,
        }),
      );
    });
    socket.bind(port, address, () => {
      resolve();
    });
  });
  // Room for bursts (many consoles, retries) before the kernel drops datagrams.
  try {
    socket.setRecvBufferSize(1 << 20);
  } catch {
    // Capped by net.core.rmem_max: the default buffer still works.
  }
  const bound = socket.address().port;
  // A command (a power action, say) can take longer than the node's BMC lives: the node may be
  // deleted, and its socket closed, before the reply is ready. Such a reply is dropped, like one
  // from a BMC that was unplugged; the console times out.
  let closed = false;
  const reply = (datagram: Buffer, to: RemoteInfo): void => {
    if (closed) return;
    try {
      socket.send(datagram, to.port, to.address, (e) => {
        if (e) log.warn('IPMI reply not sent', { node: bmc.uuid, port: bound, peer: to.address, error: e.message });
      });
    } catch (e) {
      log.warn('IPMI reply not sent', { node: bmc.uuid, port: bound, peer: to.address, error: String(e) });
    }
  };
  socket.on('error', (e) => {
    log.warn('IPMI socket error', { node: bmc.uuid, port: bound, error: e.message });
  });
  socket.on('message', (msg, rinfo) => {
    bmc.handle(msg).then(
      (datagram) => {
        if (datagram) reply(datagram, rinfo);
      },
      (e: unknown) => {
        // handle() answers every failure itself; this is the owner of anything it let through.
        log.error('IPMI request failed', { node: bmc.uuid, port: bound, peer: rinfo.address, error: String(e) });
      },
    );
  });
  let closing: Promise<void> | null = null;
  return {
    bmc,
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        closed = true;
        try {
          socket.close(() => {
            resolve();
          });
        } catch {
          // Already closed (by a socket error): nothing left to wait for.
          resolve();
        }
      })),
  };
}
