/**
 * Fixes as a plan. Policy: failures are fixed; a check that only warns is changed only when asked for
 * (`--fix all`); an --ignore'd check is never touched.
 */
import type { Step } from '../runner/types.js';
import type { CheckResult } from './types.js';

export const FIX_STEP_PREFIX = 'preflight/fix/';

export type FixScope = 'failures' | 'all';

export const wantsFix = (r: CheckResult, scope: FixScope): boolean =>
  r.fix !== undefined && !r.ignored && (r.status === 'fail' || (scope === 'all' && r.status === 'warn'));

export function planFixes(results: readonly CheckResult[], scope: FixScope = 'failures'): Step[] {
  return results
    .filter((r) => wantsFix(r, scope))
    .map((r) => ({ id: `${FIX_STEP_PREFIX}${r.id}`, title: r.fix!.title, effects: r.fix!.effects, ...(r.fix!.note ? { note: r.fix!.note } : {}) }));
}
