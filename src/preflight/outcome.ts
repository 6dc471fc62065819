/** From check results to a verdict: `--ignore` (ids, groups or `all`, like kubeadm), counts, failures. */
import { isSkipped } from '../runner/skip.js';
import { wantsFix } from './fix.js';
import type { CheckResult } from './types.js';

export const IGNORE_ALL = 'all';

/** `--ignore` names that match no check here (a typo must not silently ignore nothing). */
export function unknownIgnores(results: readonly CheckResult[], ignore: readonly string[]): string[] {
  return ignore.filter((name) => name !== IGNORE_ALL && !results.some((r) => isSkipped(r.id, new Set([name]))));
}

/** Marks failures named by `--ignore` (`swap/off`, or a whole group such as `ports`). */
export function applyIgnores(results: readonly CheckResult[], ignore: readonly string[]): CheckResult[] {
  const names = new Set(ignore);
  const all = names.has(IGNORE_ALL);
  return results.map((r) => (r.status === 'fail' && (all || isSkipped(r.id, names)) ? { ...r, ignored: true } : r));
}

/** Failures that fail the run. */
export const blockingFailures = (results: readonly CheckResult[]): CheckResult[] =>
  results.filter((r) => r.status === 'fail' && !r.ignored);

export interface Summary {
  pass: number;
  warn: number;
  fail: number;
  ignored: number;
}

export const summarize = (results: readonly CheckResult[]): Summary => ({
  pass: results.filter((r) => r.status === 'pass').length,
  warn: results.filter((r) => r.status === 'warn').length,
  fail: results.filter((r) => r.status === 'fail').length,
  ignored: results.filter((r) => r.ignored).length,
});

/** What `--fix` / `--fix all` would change, as hint lines. */
export function fixHints(results: readonly CheckResult[]): string[] {
  const failures = results.filter((r) => wantsFix(r, 'failures')).length;
  const warnings = results.filter((r) => wantsFix(r, 'all')).length - failures;
  return [
    ...(failures ? [`add --fix to fix ${failures} failing check${failures > 1 ? 's' : ''} (--dry-run shows how first)`] : []),
    ...(warnings ? [`add --fix all to also fix ${warnings} warning${warnings > 1 ? 's' : ''}`] : []),
  ];
}
