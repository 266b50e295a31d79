/** Wire ⇄ tenks terms (common/grpc): enum names through ts-proto's JSON names, and the shared messages. */
import assert from 'node:assert/strict';
import { nodeEventTypeFromJSON } from '../../proto/gen/tenks/v1/agent.pb.js';
import { OperationState as PbOperationState } from '../../proto/gen/tenks/v1/coordinator.pb.js';
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import { nodeStatusFromPb, nodeStatusToPb, physnetFromPb, physnetToPb } from '../../common/grpc/agent-messages.js';
import {
  bootDeviceName,
  bootModeName,
  bridgeTypeName,
  nodeEventTypeName,
  nodeEventTypeToPb,
  operationStateName,
  operationStateToPb,
  powerActionName,
  powerActionToPb,
  powerStateName,
  powerStateToPb,
} from '../../common/grpc/enums.js';
import { POWER_ACTIONS, POWER_STATES, type NodeStatus } from '../../common/api/index.js';

const NODE: NodeStatus = {
  cluster: 'lab1',
  name: 'tk0',
  uuid: '11111111-1111-4111-8111-111111111111',
  nodeType: 'small',
  hypervisor: 'hv1',
  powerState: 'shutting_down',
  memoryMb: 512,
  vcpus: 2,
  bootMode: 'uefi',
  machine: 'q35',
  volumes: [
    { name: 'tk0-vol0', pool: 'tenks', path: '/p/tk0-vol0', capacityBytes: 1, allocationBytes: 0, format: 'qcow2' },
  ],
  nics: [
    {
      physnet: 'physnet1',
      mac: '52:54:00:00:00:01',
      bridge: 'brtk',
      bridgeMac: 'aa:bb:cc:00:00:01',
      switchPort: 'tp0',
    },
  ],
  bmc: { ipmi: { address: '192.0.2.1', port: 6230, username: 'admin', password: '' }, redfish: null },
  specHash: 'abc',
  consoleLogPath: '/var/log/tk0.log',
  engine: 'kvm',
  bootDevice: 'cdrom',
  labels: { a: 'b' },
  arch: 'aarch64',
};

describe('gRPC mapping (common/grpc)', function () {
  describe('enums', function () {
    it('names every power state and action as the lower-cased JSON name without its prefix', function () {
      for (const s of POWER_STATES) assert.equal(powerStateName(powerStateToPb(s)), s);
      assert.equal(powerStateToPb('shutting_down'), pb.PowerState.POWER_STATE_SHUTTING_DOWN);
      for (const a of POWER_ACTIONS) assert.equal(powerActionName(powerActionToPb(a)), a);
      assert.equal(powerActionToPb('soft_off'), pb.PowerAction.POWER_ACTION_SOFT_OFF);
    });

    it('has no name for UNSPECIFIED or a value this build does not know', function () {
      assert.equal(powerStateName(pb.PowerState.POWER_STATE_UNSPECIFIED), 'unknown');
      assert.equal(powerStateName(pb.powerStateFromJSON(99)), 'unknown');
      assert.equal(powerActionName(pb.PowerAction.POWER_ACTION_UNSPECIFIED), null);
      assert.equal(powerActionName(pb.powerActionFromJSON(42)), null);
      assert.equal(bootModeName(pb.BootMode.BOOT_MODE_UNSPECIFIED), null);
      assert.equal(bootModeName(pb.BootMode.BOOT_MODE_BIOS), 'bios');
      assert.equal(bootDeviceName(pb.BootDevice.BOOT_DEVICE_UNSPECIFIED), 'unknown');
      assert.equal(bridgeTypeName(pb.BridgeType.BRIDGE_TYPE_UNSPECIFIED), null);
      assert.equal(bridgeTypeName(pb.BridgeType.BRIDGE_TYPE_LINUXBRIDGE), 'linuxbridge');
      assert.equal(operationStateName(PbOperationState.OPERATION_STATE_UNSPECIFIED), 'unspecified');
      assert.equal(nodeEventTypeName(nodeEventTypeFromJSON('NODE_EVENT_TYPE_UNSPECIFIED')), 'unspecified');
    });

    it('sends a name the enum lacks as UNSPECIFIED, never UNRECOGNIZED', function () {
      assert.equal(powerStateToPb('unknown'), pb.PowerState.POWER_STATE_UNSPECIFIED);
      assert.equal(nodeEventTypeToPb('other'), nodeEventTypeFromJSON('NODE_EVENT_TYPE_UNSPECIFIED'));
      assert.equal(nodeEventTypeToPb('crashed'), nodeEventTypeFromJSON('NODE_EVENT_TYPE_CRASHED'));
      assert.equal(operationStateToPb('unspecified'), PbOperationState.OPERATION_STATE_UNSPECIFIED);
      assert.equal(operationStateToPb('cancelled'), PbOperationState.OPERATION_STATE_CANCELLED);
    });
  });

  describe('messages', function () {
    it('carries a node through the wire unchanged', function () {
      const msg = nodeStatusToPb(NODE);
      assert.equal(msg.powerState, pb.PowerState.POWER_STATE_SHUTTING_DOWN);
      assert.equal(msg.bootDevice, pb.BootDevice.BOOT_DEVICE_CDROM);
      assert.deepEqual(nodeStatusFromPb(pb.NodeStatus.decode(pb.NodeStatus.encode(msg).finish())), NODE);
    });

    it('keeps an absent BMC absent, and what is not known unknown', function () {
      const unknown: NodeStatus = {
        ...NODE,
        powerState: 'unknown',
        bootMode: 'unknown',
        bootDevice: 'unknown',
        bmc: null,
      };
      const msg = nodeStatusToPb(unknown);
      assert.equal(msg.bmc, undefined);
      assert.equal(msg.bootMode, pb.BootMode.BOOT_MODE_UNSPECIFIED);
      assert.deepEqual(nodeStatusFromPb(msg), unknown);
      const empty = nodeStatusFromPb(pb.NodeStatus.create({ bmc: {} }));
      assert.deepEqual(empty.bmc, { ipmi: null, redfish: null });
    });

    it('reads a physnet of no bridge type as openvswitch, upstream default', function () {
      const p = {
        physnet: 'p1',
        device: 'eth1',
        vlan: 0,
        bridge: 'br',
        bridgeMac: 'aa',
        bridgeType: 'linuxbridge' as const,
        clusters: ['c'],
      };
      assert.deepEqual(physnetFromPb(physnetToPb(p)), p);
      assert.equal(physnetFromPb(pb.PhysnetStatus.create({ physnet: 'p1' })).bridgeType, 'openvswitch');
    });
  });
});
