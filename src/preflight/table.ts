/** The results as a readable table for a terminal: one line per check, colour only when allowed. */
import { Chalk } from 'chalk';
import { summarize } from './outcome.js';
import type { CheckResult, CheckStatus, PreflightTarget } from './types.js';

const cniLabel = (t: PreflightTarget): string =>
  t.cni === 'flannel' ? `flannel (${t.spec.network.flannel.backend})` : t.cni === 'calico' ? `calico (${t.spec.network.calico.mode})` : t.cni;

export const preflightTitle = (t: PreflightTarget): string =>
  `Preflight for a ${t.role} node: Kubernetes ${t.spec.kubernetes.version}, CNI ${cniLabel(t)}`;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatResults(t: PreflightTarget, results: readonly CheckResult[], color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const paint: Record<CheckStatus, (s: string) => string> = { pass: c.green, warn: c.yellow, fail: c.red.bold };
  const width = Math.max(...results.map((r) => r.id.length));
  const lines = [preflightTitle(t), ''];
  for (const r of results) {
    const status = paint[r.status](r.status.toUpperCase().padEnd(4));
    const reason = r.ignored ? c.dim(`${r.reason} (ignored)`) : r.reason;
    lines.push(`  ${status}  ${r.id.padEnd(width)}  ${reason}${r.fix && r.status !== 'pass' && !r.ignored ? c.dim(' [fixable]') : ''}`);
  }
  const s = summarize(results);
  lines.push(
    '',
    `${plural(results.length, 'check')}: ${s.pass} passed, ${plural(s.warn, 'warning')}, ${s.fail} failed${s.ignored ? ` (${s.ignored} ignored)` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
