/** Cluster-wide settings that take more than a default: deploy images, the libvirt VM variables, the cluster name. */
import { resolveClusterName, type ClusterIdentity } from './cluster-name.js';
import { given, type Ctx, type Scalars } from './compile-context.js';
import { emulatorProblem } from './rules.js';
import type { LibvirtVmSettings, NodeSetSpec } from './types.js';

/** deploy_kernel / deploy_ramdisk, accepting their old `_uuid` names. */
export function compileDeployImages(
  s: Scalars,
  specs: readonly NodeSetSpec[],
  ctx: Ctx,
): { deployKernel: string | null; deployRamdisk: string | null } {
  const one = (key: 'deploy_kernel' | 'deploy_ramdisk'): string | null => {
    const value = s[key] ?? null;
    const old = s[`${key}_uuid`] ?? null;
    if (old !== null) {
      if (value !== null && value !== old)
        ctx.errors.push({ field: `${key}_uuid`, message: `contradicts ${key}; give only ${key}` });
      else ctx.warnings.push({ field: `${key}_uuid`, message: `old name of ${key}; use ${key}` });
    }
    return value ?? old;
  };
  const deployKernel = one('deploy_kernel');
  const deployRamdisk = one('deploy_ramdisk');
  return { deployKernel, deployRamdisk };
}

/** The `libvirt_vm_*` variables: upstream's empty values mean their defaults (see the schema). */
export function compileLibvirtVm(s: Scalars, ctx: Ctx): LibvirtVmSettings {
  let emulator = s.libvirt_vm_emulator ? s.libvirt_vm_emulator.trim() : null;
  const problem = emulator === null ? null : emulatorProblem(emulator);
  if (problem !== null) {
    ctx.errors.push({ field: 'libvirt_vm_emulator', message: problem });
    emulator = null;
  }
  const dir = given(s.libvirt_vm_default_console_log_dir);
  if (dir !== null && !dir.startsWith('/'))
    ctx.errors.push({
      field: 'libvirt_vm_default_console_log_dir',
      message: `'${dir}' must be an absolute directory on the hypervisors`,
    });
  const owner = s.libvirt_vm_log_owner;
  return {
    engine: given(s.libvirt_vm_engine),
    emulator,
    consoleLogDir: dir,
    logOwner: owner === undefined || owner === null || owner === '' ? null : String(owner),
    // Tenks sets true; libvirt-vm reads `| bool`, so an empty value is false.
    trustGuestRxFilters:
      s.libvirt_vm_trust_guest_rx_filters === undefined ? true : s.libvirt_vm_trust_guest_rx_filters === true,
    clockOffset: given(s.libvirt_vm_clock_offset),
  };
}

/** The cluster name: `name`, else from `state_file_path` (cluster-name.ts), else the default. */
export function clusterIdentity(s: Scalars, ctx: Ctx): ClusterIdentity | undefined {
  const r = resolveClusterName(s.name ?? null, s.state_file_path ?? null);
  if (!r.ok) {
    ctx.errors.push(r.error);
    return undefined;
  }
  if (r.warning) ctx.warnings.push(r.warning);
  return r.identity;
}
