/**
 * What earlier knit versions wrote for cross-VPC traffic: two iptables nat chains (DNAT to the peers'
 * public IPs, SNAT back) and the jumps into them. They are found in `iptables-save -t nat` text and
 * removed in one `iptables-restore --noflush` transaction by `crossvpc apply` (replaced by the nftables
 * map) and by `crossvpc remove`.
 */
import { CROSSVPC } from '../defaults.js';

export const NAT_TABLE = 'nat';
const LEGACY_CHAINS = new Set<string>([CROSSVPC.legacy.chain, CROSSVPC.legacy.inputChain]);

export interface LegacyNatState {
  /** knit's old chains that exist. */
  chains: string[];
  /** Rules of other chains that jump (-j) or go (-g) to one of them, as iptables-save prints them. */
  jumps: string[];
}

export const NO_LEGACY: LegacyNatState = { chains: [], jumps: [] };

const targetOf = (rule: string): string | undefined => / -[jg] (\S+)/.exec(rule)?.[1];

export function parseLegacyNat(iptablesSave: string): LegacyNatState {
  const state: LegacyNatState = { chains: [], jumps: [] };
  for (const line of iptablesSave.split('\n')) {
    const declared = /^:(\S+) /.exec(line)?.[1];
    if (declared !== undefined && LEGACY_CHAINS.has(declared)) state.chains.push(declared);
    const chain = /^-A (\S+) /.exec(line)?.[1];
    if (chain !== undefined && !LEGACY_CHAINS.has(chain) && LEGACY_CHAINS.has(targetOf(line) ?? '')) state.jumps.push(line);
  }
  return state;
}

export const hasLegacyNat = (s: LegacyNatState): boolean => s.chains.length > 0 || s.jumps.length > 0;

/** One transaction deleting every jump into the old chains, then the chains; undefined when none exist. */
export function renderLegacyNatRemoval(state: LegacyNatState): string | undefined {
  if (!hasLegacyNat(state)) return undefined;
  return [
    '# knit: remove the iptables cross-vpc chains of earlier versions and the jumps into them',
    `*${NAT_TABLE}`,
    // iptables-save's spelling of a rule is one iptables-restore deletes it by
    ...state.jumps.map((rule) => rule.replace(/^-A /, '-D ')),
    ...state.chains.map((c) => `-F ${c}`),
    ...state.chains.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ].join('\n');
}
