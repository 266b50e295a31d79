/**
 * Protobuf enums ⇄ tenks names, through the JSON names ts-proto generates: a value's tenks name is
 * its JSON name without the enum's prefix, in lower case (`POWER_STATE_SHUTTING_DOWN` →
 * `shutting_down`). UNSPECIFIED and values this build does not know have no name; a name the
 * enum does not have goes on the wire as UNSPECIFIED.
 */
import {
  NodeEventType as PbNodeEventType,
  nodeEventTypeFromJSON,
  nodeEventTypeToJSON,
} from '../../proto/gen/tenks/v1/agent.pb.js';
import {
  OperationState as PbOperationState,
  operationStateFromJSON,
  operationStateToJSON,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import {
  BootDevice as PbBootDevice,
  BootMode as PbBootMode,
  BridgeType as PbBridgeType,
  PowerAction as PbPowerAction,
  PowerState as PbPowerState,
  bootDeviceFromJSON,
  bootDeviceToJSON,
  bootModeFromJSON,
  bootModeToJSON,
  bridgeTypeFromJSON,
  bridgeTypeToJSON,
  powerActionFromJSON,
  powerActionToJSON,
  powerStateFromJSON,
  powerStateToJSON,
} from '../../proto/gen/tenks/v1/types.pb.js';
import {
  BOOT_DEVICES,
  NODE_EVENT_TYPES,
  OPERATION_STATES,
  POWER_ACTIONS,
  POWER_STATES,
  type BootDevice,
  type NodeEventType,
  type OperationState,
  type PowerAction,
  type PowerState,
} from '../api/index.js';
import type { BootMode, BridgeType } from '../spec/types.js';

const BOOT_MODES = ['uefi', 'bios'] as const satisfies readonly BootMode[];
const BRIDGE_TYPES = ['openvswitch', 'linuxbridge'] as const satisfies readonly BridgeType[];

/** One generated enum: its values' names (null for UNSPECIFIED and unknown values) and back. */
interface WireEnum<N extends string, E extends number> {
  name(value: E): N | null;
  /** UNSPECIFIED (0) for a name the enum lacks: never UNRECOGNIZED (-1), which cannot be sent. */
  value(name: string): E;
}

function wireEnum<N extends string, E extends number>(
  prefix: string,
  names: readonly N[],
  toJSON: (value: E) => string,
  fromJSON: (json: unknown) => E,
): WireEnum<N, E> {
  return {
    name: (value) => {
      const json = toJSON(value);
      const name = json.startsWith(prefix) ? json.slice(prefix.length).toLowerCase() : '';
      return names.find((n) => n === name) ?? null;
    },
    value: (name) => {
      const value = fromJSON(prefix + name.toUpperCase());
      return value < 0 ? (0 as E) : value;
    },
  };
}

const powerStates = wireEnum('POWER_STATE_', POWER_STATES, powerStateToJSON, powerStateFromJSON);
const powerActions = wireEnum('POWER_ACTION_', POWER_ACTIONS, powerActionToJSON, powerActionFromJSON);
const bootModes = wireEnum('BOOT_MODE_', BOOT_MODES, bootModeToJSON, bootModeFromJSON);
const bootDevices = wireEnum('BOOT_DEVICE_', BOOT_DEVICES, bootDeviceToJSON, bootDeviceFromJSON);
const bridgeTypes = wireEnum('BRIDGE_TYPE_', BRIDGE_TYPES, bridgeTypeToJSON, bridgeTypeFromJSON);
const nodeEventTypes = wireEnum('NODE_EVENT_TYPE_', NODE_EVENT_TYPES, nodeEventTypeToJSON, nodeEventTypeFromJSON);
const operationStates = wireEnum('OPERATION_STATE_', OPERATION_STATES, operationStateToJSON, operationStateFromJSON);

export const powerStateName = (s: PbPowerState): PowerState => powerStates.name(s) ?? 'unknown';
/** `unknown`, and any name that is not a power state, is UNSPECIFIED. */
export const powerStateToPb = (s: string): PbPowerState => powerStates.value(s);
/** Null for UNSPECIFIED and unknown values: no action to take. */
export const powerActionName = (a: PbPowerAction): PowerAction | null => powerActions.name(a);
export const powerActionToPb = (a: PowerAction): PbPowerAction => powerActions.value(a);
/** Null for UNSPECIFIED and unknown values. */
export const bootModeName = (m: PbBootMode): BootMode | null => bootModes.name(m);
/** `unknown` is UNSPECIFIED. */
export const bootModeToPb = (m: BootMode | 'unknown'): PbBootMode => bootModes.value(m);
export const bootDeviceName = (d: PbBootDevice): BootDevice => bootDevices.name(d) ?? 'unknown';
/** `unknown` is UNSPECIFIED. */
export const bootDeviceToPb = (d: BootDevice): PbBootDevice => bootDevices.value(d);
/** Null for UNSPECIFIED (which callers read as upstream's default, openvswitch) and unknown values. */
export const bridgeTypeName = (t: PbBridgeType): BridgeType | null => bridgeTypes.name(t);
export const bridgeTypeToPb = (t: BridgeType): PbBridgeType => bridgeTypes.value(t);
export const nodeEventTypeName = (t: PbNodeEventType): NodeEventType => nodeEventTypes.name(t) ?? 'unspecified';
/** A name the enum lacks (the agent's `other`) is UNSPECIFIED. */
export const nodeEventTypeToPb = (t: string): PbNodeEventType => nodeEventTypes.value(t);
export const operationStateName = (s: PbOperationState): OperationState => operationStates.name(s) ?? 'unspecified';
/** `unspecified` is UNSPECIFIED. */
export const operationStateToPb = (s: OperationState): PbOperationState => operationStates.value(s);
