/** Kernel modules Kubernetes and the CNI's datapath need, loaded now and at every boot. */
import { parseKernelRelease } from './parse.js';
import { BRIDGE_NF_CALL_IPTABLES, modulePurpose, PREFLIGHT_PATHS, requiredModules, WIREGUARD_SINCE } from './requirements.js';
import { fail, pass } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

/** br_netfilter is what provides net.bridge.bridge-nf-*: those keys existing prove it is in the kernel. */
export const moduleLoaded = (f: HostFacts, name: string): boolean =>
  f.modules[name] === true || (name === 'br_netfilter' && f.sysctls[BRIDGE_NF_CALL_IPTABLES] !== undefined);

const modulesLoadConf = (modules: string[]): string =>
  `# Kernel modules for Kubernetes, loaded at boot (written by knit preflight --fix)\n${modules.join('\n')}\n`;

/** Whether the running kernel predates WireGuard (5.6); undefined when the release cannot be read. */
function beforeWireguard(f: HostFacts): boolean | undefined {
  const v = f.kernelRelease ? parseKernelRelease(f.kernelRelease) : undefined;
  return v && (v.major < WIREGUARD_SINCE.major || (v.major === WIREGUARD_SINCE.major && v.minor < WIREGUARD_SINCE.minor));
}

const SINCE = `${WIREGUARD_SINCE.major}.${WIREGUARD_SINCE.minor}`;

/**
 * Why a module is missing and what to do. WireGuard is in the kernel from 5.6 (built in, which the probe
 * reads from modules.builtin, or a module `modprobe` loads); an older kernel has it only from a
 * backport (wireguard-dkms, kmod-wireguard), else it needs a newer kernel.
 */
function missingReason(f: HostFacts, name: string): { reason: string; note?: string } {
  const base = `kernel module ${name} is not loaded; ${modulePurpose(name)}`;
  if (name !== 'wireguard') return { reason: base };
  if (beforeWireguard(f))
    return {
      reason: `${base}, and kernel ${f.kernelRelease} predates WireGuard (in the kernel from ${SINCE}): install a ${SINCE}+ kernel, or a wireguard module built for this one (wireguard-dkms, kmod-wireguard), then \`modprobe wireguard\``,
      note: `modprobe fails on a kernel before ${SINCE} unless a wireguard module was installed for it`,
    };
  return { reason: `${base} (in the kernel from ${SINCE}: \`modprobe wireguard\`)` };
}

export function moduleChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const modules = requiredModules(t);
  // every module's fix writes the same complete file, so fixing any subset leaves it whole
  const persist = { kind: 'file', path: PREFLIGHT_PATHS.modulesLoad, content: modulesLoadConf(modules) } as const;
  return modules.map((name) => {
    if (moduleLoaded(f, name)) return pass(`modules/${name}`, `${name} is loaded`);
    const { reason, note } = missingReason(f, name);
    return fail(`modules/${name}`, reason, {
      title: `Load kernel module ${name}, now and at boot`,
      effects: [persist, { kind: 'exec', argv: ['modprobe', name] }],
      ...(note ? { note } : {}),
    });
  });
}
