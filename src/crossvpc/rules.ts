/**
 * The cross-VPC NAT rules: each peer outside the VPC is reached at its private IP through its public
 * IP (Alibaba EIPs are 1:1 NAT, so the NIC never holds the public address).
 *
 * Idempotence. iptables-restore --noflush appends every -A line, and a -D of an absent rule fails the
 * whole transaction, so no fixed text can both create the jumps on a fresh host and leave them alone on
 * a configured one. knit's own chains are no problem: declaring `:CHAIN - [0:0]` with --noflush creates
 * the chain or flushes it (checked on iptables 1.8.9, nft and legacy), so their rules are replaced in
 * the same atomic transaction, never absent in between. For the jumps, an apply reads the live table
 * first and includes only the lines that reconcile it (`reconcileJumps`): one transaction, built from a
 * read made just before. The saved file for boot carries every jump (no chain exists then), and the
 * boot unit deletes the jumps first so that a restart of it does not add second copies.
 */
import { CROSSVPC } from '../defaults.js';
import type { Spec } from '../spec/schema.js';
import { JUMPS, NAT_TABLE, jumpRule, type CrossVpcRuleSet } from './chains.js';
import { findNode, peersOutsideVpc, type CrossVpcPeer } from './peers.js';
import { reconcileJumps, type CrossVpcState } from './state.js';

export function crossVpcRuleSet(peers: readonly CrossVpcPeer[]): CrossVpcRuleSet {
  if (peers.length === 0) return { chains: {}, jumps: [] };
  return {
    chains: {
      [CROSSVPC.chain]: peers.map((p) => `-A ${CROSSVPC.chain} -d ${p.privateIP}/32 -j DNAT --to-destination ${p.publicIP}`),
      [CROSSVPC.inputChain]: peers.map((p) => `-A ${CROSSVPC.inputChain} -s ${p.publicIP}/32 -j SNAT --to-source ${p.privateIP}`),
    },
    jumps: JUMPS.map(jumpRule),
  };
}

/**
 * The `iptables-restore --noflush` payload for the local node. Without `live` it holds every jump: the
 * saved rules file, safe to apply at boot. With `live` (the table as read just before) it holds only
 * the jump changes that table needs, so that applying it again changes nothing.
 */
export function renderCrossVpcRules(spec: Spec, localNodeName: string, live?: CrossVpcState): string {
  const { node } = findNode(spec, localNodeName);
  const peers = peersOutsideVpc(spec, localNodeName);
  const rules = crossVpcRuleSet(peers);
  const lines = [
    `# knit cross-vpc rules for ${node.name} (private ${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''})`,
    peers.length > 0
      ? '# Peers outside its VPC are reached at their private IPs through their public IPs (1:1 NAT).'
      : '# No peers outside its VPC: no rules.',
    ...(live ? [] : [`# Applied at boot by ${CROSSVPC.unitName}: iptables-restore --noflush ${CROSSVPC.rulesFile}`]),
    `*${NAT_TABLE}`,
    ...Object.keys(rules.chains).map((c) => `:${c} - [0:0]`),
  ];
  peers.forEach((p, i) => {
    lines.push(`# ${p.name}: ${p.privateIP} <-> ${p.publicIP}`);
    for (const chainRules of Object.values(rules.chains)) lines.push(chainRules[i]!);
  });
  lines.push(...(live ? reconcileJumps(rules.jumps, live.jumps) : rules.jumps), 'COMMIT', '');
  return lines.join('\n');
}
