/**
 * The CNI phase's pure half: pick the plugin(s) for a spec, settle the MTU, render knit's templates,
 * point images at the chosen registry, keep hybrid clusters' DaemonSets on their side, and check the
 * result against the spec before anything is applied.
 */
import { CNI } from '../defaults.js';
import type { CniPlugin as CniName, NodeSpec, Spec } from '../spec/schema.js';
import { calico } from './calico/plugin.js';
import { flannel } from './flannel/plugin.js';
import { rewriteImage } from './images.js';
import type { Manifest } from './manifest.js';
import { terway } from './terway/plugin.js';
import type { CniPluginDef, CniRenderContext, DatapathNeed, Rollout } from './types.js';

export const PLUGINS: Record<CniName, CniPluginDef> = { flannel, calico, terway };

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
  /** Pod interface MTU (per plugin, for a hybrid cluster the overlay one). */
  mtu: number;
  applies: CniApply[];
  needs: DatapathNeed[];
  rollouts: Rollout[];
  /** Every container image the manifests pull (parses the workloads; not needed to apply). */
  images(): string[];
}

const explicitMtu = (spec: Spec, name: CniName): number | undefined =>
  name === 'flannel' ? spec.network.flannel.mtu : name === 'calico' ? spec.network.calico.mtu : undefined;

/** The pod MTU: as given, else the host interface's MTU minus the mode's encapsulation overhead. */
export const podMtu = (spec: Spec, name: CniName, hostMtu: number): number =>
  explicitMtu(spec, name) ?? hostMtu - PLUGINS[name].encapsulationOverhead(spec);

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
  let overlayMtu = ctx.hostMtu;
  for (const { def, side } of pluginsOf(spec)) {
    const mtu = podMtu(spec, def.name, ctx.hostMtu);
    if (def.encapsulationOverhead(spec) > 0 || side !== 'cloud') overlayMtu = mtu;
    const rendered = def.render(ctx, mtu);
    const cidr = def.podCidrOf(rendered);
    if (cidr !== undefined && cidr !== spec.kubernetes.podSubnet)
      throw new Error(`${def.name} would hand out ${cidr}, but kubeadm's podSubnet is ${spec.kubernetes.podSubnet}`);
    const source = { mirror: spec.mirror, registry: spec.imageRegistry };
    for (const m of rendered) {
      if (source.mirror !== 'none' || source.registry !== undefined) m.mapImages((image) => rewriteImage(image, source));
      manifests.push(m);
      if (side) for (const o of m.objects('DaemonSet')) keepOnSide(o, side);
      applies.push(toApply(def.name, m));
    }
    rollouts.push(...def.rollouts(spec));
    titles.push(side === 'external' ? `${def.describe(spec)} on external nodes` : def.describe(spec));
  }
  const images = () => [...new Set(manifests.flatMap((m) => m.images()))];
  return { title: titles.join(' + '), mtu: overlayMtu, applies: mergeApplies(applies), needs: cniNeeds(spec), rollouts, images };
}

function keepOnSide(ds: ReturnType<Manifest['objects']>[number], side: 'cloud' | 'external'): void {
  ds.requireNodeMatch({ key: CNI.externalNodeLabel, operator: side === 'external' ? 'In' : 'NotIn', values: ['true'] });
}

function toApply(plugin: string, m: Manifest): CniApply {
  const crds = m.ids().filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.name);
  return { name: crds.length > 0 ? `${plugin}-crds` : plugin, yaml: m.toString(), crds };
}

/**
 * CRDs first (all plugins' at once), then everything else in one apply. A hybrid Terway + Calico
 * cluster generates Calico's CRDs twice, identically (one table): applying both is harmless, waiting
 * names each once.
 */
function mergeApplies(applies: CniApply[]): CniApply[] {
  const crdApplies = applies.filter((a) => a.crds.length > 0);
  const rest = applies.filter((a) => a.crds.length === 0);
  const join = (list: CniApply[], name: string): CniApply[] =>
    list.length === 0 ? [] : [{ name, yaml: list.map((a) => a.yaml).join('---\n'), crds: [...new Set(list.flatMap((a) => a.crds))] }];
  return [...join(crdApplies, 'cni-crds'), ...join(rest, 'cni')];
}

/** Every apply of the phase as one file (cni.yaml): CRDs first. */
export const cniYaml = (r: RenderedCni): string => r.applies.map((a) => a.yaml).join('---\n');
