/** `--skip` matching, shared by the runner and the plan printer so both agree on what is skipped. */
import type { Step } from './types.js';

/**
 * Other names a step answers to in `--skip`: the id it had before (scripts keep working) and, through
 * that id, the group it was in. `wait/cni-rollout` was `cni/rollout`: `--skip wait` skips it with every
 * other wait, and `--skip cni` still does too (without the CNI there is nothing to roll out).
 */
export const STEP_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'wait/cni-rollout': ['cni/rollout'],
};

/** `--skip kubeadm` skips every kubeadm/* step (whole groups only: not kubeadmx/*). */
const matches = (name: string, s: string): boolean => name === s || name.startsWith(`${s}/`);

/** Whether --skip names this step: its id, an alias, or the group of either. */
export const isSkipped = (id: string, skip: ReadonlySet<string>): boolean => {
  const names = [id, ...(STEP_ALIASES[id] ?? [])];
  return [...skip].some((s) => names.some((name) => matches(name, s)));
};

/** The groups of these steps, in plan order (`kubeadm` for kubeadm/*). */
const groupsOf = (ids: readonly string[]): string[] => [...new Set(ids.filter((id) => id.includes('/')).map((id) => id.slice(0, id.indexOf('/'))))];

/** Fails fast on --skip ids that name no step, so a typo does not silently run everything. */
export function checkSkipIds(steps: readonly Step[], skip: ReadonlySet<string>): string | undefined {
  const ids = steps.map((s) => s.id);
  const unknown = [...skip].filter((s) => !ids.some((id) => isSkipped(id, new Set([s]))));
  return unknown.length ? `--skip: unknown step ${unknown.join(', ')} (steps: ${ids.join(', ')}; groups: ${groupsOf(ids).join(', ')})` : undefined;
}
