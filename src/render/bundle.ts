/**
 * The render bundle: every file knit would write or apply for a spec, named by file. `knit render`
 * prints it or writes it to a directory; nothing here touches the host.
 *
 * The cluster-wide files (kubeadm-config.yaml, cni.yaml, plan.txt) are rendered once; the per-node
 * files (a join configuration, a cross-VPC ruleset) only for the nodes asked for, one at a time, so a
 * caller can write each as it comes: a node's ruleset lists every peer (O(n) per node), and all nodes'
 * files together grow with the square of the node count.
 */
import { cniYaml, renderCni } from '../cni/index.js';
import type { AccessKey, TemplateReader } from '../cni/types.js';
import { BUNDLE } from '../defaults.js';
import { UsageError } from '../errors.js';
import { renderInitConfig, renderJoinConfig } from '../kubeadm/render.js';
import { hasPeersOutsideVpc, peersOutsideVpc } from '../crossvpc/peers.js';
import { renderCrossVpcRulesFile } from '../crossvpc/plan.js';
import { initPlanTitle, planInit } from '../plan/init.js';
import { formatPlan } from '../runner/describe.js';
import type { NodeSpec, Spec } from '../spec/schema.js';

export type Bundle = Record<string, string>;

export const joinConfigName = (node: string): string => `kubeadm-join-${node}.yaml`;
/** The nftables ruleset (the address map) each node with peers in other VPCs loads at boot. */
export const crossVpcRulesName = (node: string): string => `crossvpc-${node}.nft`;

export interface BundleOptions {
  template: TemplateReader;
  home?: string;
  /** Terway with credentials: access-key — the key for its Secret (never printed: redacted on output). */
  accessKey?: AccessKey;
  /** Whose per-node files to render: these node names (in spec order), or every node. Default: every node. */
  nodes?: readonly string[] | 'all';
}

/** A bundle to write out: the cluster-wide files at hand, the per-node ones rendered as they are taken. */
export interface BundleFiles {
  /** cni.yaml, for `--validate` before anything is written. */
  readonly cni: string;
  /** Every file in bundle order: kubeadm-config.yaml, the per-node files, cni.yaml, plan.txt. */
  files(): Generator<[name: string, content: string]>;
  /** The names files() yields, in its order, without rendering anything. */
  names(): Generator<string>;
}

/** The nodes whose files are asked for, in spec order; a name not in the spec is bad input. */
export function selectNodes(spec: Spec, names: readonly string[] | 'all'): NodeSpec[] {
  if (names === 'all') return spec.nodes;
  const wanted = new Set(names);
  const picked = spec.nodes.filter((n) => wanted.has(n.name));
  if (picked.length < wanted.size) {
    const known = new Set(picked.map((n) => n.name));
    const missing = [...wanted].filter((n) => !known.has(n));
    throw new UsageError(`--node-name: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in nodes`);
  }
  return picked;
}

export function bundleFiles(spec: Spec, localNode: string, { template, home = '/root', accessKey, nodes = 'all' }: BundleOptions): BundleFiles {
  const node = spec.nodes.find((n) => n.name === localNode);
  if (!node) throw new Error(`node ${localNode} is not in the spec`);
  // The node that runs `kubeadm init`: the local node when it is a control plane, else the first one.
  const initNode = node.role === 'control-plane' ? node : spec.nodes.find((n) => n.role === 'control-plane');
  if (!initNode) throw new UsageError('nodes: at least one node must have role control-plane');
  const selected = selectNodes(spec, nodes);
  // what a node's ruleset needs (every peer outside its VPC has a public IP, and then the node too) is
  // checked for every selected node first: bad input stops before the first file is written
  const withPeers = new Set(selected.filter((n) => hasPeersOutsideVpc(spec, n) && peersOutsideVpc(spec, n.name).length > 0));
  const kubeadmConfig = renderInitConfig(spec, initNode);
  const cni = renderCni({ spec, template, accessKey });
  const cniText = cniYaml(cni);
  const ctx = { spec, node: initNode, home, cni, kubeadmConfig };
  const plan = formatPlan(initPlanTitle(ctx), planInit(ctx));
  return {
    cni: cniText,
    *names() {
      yield BUNDLE.kubeadmConfig;
      for (const n of selected) if (n !== initNode) yield joinConfigName(n.name);
      for (const n of selected) if (withPeers.has(n)) yield crossVpcRulesName(n.name);
      yield BUNDLE.cni;
      yield BUNDLE.plan;
    },
    *files() {
      yield [BUNDLE.kubeadmConfig, kubeadmConfig];
      for (const n of selected) if (n !== initNode) yield [joinConfigName(n.name), renderJoinConfig(spec, n)];
      for (const n of selected) if (withPeers.has(n)) yield [crossVpcRulesName(n.name), renderCrossVpcRulesFile(spec, n.name)];
      yield [BUNDLE.cni, cniText];
      yield [BUNDLE.plan, plan];
    },
  };
}

/** The whole bundle as one object (every node's files unless `nodes` says otherwise): the goldens. */
export function renderBundle(spec: Spec, localNode: string, opts: BundleOptions): Bundle {
  return Object.fromEntries(bundleFiles(spec, localNode, opts).files());
}
