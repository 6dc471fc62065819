/** What knit's cross-VPC rules look like in the nat table: two chains and the jumps into them. */
import { CROSSVPC } from '../defaults.js';

export const NAT_TABLE = 'nat';

/** knit's own chains; nothing else writes to them, so they are flushed and refilled as a whole. */
export const KNIT_CHAINS = [CROSSVPC.chain, CROSSVPC.inputChain] as const;

export interface Jump {
  /** A built-in chain of the nat table. */
  from: 'OUTPUT' | 'PREROUTING' | 'INPUT';
  to: (typeof KNIT_CHAINS)[number];
}

/**
 * Traffic to a peer's private IP is sent to its public IP: from host processes (OUTPUT) and from pods
 * (PREROUTING, before the forward). Traffic from a peer's public IP is given its private IP as source on
 * the way in (INPUT), so that kubelet, etcd and the apiserver see the node address they know.
 */
export const JUMPS: readonly Jump[] = [
  { from: 'OUTPUT', to: CROSSVPC.chain },
  { from: 'PREROUTING', to: CROSSVPC.chain },
  { from: 'INPUT', to: CROSSVPC.inputChain },
];

/** A jump as iptables-save prints it (and iptables-restore reads it). */
export const jumpRule = (j: Jump): string => `-A ${j.from} -j ${j.to}`;

/** Everything knit wants in the nat table, in iptables-save's own spelling so that it compares as text. */
export interface CrossVpcRuleSet {
  /** knit's chains with their rules (`-A KNIT-CROSSVPC …`); no chains at all when there are no peers. */
  chains: Record<string, string[]>;
  /** The jump rules (`-A OUTPUT -j KNIT-CROSSVPC`). */
  jumps: string[];
}
