/**
 * One interface per CNI plugin, so that a fourth plugin is a new folder, not edits everywhere. A plugin
 * renders knit's own template for a spec (structural patches only) and says what its datapath needs.
 */
import type { CniPlugin as CniName, NodeSpec, Spec } from '../spec/schema.js';
import type { Manifest } from './manifest.js';

/** Reads a file under templates/ (e.g. `flannel/v0.28.9/kube-flannel.yaml`). Injected: no I/O here. */
export type TemplateReader = (path: string) => string;

export interface AccessKey {
  accessKeyId: string;
  accessKeySecret: string;
}

export interface CniRenderContext {
  spec: Spec;
  template: TemplateReader;
  /** Terway only: an AccessKey to use instead of the ECS instance RAM role; it goes into a Secret. */
  accessKey?: AccessKey;
}

/** Something the datapath needs between nodes (security groups and host firewalls must allow it). */
export interface DatapathNeed {
  protocol: 'udp' | 'tcp' | 'ip';
  /** Port for udp/tcp; IP protocol number for `ip`. */
  number: number;
  what: string;
}

/** A workload the CNI phase waits for after applying. */
export interface Rollout {
  kind: 'daemonset' | 'deployment';
  namespace: string;
  name: string;
}

export interface CniPluginDef {
  name: CniName;
  /** One line for plan.txt: the plugin, mode and upstream release. */
  describe(spec: Spec): string;
  /** Bytes each packet loses to encapsulation in the configured mode (0 for none). */
  encapsulationOverhead(spec: Spec): number;
  needs(network: Pick<Spec['network'], 'flannel' | 'calico' | 'canal'>): DatapathNeed[];
  /**
   * The pod MTU the spec sets for every node (`network.<plugin>.mtu`), or undefined: then each node
   * derives its own from its interface, minus the overhead (flannel's FLANNEL_MTU, Calico's MTU detection).
   */
  explicitMtu(spec: Spec): number | undefined;
  /** The rendered manifests, in apply order; the pod MTU is `explicitMtu(spec)` or left to each node. */
  render(ctx: CniRenderContext): Manifest[];
  /** The pod CIDR the rendered manifests hand out, read back from them (undefined: not from a CIDR). */
  podCidrOf(manifests: Manifest[]): string | undefined;
  rollouts(spec: Spec): Rollout[];
  /** Labels a node needs for this plugin (e.g. Terway's exclusive-ENI label), set through the kubelet. */
  nodeLabels(spec: Spec, node: NodeSpec): Record<string, string>;
  /** Annotations a node needs once registered (the kubelet cannot set them): set by init/join. */
  nodeAnnotations(spec: Spec, node: NodeSpec): Record<string, string>;
}
