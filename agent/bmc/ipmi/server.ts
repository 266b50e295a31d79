/** UDP transport of the IPMI BMCs: one socket per node, all on the agent's event loop. */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { TenksError, type Logger } from '../../../common/index.js';
import type { IpmiBmc } from './bmc.js';

/** A BMC listening on its UDP port. */
export interface IpmiListener {
  bmc: IpmiBmc;
  port: number;
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
  socket.on('error', (e) => {
    log.warn('IPMI socket error', { node: bmc.uuid, error: e.message });
  });
  socket.on('message', (msg, rinfo) => {
    void bmc.handle(msg).then((reply) => {
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
  });
  const bound = socket.address().port;
  return {
    bmc,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        socket.close(() => {
          resolve();
        });
      }),
  };
}
