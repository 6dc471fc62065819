/**
 * `knit init` as kubeadm-style phases: an ordered list of named steps, each skippable. Pure: the spec
 * in, the steps (with their effects as data) out.
 */
import { planCrossVpcApply, type CrossVpcFacts } from '../crossvpc/plan.js';
import { NO_STATE } from '../crossvpc/state.js';
import { PATHS } from '../defaults.js';
import { renderInitConfig } from '../kubeadm/render.js';
import type { Step } from '../runner/types.js';
import type { NodeSpec, Spec } from '../spec/schema.js';

export interface InitContext {
  spec: Spec;
  node: NodeSpec;
  /** Home directory of the invoking user (kubeconfig goes to $HOME/.kube/config). */
  home: string;
  /** The host's iptables facts; offline rendering assumes a fresh nf_tables host. */
  crossVpc?: CrossVpcFacts;
}

export const OFFLINE_CROSSVPC_FACTS: CrossVpcFacts = { backend: 'nft', state: NO_STATE };

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

export const kubeadmConfigStep = ({ spec, node }: InitContext): Step => ({
  id: 'kubeadm/config',
  title: 'Write the kubeadm configuration',
  effects: [{ kind: 'file', path: PATHS.kubeadmConfig, content: renderInitConfig(spec, node), mode: 0o600 }],
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

export const planInit = (ctx: InitContext): Step[] => [
  preflightStep('control-plane'),
  kubeadmConfigStep(ctx),
  kubeadmInitStep(),
  kubeconfigStep(ctx),
  ...crossVpcSteps(ctx),
  waitReadyStep(ctx),
];

export const initPlanTitle = ({ spec, node }: InitContext): string =>
  `knit init: control plane ${node.name} (${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''}), ` +
  `Kubernetes ${spec.kubernetes.version}, CNI ${spec.network.plugin}, endpoint ${spec.kubernetes.controlPlaneEndpoint}`;
