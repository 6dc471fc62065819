/** The netcheck report: rows from the probes' outcomes, the summary, the table and the failure. Pure. */
import { Chalk } from 'chalk';
import { ExitCode, KnitError } from '../errors.js';
import { explainMtu, explainPort, type ExplainContext } from './explain.js';
import type { CheckStatus, MtuOutcome, MtuRequirement, NetcheckResult, PortOutcome, PortProbe, Role } from './types.js';

/** A check between the nodes failed: exit 1, one line naming the checks (the table has the details). */
export class NetcheckError extends KnitError {
  readonly exitCode = ExitCode.stepFailed;
}

export interface NetcheckReport {
  peer: string;
  peerName?: string;
  peerRole: Role;
  cni: string;
  timeoutMs: number;
  /** This node's source address toward the peer. */
  localAddress?: string;
  /** The address the peer saw this node as; differs from localAddress behind NAT (an EIP). */
  seenAs?: string;
  nat?: boolean;
  checks: NetcheckResult[];
  summary: Record<CheckStatus, number>;
  /** Wall time of the whole check, in milliseconds. */
  elapsedMs: number;
}

/** The report's own fields as the command knows them, plus what the probes found. */
export interface ReportInput extends Pick<NetcheckReport, 'peer' | 'peerName' | 'peerRole' | 'cni' | 'timeoutMs' | 'localAddress' | 'elapsedMs'> {
  probes: readonly PortProbe[];
  /** By probe id; IP protocols have none. */
  outcomes: ReadonlyMap<string, PortOutcome>;
  mtu: { requirement: MtuRequirement; outcome: MtuOutcome };
}

export function buildReport(input: ReportInput): NetcheckReport {
  const outcomes = [...input.outcomes.entries()];
  const seenAs = outcomes.map(([, o]) => (o.ok ? o.seenAs : undefined)).find((s) => s !== undefined);
  const ctx: ExplainContext = {
    peer: input.peer,
    ...(input.peerName ? { peerName: input.peerName } : {}),
    ...(seenAs ? { seenAs } : {}),
    anyAnswer: outcomes.some(([, o]) => o.ok || o.failure === 'refused' || o.failure === 'host-unreachable'),
    tcpAnswer: input.probes.some((p) => p.protocol === 'tcp' && input.outcomes.get(p.id)?.ok === true),
    timeoutMs: input.timeoutMs,
  };
  const checks = [...input.probes.map((p) => explainPort(p, input.outcomes.get(p.id), ctx)), explainMtu(input.mtu.requirement, input.mtu.outcome, ctx)];
  const summary: Record<CheckStatus, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) summary[c.status]++;
  return {
    peer: input.peer,
    ...(input.peerName ? { peerName: input.peerName } : {}),
    peerRole: input.peerRole,
    cni: input.cni,
    timeoutMs: input.timeoutMs,
    ...(input.localAddress ? { localAddress: input.localAddress } : {}),
    ...(seenAs ? { seenAs } : {}),
    ...(seenAs && input.localAddress ? { nat: seenAs !== input.localAddress } : {}),
    checks,
    summary,
    elapsedMs: input.elapsedMs,
  };
}

export const failures = (r: NetcheckReport): NetcheckResult[] => r.checks.filter((c) => c.status === 'fail' && c.required);

export function netcheckError(r: NetcheckReport): NetcheckError | undefined {
  const failed = failures(r);
  if (failed.length === 0) return undefined;
  const n = failed.length;
  return new NetcheckError(`netcheck: ${n} check${n === 1 ? '' : 's'} failed toward ${r.peer}: ${failed.map((c) => c.id).join(', ')}`);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatReport(r: NetcheckReport, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const paint: Record<CheckStatus, (s: string) => string> = { pass: c.green, warn: c.yellow, fail: c.red.bold, skip: c.dim };
  const peer = r.peerName ? `${r.peerName} (${r.peer})` : r.peer;
  const idWidth = Math.max(...r.checks.map((x) => x.id.length));
  const whatWidth = Math.max(...r.checks.map((x) => x.what.length));
  const lines = [`Netcheck from this node to ${peer}, a ${r.peerRole}; CNI ${r.cni}`, ''];
  for (const x of r.checks) {
    lines.push(`  ${paint[x.status](x.status.toUpperCase().padEnd(4))}  ${x.id.padEnd(idWidth)}  ${x.what.padEnd(whatWidth)}  ${x.detail}`);
    if (x.status === 'pass') continue;
    const indent = ' '.repeat(8);
    if (x.cause) lines.push(`${indent}${c.dim('cause:')} ${x.cause}`);
    if (x.fix) lines.push(`${indent}${c.dim('fix:')}   ${x.fix}`);
  }
  const s = r.summary;
  lines.push('');
  if (r.seenAs)
    lines.push(
      r.nat
        ? `${r.peer} sees this node as ${r.seenAs} (it sends from ${r.localAddress}: NAT on the way, e.g. an EIP); allow that address in its security group`
        : `${r.peer} sees this node as ${r.seenAs} (no NAT on the way)`,
    );
  lines.push(
    `${plural(r.checks.length, 'check')} in ${(r.elapsedMs / 1000).toFixed(1)} s: ${s.pass} passed, ${s.fail} failed` +
      `${s.warn ? `, ${plural(s.warn, 'warning')}` : ''}${s.skip ? `, ${s.skip} not probed` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
