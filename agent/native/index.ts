export * from './libvirt.js';
export type { NativeNodeInfo, NativePoolInfo, NativeVolumeInfo } from './native.js';
