/** SELinux in enforcing mode blocks containers from host paths kubeadm's pods mount (kubeadm's advice: permissive). */
import type { Effect } from '../runner/types.js';
import { PREFLIGHT_PATHS } from './requirements.js';
import { pass, warn } from './result.js';
import type { CheckResult, HostFacts } from './types.js';

const ENFORCING_LINE = /^SELINUX=enforcing[ \t]*$/m;

export const selinuxBootsEnforcing = (config: string | undefined): boolean => config !== undefined && ENFORCING_LINE.test(config);
export const setPermissive = (config: string): string => config.replace(ENFORCING_LINE, 'SELINUX=permissive');

export function selinuxCheck(f: HostFacts): CheckResult {
  const id = 'selinux/mode';
  const { enforcing, config } = f.selinux;
  const atBoot = selinuxBootsEnforcing(config);
  if (!enforcing && !atBoot) return pass(id, enforcing === undefined ? 'SELinux is not enabled' : 'SELinux is permissive');
  const effects: Effect[] = [];
  if (atBoot) effects.push({ kind: 'file', path: PREFLIGHT_PATHS.selinuxConfig, content: setPermissive(config!) });
  if (enforcing) effects.push({ kind: 'exec', argv: ['setenforce', '0'] });
  const fix = { title: 'Put SELinux in permissive mode, now and at boot', effects };
  return enforcing
    ? warn(id, 'SELinux is enforcing; containers may be denied the host paths Kubernetes mounts', fix)
    : warn(id, `SELinux is permissive now, but ${PREFLIGHT_PATHS.selinuxConfig} makes it enforcing at boot`, fix);
}
