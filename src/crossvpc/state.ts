/**
 * The live state of knit's nat chains, read from `iptables-save -t nat` text, and what follows from it:
 * the jump fixes an apply needs, the removal transaction, and the drift that `status` reports.
 */
import { KNIT_CHAINS, NAT_TABLE, type CrossVpcRuleSet } from './chains.js';

export interface CrossVpcState {
  /** knit's chains that exist, each with its rules as iptables-save prints them. */
  chains: Record<string, string[]>;
  /** Rules of other chains that jump (-j) or go (-g) to one of knit's chains, as iptables-save prints them. */
  jumps: string[];
}

export const NO_STATE: CrossVpcState = { chains: {}, jumps: [] };

const knitChains = new Set<string>(KNIT_CHAINS);
const targetOf = (rule: string): string | undefined => / -[jg] (\S+)/.exec(rule)?.[1];

export function parseCrossVpcState(iptablesSave: string): CrossVpcState {
  const state: CrossVpcState = { chains: {}, jumps: [] };
  for (const line of iptablesSave.split('\n')) {
    const declared = /^:(\S+) /.exec(line)?.[1];
    if (declared !== undefined && knitChains.has(declared)) state.chains[declared] ??= [];
    const chain = /^-A (\S+) /.exec(line)?.[1];
    if (chain === undefined) continue;
    if (knitChains.has(chain)) (state.chains[chain] ??= []).push(line);
    else if (knitChains.has(targetOf(line) ?? '')) state.jumps.push(line);
  }
  return state;
}

/** The items of `a` left after taking away one occurrence for each item of `b` (a multiset difference). */
function without(a: readonly string[], b: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const x of b) counts.set(x, (counts.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = counts.get(x) ?? 0;
    if (n > 0) counts.set(x, n - 1);
    return n === 0;
  });
}

/** `-A X …` → `-D X …`: iptables-save's spelling of a rule is one iptables-restore deletes it by. */
const deleteRule = (rule: string): string => rule.replace(/^-A /, '-D ');

/**
 * The lines that turn the live jumps into exactly the wanted ones: one `-D` for each unwanted or
 * duplicate jump, one `-A` for each missing one. A `-D` of an absent rule would fail the whole
 * transaction, which is why this is computed from the live state rather than written once.
 */
export const reconcileJumps = (wanted: readonly string[], live: readonly string[]): string[] => [
  ...without(live, wanted).map(deleteRule),
  ...without(wanted, live),
];

/** One transaction deleting every jump into knit's chains, then the chains; undefined when none exist. */
export function renderCrossVpcRemoval(state: CrossVpcState): string | undefined {
  const chains = Object.keys(state.chains);
  if (chains.length === 0 && state.jumps.length === 0) return undefined;
  return [
    '# knit: remove the cross-vpc chains and the jumps into them',
    `*${NAT_TABLE}`,
    ...state.jumps.map(deleteRule),
    ...chains.map((c) => `-F ${c}`),
    ...chains.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ].join('\n');
}

export interface CrossVpcDrift {
  /** Wanted lines that are not live (`:CHAIN` for a missing chain). */
  missing: string[];
  /** Live lines that are not wanted, duplicates included. */
  unexpected: string[];
}

const linesOf = (s: { chains: Record<string, string[]>; jumps: string[] }): string[] => [
  ...Object.keys(s.chains).map((c) => `:${c}`),
  ...Object.values(s.chains).flat(),
  ...s.jumps,
];

/** Compares as multisets: order does not matter (every rule matches a distinct /32), duplicates do. */
export function diffCrossVpcState(wanted: CrossVpcRuleSet, live: CrossVpcState): CrossVpcDrift {
  const [w, l] = [linesOf(wanted), linesOf(live)];
  return { missing: without(w, l), unexpected: without(l, w) };
}

export const inSync = (d: CrossVpcDrift): boolean => d.missing.length === 0 && d.unexpected.length === 0;
