/**
 * The CNI phase's pure half: pick the plugin(s) for a spec, settle the MTU, render knit's templates,
 * point images at the chosen registry, keep hybrid clusters' DaemonSets on their side, and check the
 * result against the spec before anything is applied.
 */
import { CNI } from '../defaults.js';
import type { CniPlugin as CniName, NodeSpec, Spec } from '../spec/schema.js';
import { calico } from './calico/plugin.js';
import { canal } from './canal/plugin.js';
import { flannel } from './flannel/plugin.js';
import { rewriteImage } from './images.js';
import { Manifest } from './manifest.js';
import { terway } from './terway/plugin.js';
import type { CniPluginDef, CniRenderContext, DatapathNeed, Rollout } from './types.js';

export const PLUGINS: Record<CniName, CniPluginDef> = { flannel, calico, terway, canal };

/** One `kubectl apply`, in order. CRDs go first and must be Established before their resources. */
export interface CniApply {
  name: string;
  yaml: string;
  /** Names of the CRDs this apply creates (waited for before the next apply). */
  crds: string[];
}

export interface RenderedCni {
  /** e.g. "Flannel vxlan (v0.28.9)", or both plugins of a hybrid cluster. */
  title: string;
  /** Pod interface MTU (for a hybrid cluster the overlay's): set by the spec, or per node. */
  mtu: PodMtu;
  applies: CniApply[];
  needs: DatapathNeed[];
  rollouts: Rollout[];
  /** Every container image the manifests pull (parses the workloads; not needed to apply). */
  images(): string[];
}

/** The spec field that sets a plugin's pod MTU for every node (Terway has none: its pods take the ENI's). */
export const MTU_FIELD: Record<CniName, string | undefined> = {
  flannel: 'network.flannel.mtu',
  calico: 'network.calico.mtu',
  canal: 'network.canal.mtu',
  terway: undefined,
};

/**
 * A pod MTU as the cluster gets it: the value the spec sets for every node, or per node, what the node
 * derives from its own interface (flannel writes FLANNEL_MTU = interface − overhead to subnet.env,
 * Calico's felix detects the host MTU and subtracts its encapsulation's), so nodes with jumbo frames
 * or a smaller MTU over a VPN each get theirs.
 */
export type PodMtu = { kind: 'fixed'; mtu: number; field: string } | { kind: 'per-node'; overhead: number };

export function podMtuOf(spec: Spec, name: CniName): PodMtu {
  const def = PLUGINS[name];
  const mtu = def.explicitMtu(spec);
  return mtu !== undefined ? { kind: 'fixed', mtu, field: MTU_FIELD[name] ?? name } : { kind: 'per-node', overhead: def.encapsulationOverhead(spec) };
}

export const describePodMtu = (m: PodMtu): string =>
  m.kind === 'fixed' ? `${m.mtu} (${m.field})` : m.overhead > 0 ? `per node: its interface MTU − ${m.overhead}` : "per node: its interface's MTU";

/** The pod MTU a node with an interface of `hostMtu` gets: as the spec sets it, else that MTU minus the mode's overhead. */
export const podMtu = (spec: Spec, name: CniName, hostMtu: number): number =>
  PLUGINS[name].explicitMtu(spec) ?? hostMtu - PLUGINS[name].encapsulationOverhead(spec);

/** The plugins a spec runs: one, or Terway plus the plugin of the external (non-ECS) nodes. */
export function pluginsOf(spec: Spec): { def: CniPluginDef; side?: 'cloud' | 'external' }[] {
  const main = PLUGINS[spec.network.plugin];
  const hybrid = spec.network.hybrid;
  if (!hybrid) return [{ def: main }];
  return [{ def: main, side: 'cloud' }, { def: PLUGINS[hybrid.externalPlugin], side: 'external' }];
}

/** Labels each node registers with (kubelet --node-labels): the plugins' own, and hybrid clusters' side. */
export function cniNodeLabels(spec: Spec, node: NodeSpec): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const { def, side } of pluginsOf(spec)) {
    if ((side === 'cloud' && node.external) || (side === 'external' && !node.external)) continue;
    Object.assign(labels, def.nodeLabels(spec, node));
  }
  if (node.external) labels[CNI.externalNodeLabel] = 'true';
  return labels;
}

/** Annotations the node needs once registered (init and join set them with kube-annotate). */
export function cniNodeAnnotations(spec: Spec, node: NodeSpec): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const { def, side } of pluginsOf(spec)) {
    if ((side === 'cloud' && node.external) || (side === 'external' && !node.external)) continue;
    Object.assign(annotations, def.nodeAnnotations(spec, node));
  }
  return annotations;
}

export function cniNeeds(spec: Spec): DatapathNeed[] {
  const seen = new Map<string, DatapathNeed>();
  for (const { def } of pluginsOf(spec)) for (const n of def.needs(spec.network)) seen.set(`${n.protocol}/${n.number}`, n);
  return [...seen.values()];
}

export const formatNeed = (n: DatapathNeed): string =>
  n.protocol === 'ip' ? `IP protocol ${n.number} (${n.what})` : `${n.number}/${n.protocol} (${n.what})`;

export function renderCni(ctx: CniRenderContext): RenderedCni {
  const { spec } = ctx;
  const applies: CniApply[] = [];
  const rollouts: Rollout[] = [];
  const titles: string[] = [];
  const manifests: Manifest[] = [];
  /** CRDs an earlier plugin renders (Terway's felix and an external Calico both bring Calico's): applied once. */
  const crdsSeen = new Set<string>();
  let overlayMtu: PodMtu | undefined;
  for (const { def, side } of pluginsOf(spec)) {
    const mtu = podMtuOf(spec, def.name);
    if (def.encapsulationOverhead(spec) > 0 || side !== 'cloud' || overlayMtu === undefined) overlayMtu = mtu;
    const rendered = def.render(ctx);
    const cidr = def.podCidrOf(rendered);
    if (cidr !== undefined && cidr !== spec.kubernetes.podSubnet)
      throw new Error(`${def.name} would hand out ${cidr}, but kubeadm's podSubnet is ${spec.kubernetes.podSubnet}`);
    const source = { mirror: spec.mirror, registry: spec.imageRegistry };
    for (const whole of rendered) {
      const m = withoutCrds(whole, crdsSeen);
      if (!m) continue;
      for (const id of m.ids()) if (id.kind === 'CustomResourceDefinition') crdsSeen.add(id.name);
      if (source.mirror !== 'none' || source.registry !== undefined) m.mapImages((image) => rewriteImage(image, source));
      manifests.push(m);
      if (side) for (const o of m.objects('DaemonSet')) keepOnSide(o, side);
      applies.push(toApply(def.name, m));
    }
    rollouts.push(...def.rollouts(spec));
    titles.push(side === 'external' ? `${def.describe(spec)} on external nodes` : def.describe(spec));
  }
  const images = () => [...new Set(manifests.flatMap((m) => m.images()))];
  return { title: titles.join(' + '), mtu: overlayMtu!, applies: mergeApplies(applies), needs: cniNeeds(spec), rollouts, images };
}

function keepOnSide(ds: ReturnType<Manifest['objects']>[number], side: 'cloud' | 'external'): void {
  ds.requireNodeMatch({ key: CNI.externalNodeLabel, operator: side === 'external' ? 'In' : 'NotIn', values: ['true'] });
}

function toApply(plugin: string, m: Manifest): CniApply {
  const crds = m.ids().filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.name);
  return { name: crds.length > 0 ? `${plugin}-crds` : plugin, yaml: m.toString(), crds };
}

/**
 * A manifest without the CRDs named in `seen` (undefined when nothing is left). A hybrid Terway + Calico
 * cluster generates Calico's CRDs on both sides from one table, identically: the first plugin's stay.
 */
function withoutCrds(m: Manifest, seen: ReadonlySet<string>): Manifest | undefined {
  const isSeen = (o: { kind: string; name: string }) => o.kind === 'CustomResourceDefinition' && seen.has(o.name);
  const ids = m.ids();
  if (!ids.some(isSeen)) return m;
  const kept = m.objects().filter((o) => !isSeen({ kind: String(o.get(['kind'])), name: String(o.get(['metadata', 'name'])) }));
  return kept.length === 0 ? undefined : Manifest.fromObjects(kept.map((o) => o.doc.toJS() as { kind: string; metadata: { name: string } }), m.source);
}

/** CRDs first (all plugins' at once), then everything else in one apply. */
function mergeApplies(applies: CniApply[]): CniApply[] {
  const crdApplies = applies.filter((a) => a.crds.length > 0);
  const rest = applies.filter((a) => a.crds.length === 0);
  const join = (list: CniApply[], name: string): CniApply[] =>
    list.length === 0 ? [] : [{ name, yaml: list.map((a) => a.yaml).join('---\n'), crds: [...new Set(list.flatMap((a) => a.crds))] }];
  return [...join(crdApplies, 'cni-crds'), ...join(rest, 'cni')];
}

/** Every apply of the phase as one file (cni.yaml): CRDs first. */
export const cniYaml = (r: RenderedCni): string => r.applies.map((a) => a.yaml).join('---\n');
