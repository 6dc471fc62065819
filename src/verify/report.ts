/**
 * The report of a verify run, three ways: a table for people (failures repeated underneath with their
 * likely cause), one JSON document (`-o json`), and JUnit XML for CI (`--junit-file`).
 */
import { likelyCause } from './causes.js';
import { CHECK_KINDS, type CauseContext, type CheckResult, type CheckStatus } from './types.js';

/** What became of the probe namespace. */
export type Cleanup = 'deleted' | 'kept' | 'not-created' | 'failed';

export interface ReportMeta {
  namespace: string;
  cleanup: Cleanup;
  plugins: string[];
  /** Total run time. */
  durationMs: number;
}

export interface Summary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

/** Results in report order: by kind (readiness first, then kubelet, then the paths), then by node pair. */
export function ordered(results: readonly CheckResult[]): CheckResult[] {
  return results
    .map((r, i) => ({ r, i }))
    .sort(
      (a, b) =>
        CHECK_KINDS.indexOf(a.r.check.kind) - CHECK_KINDS.indexOf(b.r.check.kind) ||
        a.r.check.from.localeCompare(b.r.check.from) ||
        (a.r.check.to ?? '').localeCompare(b.r.check.to ?? '') ||
        a.i - b.i,
    )
    .map(({ r }) => r);
}

export function summarize(results: readonly CheckResult[]): Summary {
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  return { total: results.length, passed: count('pass'), failed: count('fail'), skipped: count('skip') };
}

/** 0 when nothing failed, 1 otherwise (a skipped check always follows a failed one). */
export const exitCodeOf = (results: readonly CheckResult[]): number => (results.some((r) => r.status === 'fail') ? 1 : 0);

const MARK: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', skip: 'skip' };

/** Where a check goes: the other node of a pair (and its pod's IP), else its target. */
export const destination = (r: CheckResult): string =>
  r.check.to === undefined ? r.check.target : r.check.target === '-' ? r.check.to : `${r.check.to} (${r.check.target})`;

const PER_NODE = new Set(['node-ready', 'cni-pods', 'probe', 'exec', 'logs']);

/** "master-1 → worker-1", "worker-1 → 223.5.5.5:443", "worker-1". */
export function pairOf(r: CheckResult): string {
  const c = r.check;
  if (PER_NODE.has(c.kind)) return c.from;
  return `${c.from} → ${c.to ?? c.target}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function formatReport(results: readonly CheckResult[], ctx: CauseContext, meta: ReportMeta): string[] {
  const list = ordered(results);
  const rows = [['RESULT', 'CHECK', 'FROM', 'TO', 'DETAIL'], ...list.map((r) => [MARK[r.status], r.check.kind, r.check.from, destination(r), r.detail])];
  const lines = table(rows);
  const failed = list.filter((r) => r.status === 'fail');
  if (failed.length > 0) {
    lines.push('', 'Failed:');
    for (const r of failed) {
      lines.push(`  ${r.check.kind} ${pairOf(r)}: ${r.detail}`);
      const cause = likelyCause(r, ctx);
      if (cause) lines.push(`    likely cause: ${cause}`);
    }
  }
  const s = summarize(list);
  const ns = {
    deleted: `namespace ${meta.namespace} deleted`,
    kept: `namespace ${meta.namespace} kept (kubectl delete namespace ${meta.namespace})`,
    'not-created': 'no probe deployed',
    failed: `namespace ${meta.namespace} NOT deleted (kubectl delete namespace ${meta.namespace})`,
  }[meta.cleanup];
  lines.push('', `${s.total} checks: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped; ${ns}`);
  return lines;
}

export interface JsonCheck {
  id: string;
  kind: string;
  from: string;
  to?: string;
  target: string;
  status: CheckStatus;
  detail: string;
  cause?: string;
  timedOut?: boolean;
  durationMs: number;
  output?: string;
}

export function reportJson(results: readonly CheckResult[], ctx: CauseContext, meta: ReportMeta) {
  const list = ordered(results);
  return {
    namespace: meta.namespace,
    cleanup: meta.cleanup,
    cni: meta.plugins,
    nodes: ctx.nodes.map((n) => ({ name: n.name, ready: n.ready, ...(n.internalIP ? { internalIP: n.internalIP } : {}) })),
    ...(ctx.serviceIP ? { serviceIP: ctx.serviceIP } : {}),
    summary: summarize(list),
    checks: list.map((r): JsonCheck => {
      const cause = likelyCause(r, ctx);
      return {
        id: r.check.id,
        kind: r.check.kind,
        from: r.check.from,
        ...(r.check.to !== undefined ? { to: r.check.to } : {}),
        target: r.check.target,
        status: r.status,
        detail: r.detail,
        ...(cause ? { cause } : {}),
        ...(r.timedOut ? { timedOut: true } : {}),
        durationMs: r.durationMs,
        ...(r.status === 'fail' && r.output ? { output: r.output } : {}),
      };
    }),
  };
}

/** XML 1.0 allows tab, newline, carriage return and everything from U+0020 (minus the non-characters). */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** "worker-1", "master-1 → worker-1 (10.244.1.4)", "worker-1 → 223.5.5.5:443". */
const testcaseName = (r: CheckResult): string => (r.check.to !== undefined ? `${r.check.from} → ${destination(r)}` : pairOf(r));

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * JUnit XML as CI systems read it (Jenkins, GitLab, GitHub test reporters): one testsuite per check
 * kind, one testcase per check named after its node pair; a failure carries the likely cause as its
 * message and kubectl's output in its body.
 */
export function junitXml(results: readonly CheckResult[], ctx: CauseContext, meta: ReportMeta): string {
  const list = ordered(results);
  const s = summarize(list);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="knit verify" tests="${s.total}" failures="${s.failed}" errors="0" skipped="${s.skipped}" time="${seconds(meta.durationMs)}">`,
  ];
  for (const kind of CHECK_KINDS) {
    const mine = list.filter((r) => r.check.kind === kind);
    if (mine.length === 0) continue;
    const k = summarize(mine);
    const time = mine.reduce((t, r) => t + r.durationMs, 0);
    out.push(
      `  <testsuite name="${escapeXml(`knit verify ${kind}`)}" tests="${k.total}" failures="${k.failed}" errors="0" skipped="${k.skipped}" time="${seconds(time)}">`,
    );
    for (const r of mine) {
      const open = `    <testcase classname="${escapeXml(`knit.verify.${kind}`)}" name="${escapeXml(testcaseName(r))}" time="${seconds(r.durationMs)}"`;
      if (r.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      if (r.status === 'skip') out.push(`      <skipped message="${escapeXml(r.detail)}"/>`);
      else {
        const cause = likelyCause(r, ctx) ?? r.detail;
        const body = [r.detail, `likely cause: ${cause}`, ...(r.check.argv ? [`command: ${r.check.argv.join(' ')}`] : []), ...(r.output ? ['', r.output.trimEnd()] : [])].join('\n');
        out.push(`      <failure message="${escapeXml(`${pairOf(r)}: ${cause}`)}" type="${escapeXml(kind)}">${escapeXml(body)}</failure>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
