/** `--skip` matching, shared by the runner and the plan printer so both agree on what is skipped. */
import type { Step } from './types.js';

/** `--skip kubeadm` skips every kubeadm/* step. */
export const isSkipped = (id: string, skip: ReadonlySet<string>): boolean =>
  skip.has(id) || [...skip].some((s) => id.startsWith(`${s}/`));

/** Fails fast on --skip ids that name no step, so a typo does not silently run everything. */
export function checkSkipIds(steps: readonly Step[], skip: ReadonlySet<string>): string | undefined {
  const ids = steps.map((s) => s.id);
  const unknown = [...skip].filter((s) => !ids.some((id) => isSkipped(id, new Set([s]))));
  return unknown.length ? `--skip: unknown step ${unknown.join(', ')} (steps: ${ids.join(', ')})` : undefined;
}
