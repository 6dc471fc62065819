/**
 * The cluster as the source of the address map: each Node publishes its VPC (the `knit.dev/vpc` label,
 * set through the kubelet) and its public IP (the `knit.dev/public-ip` annotation), and every node's
 * agent turns the Node list into its own map. Pure: Node objects in, the table's wanted content out.
 */
import { CROSSVPC } from '../defaults.js';
import { isIPv4, isPublicIPv4 } from '../spec/net.js';
import type { AddressMaps, NftWant } from './nft.js';
import { sameVpc, type CrossVpcPeer } from './peers.js';

/** A Node as the API serves it (the parts the map needs). */
export interface NodeObject {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { addresses?: { type: string; address: string }[] };
}

export interface ClusterNode {
  name: string;
  /** The InternalIP (kubelet's --node-ip: the private IP). */
  privateIP?: string;
  vpc?: string;
  /** The knit.dev/public-ip annotation as written (checked before use). */
  publicIP?: string;
}

export function clusterNodeOf(o: NodeObject): ClusterNode | undefined {
  const name = o.metadata?.name;
  if (!name) return undefined;
  const privateIP = o.status?.addresses?.find((a) => a.type === 'InternalIP' && isIPv4(a.address))?.address;
  const vpc = o.metadata?.labels?.[CROSSVPC.vpcLabel];
  const publicIP = o.metadata?.annotations?.[CROSSVPC.publicIpAnnotation];
  return { name, ...(privateIP ? { privateIP } : {}), ...(vpc ? { vpc } : {}), ...(publicIP !== undefined ? { publicIP } : {}) };
}

export interface SkippedNode {
  node: string;
  reason: string;
  fix: string;
}

export type ClusterWant = { want: NftWant; skipped: SkippedNode[] } | { error: string };

const annotateFix = (node: string) => `kubectl annotate node ${node} ${CROSSVPC.publicIpAnnotation}=<its public IP> (or knit crossvpc annotate)`;

/**
 * What the local node's table should hold, by the same VPC rule as the spec's. A node outside the VPC
 * without a usable public IP is skipped and reported, never written into the ruleset; if the table
 * already maps its private IP (seeded from the spec), that entry is kept rather than cutting it off.
 */
export function wantFromCluster(local: string, nodes: readonly ClusterNode[], live?: AddressMaps): ClusterWant {
  const self = nodes.find((n) => n.name === local);
  if (!self?.privateIP) return { error: `node ${local} is not in the cluster yet (or has no InternalIP)` };
  const me = { privateIP: self.privateIP, ...(self.vpc ? { vpc: self.vpc } : {}) };
  const peers: CrossVpcPeer[] = [];
  const skipped: SkippedNode[] = [];
  const addresses = new Set<string>();
  for (const n of nodes) {
    if (!n.privateIP) {
      skipped.push({ node: n.name, reason: 'no InternalIP yet', fix: 'wait for its kubelet to register' });
      continue;
    }
    addresses.add(n.privateIP);
    const publicIP = n.publicIP !== undefined && isIPv4(n.publicIP) && isPublicIPv4(n.publicIP) ? n.publicIP : undefined;
    if (publicIP) addresses.add(publicIP);
    if (n === self || sameVpc(me, { privateIP: n.privateIP, ...(n.vpc ? { vpc: n.vpc } : {}) })) continue;
    if (publicIP) {
      peers.push({ name: n.name, privateIP: n.privateIP, publicIP });
      continue;
    }
    skipped.push({
      node: n.name,
      reason: n.publicIP === undefined ? `no ${CROSSVPC.publicIpAnnotation} annotation` : `${CROSSVPC.publicIpAnnotation} ${JSON.stringify(n.publicIP)} is not a public IPv4 address`,
      fix: annotateFix(n.name),
    });
    const kept = live?.toPublic.get(n.privateIP);
    if (kept) peers.push({ name: n.name, privateIP: n.privateIP, publicIP: kept });
  }
  peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { want: { peers, nodes: [...addresses] }, skipped };
}

/** One line per change between two peer lists, for the agent's log (nothing when nothing changed). */
export function describePeerChanges(before: readonly CrossVpcPeer[], after: readonly CrossVpcPeer[]): string[] {
  const old = new Map(before.map((p) => [p.name, p]));
  const now = new Map(after.map((p) => [p.name, p]));
  const lines: string[] = [];
  for (const p of after) {
    const o = old.get(p.name);
    if (!o) lines.push(`added peer ${p.name}: ${p.privateIP} -> ${p.publicIP}`);
    else if (o.privateIP !== p.privateIP || o.publicIP !== p.publicIP) lines.push(`updated peer ${p.name}: ${o.privateIP} -> ${o.publicIP} is now ${p.privateIP} -> ${p.publicIP}`);
  }
  for (const p of before) if (!now.has(p.name)) lines.push(`removed peer ${p.name}: ${p.privateIP} -> ${p.publicIP}`);
  return lines;
}
