/**
 * `knit init` as kubeadm-style phases: an ordered list of named steps, each skippable. Pure: the spec
 * in, the steps (with their effects as data) out.
 */
import { cniNodeAnnotations, describePodMtu, formatNeed, type RenderedCni } from '../cni/index.js';
import { crossVpcAnnotateStep, NO_LEGACY_FACTS, planCrossVpcApply, type CrossVpcFacts } from '../crossvpc/plan.js';
import { corednsPlacementSteps } from '../cni/hybrid.js';
import { CNI, PATHS } from '../defaults.js';
import { renderInitConfig } from '../kubeadm/render.js';
import type { Step } from '../runner/types.js';
import type { NodeSpec, Spec } from '../spec/schema.js';

export interface InitContext {
  spec: Spec;
  node: NodeSpec;
  /** Home directory of the invoking user (kubeconfig goes to $HOME/.kube/config). */
  home: string;
  /** knit's live nftables table and what earlier versions left; offline rendering assumes a fresh host. */
  crossVpc?: CrossVpcFacts;
  /** The CNI manifests, rendered beforehand (rendering reads templates). */
  cni: RenderedCni;
  /** The kubeadm configuration, when the caller rendered it already (render's bundle holds it too). */
  kubeadmConfig?: string;
}

export const OFFLINE_CROSSVPC_FACTS: CrossVpcFacts = { legacy: NO_LEGACY_FACTS };

/** The cross-VPC phase: empty when every peer shares the node's VPC. */
export const crossVpcSteps = ({ spec, node, crossVpc }: { spec: Spec; node: NodeSpec; crossVpc?: CrossVpcFacts }): Step[] =>
  planCrossVpcApply(spec, node.name, crossVpc ?? OFFLINE_CROSSVPC_FACTS);

/** kubeadm's own output goes here, so that a failure can show its tail and the join command is kept. */
export const KUBEADM_INIT_LOG = `${PATHS.logDir}/kubeadm-init.log`;

export const preflightStep = (role: NodeSpec['role']): Step => ({
  id: 'preflight',
  title: 'Check the host (knit preflight)',
  effects: [{ kind: 'preflight', role }],
});

export const kubeadmConfigStep = ({ spec, node, kubeadmConfig }: InitContext): Step => ({
  id: 'kubeadm/config',
  title: 'Write the kubeadm configuration',
  effects: [{ kind: 'file', path: PATHS.kubeadmConfig, content: kubeadmConfig ?? renderInitConfig(spec, node), mode: 0o600 }],
});

export const kubeadmInitStep = (): Step => ({
  id: 'kubeadm/init',
  title: 'Initialize the control plane (kubeadm init)',
  // initialized = admin.conf and an apiserver that answers; admin.conf alone may be a broken leftover,
  // and then kubeadm's own preflight says what is in the way
  doneWhen: {
    kind: 'all',
    probes: [
      { kind: 'file-exists', path: PATHS.adminConf },
      { kind: 'apiserver-ready', kubeconfig: PATHS.adminConf },
    ],
  },
  onFailure: 'to start over on this node: knit reset --yes, then knit init again',
  effects: [{ kind: 'exec', argv: ['kubeadm', 'init', '--config', PATHS.kubeadmConfig, '--upload-certs'], logFile: KUBEADM_INIT_LOG }],
});

export const kubeconfigStep = ({ home }: InitContext): Step => ({
  id: 'kubeconfig',
  title: 'Install the admin kubeconfig for this user',
  effects: [{ kind: 'copy', from: PATHS.adminConf, to: `${home}/.kube/config`, mode: 0o600 }],
});

export const waitReadyStep = ({ node }: InitContext): Step => ({
  id: 'wait/node-ready',
  title: `Wait for node ${node.name} to be Ready`,
  effects: [{ kind: 'wait', target: { kind: 'node-ready', node: node.name }, timeoutS: 300 }],
});

/**
 * Apply the CNI: its CRDs first (Established before any resource of theirs), then the rest. The
 * datapath's needs go in the note, so that plan.txt says what security groups must allow.
 */
export const cniSteps = ({ cni }: { cni: RenderedCni }): Step[] =>
  cni.applies.map((a) => ({
    id: a.crds.length > 0 ? 'cni/crds' : 'cni/apply',
    title: a.crds.length > 0 ? `Install the CNI's CustomResourceDefinitions (${a.crds.length})` : `Apply the CNI: ${cni.title}, pod MTU ${describePodMtu(cni.mtu)}`,
    doneWhen: { kind: 'kube-in-sync' as const, name: a.name, yaml: a.yaml },
    effects: [
      { kind: 'kube-apply' as const, name: a.name, yaml: a.yaml },
      ...(a.crds.length > 0 ? [{ kind: 'wait' as const, target: { kind: 'crds-established' as const, names: a.crds }, timeoutS: 60 }] : []),
    ],
    ...(a.crds.length === 0 && cni.needs.length > 0
      ? { note: `nodes must reach each other on ${cni.needs.map(formatNeed).join(', ')} (security groups, host firewalls)` }
      : {}),
  }));

/** Annotations the CNI needs on this node (e.g. a Calico route reflector's cluster ID); none: no step. */
export const cniAnnotateStep = ({ spec, node }: { spec: Spec; node: NodeSpec }): Step[] => {
  const annotations = cniNodeAnnotations(spec, node);
  if (Object.keys(annotations).length === 0) return [];
  return [{ id: 'cni/annotate', title: `Annotate node ${node.name} for the CNI`, effects: [{ kind: 'kube-annotate', node: node.name, annotations }] }];
};

/**
 * After the node is Ready: the CNI's workloads have rolled out (kube-controllers needs a Ready node).
 * In the `wait` group with every other wait (`--skip wait`); it was `cni/rollout`, which --skip still
 * takes, as it takes `cni` for it (src/runner/skip.ts).
 */
export const cniRolloutStep = ({ cni }: { cni: RenderedCni }): Step => ({
  id: 'wait/cni-rollout',
  title: 'Wait for the CNI to roll out',
  effects: cni.rollouts.map((r) => ({ kind: 'wait' as const, target: { kind: 'rollout' as const, resource: r.kind, namespace: r.namespace, name: r.name }, timeoutS: CNI.rolloutTimeoutS })),
});

/**
 * The cross-VPC map goes in before kubeadm: everything that dials a peer's private IP (etcd and the
 * apiserver of other control planes, kubelets, pods through Services) needs it from the first packet.
 */
export const planInit = (ctx: InitContext): Step[] => [
  preflightStep('control-plane'),
  ...crossVpcSteps(ctx),
  kubeadmConfigStep(ctx),
  kubeadmInitStep(),
  kubeconfigStep(ctx),
  ...crossVpcAnnotateStep(ctx.spec, ctx.node.name),
  ...cniSteps(ctx),
  ...cniAnnotateStep(ctx),
  // hybrid clusters: CoreDNS stays where every node reaches it (src/cni/hybrid.ts)
  ...corednsPlacementSteps(ctx.spec),
  waitReadyStep(ctx),
  cniRolloutStep(ctx),
];

export const initPlanTitle = ({ spec, node }: InitContext): string =>
  `knit init: control plane ${node.name} (${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''}), ` +
  `Kubernetes ${spec.kubernetes.version}, CNI ${spec.network.plugin}, endpoint ${spec.kubernetes.controlPlaneEndpoint}`;
