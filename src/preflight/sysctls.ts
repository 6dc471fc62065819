/** Kernel parameters for pod networking: checked live, fixed live and in /etc/sysctl.d for every boot. */
import { BRIDGE_NF_CALL_IPTABLES, PREFLIGHT_PATHS, sysctlGroups, type SysctlGroup } from './requirements.js';
import { fail, pass } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

const sysctlConf = (groups: SysctlGroup[]): string =>
  `# Kernel parameters for Kubernetes, applied at boot (written by knit preflight --fix)\n${groups
    .flatMap((g) => g.values.map((v) => `${v.key} = ${v.value}`))
    .join('\n')}\n`;

const describeValue = (f: HostFacts, key: string): string => {
  const value = f.sysctls[key];
  if (value !== undefined) return `${key} is ${value}`;
  return key === BRIDGE_NF_CALL_IPTABLES ? `${key} does not exist (br_netfilter is not loaded)` : `${key} does not exist`;
};

export function sysctlChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const groups = sysctlGroups(t);
  // every group's fix writes the same complete file, so fixing any subset leaves it whole
  const persist = { kind: 'file', path: PREFLIGHT_PATHS.sysctl, content: sysctlConf(groups) } as const;
  return groups.map((g) => {
    const wrong = g.values.filter((v) => f.sysctls[v.key] !== v.value);
    if (wrong.length === 0) return pass(g.id, g.values.map((v) => `${v.key} = ${v.value}`).join(', '));
    return fail(g.id, `${wrong.map((v) => `${describeValue(f, v.key)}, needs ${v.value}`).join('; ')}: ${g.why}`, {
      title: `Set ${g.values.map((v) => `${v.key}=${v.value}`).join(' ')}, now and at boot`,
      // live values after the modules' fixes (which come first) have loaded br_netfilter
      effects: [persist, ...g.values.map((v) => ({ kind: 'sysctl', key: v.key, value: v.value }) as const)],
    });
  });
}
