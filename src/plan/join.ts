/** `knit join` phases: the filled JoinConfiguration, then kubeadm join, then wait for Ready. */
import { PATHS } from '../defaults.js';
import { crossVpcAnnotateStep, type CrossVpcFacts } from '../crossvpc/plan.js';
import { fillJoinConfiguration, renderJoinConfig, type JoinSecrets } from '../kubeadm/render.js';
import type { Step } from '../runner/types.js';
import { cniAnnotateStep, crossVpcSteps, preflightStep } from './init.js';
import type { NodeSpec, Spec } from '../spec/schema.js';

export const KUBEADM_JOIN_CONFIG = `${PATHS.knitConfigDir}/kubeadm-join-config.yaml`;
export const KUBEADM_JOIN_LOG = `${PATHS.logDir}/kubeadm-join.log`;

export interface JoinContext {
  spec: Spec;
  node: NodeSpec;
  secrets: JoinSecrets;
  crossVpc?: CrossVpcFacts;
}

export const planJoin = ({ spec, node, secrets, crossVpc }: JoinContext): Step[] => [
  preflightStep(node.role),
  // before kubeadm: a control plane's etcd dials the other members' private URLs during the join
  ...crossVpcSteps({ spec, node, crossVpc }),
  {
    id: 'kubeadm/config',
    title: 'Write the kubeadm join configuration',
    // mode 0600: it holds the bootstrap token (and the certificate key for a control plane)
    effects: [{ kind: 'file', path: KUBEADM_JOIN_CONFIG, content: fillJoinConfiguration(renderJoinConfig(spec, node), secrets), mode: 0o600 }],
  },
  {
    id: 'kubeadm/join',
    title: `Join the cluster at ${spec.kubernetes.controlPlaneEndpoint} (kubeadm join)`,
    doneWhen: { kind: 'file-exists', path: PATHS.kubeletConf },
    effects: [{ kind: 'exec', argv: ['kubeadm', 'join', '--config', KUBEADM_JOIN_CONFIG], logFile: KUBEADM_JOIN_LOG }],
  },
  ...crossVpcAnnotateStep(spec, node.name),
  ...cniAnnotateStep({ spec, node }),
];

export const joinPlanTitle = ({ spec, node }: JoinContext): string =>
  `knit join: ${node.role} ${node.name} (${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''}) ` +
  `to ${spec.kubernetes.controlPlaneEndpoint}, Kubernetes ${spec.kubernetes.version}`;
