/**
 * Which nodes the local node must reach through their public IPs.
 *
 * The VPC rule: two nodes are in the same VPC when both carry the same `vpc` label; when neither is
 * labelled, when their private IPs share a /24 (the usual size of an Alibaba vSwitch). A labelled and
 * an unlabelled node are never in the same VPC. Nodes in the same VPC reach each other privately and
 * get no rules. VPCs whose CIDRs overlap (several 172.16.0.0/24 vSwitches are common) need the labels.
 */
import { UsageError } from '../errors.js';
import { sameSubnet } from '../spec/net.js';
import type { NodeSpec, Spec } from '../spec/schema.js';

/** Unlabelled nodes are grouped by this private-IP prefix. */
export const UNLABELLED_VPC_PREFIX = 24;

export interface CrossVpcPeer {
  name: string;
  privateIP: string;
  publicIP: string;
}

/** What the VPC rule looks at: a spec node, or a Node of the cluster (its knit.dev/vpc label, its InternalIP). */
export interface VpcMember {
  vpc?: string;
  privateIP: string;
}

export const sameVpc = (a: VpcMember, b: VpcMember): boolean =>
  a.vpc !== undefined || b.vpc !== undefined
    ? a.vpc === b.vpc
    : sameSubnet(a.privateIP, b.privateIP, UNLABELLED_VPC_PREFIX);

const describeVpc = (n: NodeSpec): string =>
  n.vpc !== undefined ? `vpc ${n.vpc}` : `the unlabelled VPC of ${n.privateIP}/${UNLABELLED_VPC_PREFIX}`;

export function findNode(spec: Spec, name: string): { node: NodeSpec; index: number } {
  const index = spec.nodes.findIndex((n) => n.name === name);
  if (index < 0) throw new UsageError(`node ${name} is not in the spec (nodes: ${spec.nodes.map((n) => n.name).join(', ')})`);
  return { node: spec.nodes[index]!, index };
}

/** Whether any node of the spec is outside this node's VPC (then the address map is needed). */
export const hasPeersOutsideVpc = (spec: Spec, local: NodeSpec): boolean => spec.nodes.some((n) => n !== local && !sameVpc(local, n));

/** True when the local node has no public IP yet but nodes outside its VPC will need one. */
export function needsPublicIp(spec: Spec, localNodeName: string): boolean {
  const { node: local } = findNode(spec, localNodeName);
  return local.publicIP === undefined && hasPeersOutsideVpc(spec, local);
}

/**
 * The peers outside the local node's VPC, sorted by name. Every one of them, and the local node itself
 * when there is any, must have a publicIP: that is the only address that crosses VPCs.
 */
export function peersOutsideVpc(spec: Spec, localNodeName: string): CrossVpcPeer[] {
  const { node: local, index: localIndex } = findNode(spec, localNodeName);
  const peers: CrossVpcPeer[] = [];
  spec.nodes.forEach((n, i) => {
    if (i === localIndex || sameVpc(local, n)) return;
    if (n.publicIP === undefined)
      throw new UsageError(
        `nodes[${i}].publicIP: ${n.name} (${describeVpc(n)}) is outside ${local.name}'s VPC (${describeVpc(local)}) ` +
          'and can only be reached through its public IP; set it, or give both nodes the same vpc label',
      );
    peers.push({ name: n.name, privateIP: n.privateIP, publicIP: n.publicIP });
  });
  if (peers.length > 0 && local.publicIP === undefined)
    throw new UsageError(
      `nodes[${localIndex}].publicIP: ${local.name} has peers outside its VPC (${peers.map((p) => p.name).join(', ')}) ` +
        'that reach it only through its public IP; set it (--public-ip), or run on ECS with an EIP (detected from metadata)',
    );
  return peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
