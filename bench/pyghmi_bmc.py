#!/usr/bin/python3
"""A minimal BMC on pyghmi's Bmc class, the engine inside VirtualBMC, for bench:bmc (bench/bmc.ts).

VirtualBMC runs one OS process per node: a ``pyghmi.ipmi.bmc.Bmc`` subclass on one UDP socket with
pyghmi's single-threaded event loop. This is the same, minus libvirt: power state and boot device
are kept in memory, so the benchmark measures pyghmi's IPMI stack and a Python interpreter per node
(VirtualBMC also loads the libvirt bindings and opens a libvirt connection per command, so its real
figures are higher).

Usage (Debian's /usr/bin/python3, which can import pyghmi)::

    /usr/bin/python3 bench/pyghmi_bmc.py --port 0 --username admin --password secret

``--port 0`` lets the OS choose a free port. Once listening, one line ``READY <port>`` is printed on
stdout; the process then serves until it is killed.
"""

import argparse
import sys

import pyghmi.ipmi.bmc as bmc


class BenchBmc(bmc.Bmc):
    """Answers the commands VirtualBMC answers, from in-memory state."""

    def __init__(self, authdata, port, address):
        super(BenchBmc, self).__init__(authdata, port=port, address=address)
        # pyghmi routes session packets by ``self.port``: with port 0 it must be the bound one.
        self.port = self.serversocket.getsockname()[1]
        self.power = 'off'
        self.bootdev = 'network'

    def get_power_state(self):
        return self.power

    def is_active(self):
        return self.power == 'on'

    def power_on(self):
        self.power = 'on'

    def power_off(self):
        self.power = 'off'

    def power_shutdown(self):
        self.power = 'off'

    def power_reset(self):
        pass

    def pulse_diag(self):
        pass

    # power_cycle is left unimplemented (0xCC), as in VirtualBMC.

    def get_boot_device(self):
        return self.bootdev

    def set_boot_device(self, bootdevice):
        self.bootdev = bootdevice


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--address', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--username', default='admin')
    parser.add_argument('--password', required=True)
    args = parser.parse_args()
    server = BenchBmc({args.username: args.password}, port=args.port, address=args.address)
    sys.stdout.write('READY %d\n' % server.port)
    sys.stdout.flush()
    server.listen(timeout=30)


if __name__ == '__main__':
    main()
