/**
 * How the BMC plane reaches the network: a UDP socket per node for IPMI, one HTTP(S) listener for
 * Redfish. The manager's bookkeeping (one listener per node, ports, credentials) is tested with a
 * transport that binds nothing.
 */
import type { Logger } from '../../common/index.js';
import type { IpmiBmc } from './ipmi/bmc.js';
import { listenIpmi, type IpmiListener } from './ipmi/server.js';
import type { RedfishService } from './redfish/server.js';

/** Binds BMCs to the network. */
export interface BmcTransport {
  /** Binds one node's IPMI BMC to `address:port` (port 0: any free port). */
  listenIpmi(bmc: IpmiBmc, address: string, port: number, log: Logger): Promise<IpmiListener>;
  /** Starts the Redfish service listening. */
  startRedfish(service: RedfishService): Promise<void>;
}

/** The real sockets. */
export const socketTransport: BmcTransport = {
  listenIpmi,
  startRedfish: (service) => service.start(),
};
