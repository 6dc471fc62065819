/**
 * The render bundle: every file knit would write or apply for a spec, named by file. `knit render`
 * prints it or writes it to a directory; nothing here touches the host.
 */
import { cniYaml, renderCni } from '../cni/index.js';
import type { AccessKey, TemplateReader } from '../cni/types.js';
import { BUNDLE, CNI } from '../defaults.js';
import { UsageError } from '../errors.js';
import { renderInitConfig, renderJoinConfig } from '../kubeadm/render.js';
import { peersOutsideVpc } from '../crossvpc/peers.js';
import { renderCrossVpcRulesFile } from '../crossvpc/plan.js';
import { initPlanTitle, planInit } from '../plan/init.js';
import { formatPlan } from '../runner/describe.js';
import type { Spec } from '../spec/schema.js';

export type Bundle = Record<string, string>;

export const joinConfigName = (node: string): string => `kubeadm-join-${node}.yaml`;
/** The nftables ruleset (the address map) each node with peers in other VPCs loads at boot. */
export const crossVpcRulesName = (node: string): string => `crossvpc-${node}.nft`;

export interface BundleOptions {
  template: TemplateReader;
  home?: string;
  /** Terway with credentials: access-key — the key for its Secret (never printed: redacted on output). */
  accessKey?: AccessKey;
}

export function renderBundle(spec: Spec, localNode: string, { template, home = '/root', accessKey }: BundleOptions): Bundle {
  const node = spec.nodes.find((n) => n.name === localNode);
  if (!node) throw new Error(`node ${localNode} is not in the spec`);
  // The node that runs `kubeadm init`: the local node when it is a control plane, else the first one.
  const initNode = node.role === 'control-plane' ? node : spec.nodes.find((n) => n.role === 'control-plane');
  if (!initNode) throw new UsageError('nodes: at least one node must have role control-plane');
  const bundle: Bundle = { [BUNDLE.kubeadmConfig]: renderInitConfig(spec, initNode) };
  for (const n of spec.nodes) if (n !== initNode) bundle[joinConfigName(n.name)] = renderJoinConfig(spec, n);
  for (const n of spec.nodes)
    if (peersOutsideVpc(spec, n.name).length > 0) bundle[crossVpcRulesName(n.name)] = renderCrossVpcRulesFile(spec, n.name);
  const cni = renderCni({ spec, hostMtu: CNI.offlineHostMtu, template, accessKey });
  bundle[BUNDLE.cni] = cniYaml(cni);
  const ctx = { spec, node: initNode, home, cni, kubeadmConfig: bundle[BUNDLE.kubeadmConfig] };
  bundle[BUNDLE.plan] = formatPlan(initPlanTitle(ctx), planInit(ctx));
  return bundle;
}
