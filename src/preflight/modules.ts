/** Kernel modules Kubernetes and the CNI's datapath need, loaded now and at every boot. */
import { BRIDGE_NF_CALL_IPTABLES, modulePurpose, PREFLIGHT_PATHS, requiredModules } from './requirements.js';
import { fail, pass } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

/** br_netfilter is what provides net.bridge.bridge-nf-*: those keys existing prove it is in the kernel. */
export const moduleLoaded = (f: HostFacts, name: string): boolean =>
  f.modules[name] === true || (name === 'br_netfilter' && f.sysctls[BRIDGE_NF_CALL_IPTABLES] !== undefined);

const modulesLoadConf = (modules: string[]): string =>
  `# Kernel modules for Kubernetes, loaded at boot (written by knit preflight --fix)\n${modules.join('\n')}\n`;

export function moduleChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const modules = requiredModules(t);
  // every module's fix writes the same complete file, so fixing any subset leaves it whole
  const persist = { kind: 'file', path: PREFLIGHT_PATHS.modulesLoad, content: modulesLoadConf(modules) } as const;
  return modules.map((name) =>
    moduleLoaded(f, name)
      ? pass(`modules/${name}`, `${name} is loaded`)
      : fail(`modules/${name}`, `kernel module ${name} is not loaded; ${modulePurpose(name)}`, {
          title: `Load kernel module ${name}, now and at boot`,
          effects: [persist, { kind: 'exec', argv: ['modprobe', name] }],
        }),
  );
}
