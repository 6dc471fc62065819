/**
 * Typed builders for kubeadm's configuration, one per API version (kubeadm.k8s.io/v1beta3 below
 * Kubernetes 1.31, v1beta4 from 1.31). Not a template: the documents are objects, serialized by `yaml`.
 */
import { Document, isMap, parseDocument } from 'yaml';
import { CNI, KUBERNETES } from '../defaults.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { buildModel, nodeRegistration, type KubeadmModel, type NodeRegistration } from './model.js';

type Obj = Record<string, unknown>;

/** v1beta3 carries extra args as a map; v1beta4 as an ordered list of {name, value}. */
const extraArgs = (model: KubeadmModel, args: Record<string, string>): Obj | { name: string; value: string }[] =>
  model.apiVersion === 'kubeadm.k8s.io/v1beta4'
    ? Object.entries(args).map(([name, value]) => ({ name, value }))
    : { ...args };

const registration = (model: KubeadmModel, r: NodeRegistration): Obj => ({
  name: r.name,
  criSocket: r.criSocket,
  kubeletExtraArgs: extraArgs(model, r.kubeletExtraArgs),
});

const apiEndpoint = (node: NodeSpec): Obj => ({ advertiseAddress: node.privateIP, bindPort: KUBERNETES.apiServerPort });

export function initConfiguration(spec: Spec, node: NodeSpec): Obj {
  const model = buildModel(spec);
  return {
    apiVersion: model.apiVersion,
    kind: 'InitConfiguration',
    localAPIEndpoint: apiEndpoint(node),
    nodeRegistration: registration(model, nodeRegistration(spec, node)),
  };
}

export function clusterConfiguration(spec: Spec): Obj {
  const model = buildModel(spec);
  return {
    apiVersion: model.apiVersion,
    kind: 'ClusterConfiguration',
    kubernetesVersion: model.kubernetesVersion,
    controlPlaneEndpoint: model.controlPlaneEndpoint,
    imageRepository: model.imageRepository,
    ...(model.dnsImageRepository !== undefined ? { dns: { imageRepository: model.dnsImageRepository } } : {}),
    networking: model.networking,
    apiServer: { certSANs: model.certSANs },
  };
}

export const kubeletConfiguration = (): Obj => ({
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  cgroupDriver: 'systemd',
});

/**
 * How kube-proxy tells pod traffic from the rest: traffic to a Service that is not from a local pod is
 * masqueraded (KUBE-MARK-MASQ), so a wrong answer hides the client pod's IP from the backend and from
 * NetworkPolicy rules that select source pods.
 * - flannel, calico: pod IPs come from kubernetes.podSubnet: `clusterCIDR` (detectLocalMode ClusterCIDR).
 * - terway: pod IPs come from the pod vSwitches, not podSubnet, so a clusterCIDR rule would masquerade
 *   every pod → Service connection. Every Terway pod reaches the host's Service rules through its veth,
 *   whose host side is `cali…` in both modes (eniip's pod link; exclusive ENI's veth1, the pod's route to
 *   the Service CIDR): detectLocalMode InterfaceNamePrefix (Kubernetes ≥ 1.23), and clusterCIDR is
 *   left out (kube-proxy reads it only in ClusterCIDR mode; kubeadm still writes podSubnet there).
 *   In exclusive ENI mode Terway's policy container masquerades everything the host routes out
 *   (chain terway-masq: replies would otherwise come back through the pod's own ENI, past the host's
 *   conntrack), so there the rule changes nothing, and that mode enforces no NetworkPolicy anyway.
 * - hybrid Terway clusters have one kube-proxy configuration for both sides. An external Calico (or
 *   Canal) names its host veths `cali…` too: one rule fits every node. An external Flannel attaches pods
 *   to the bridge cni0, which no `cali` prefix matches: on those nodes pod → Service traffic is
 *   masqueraded to the node's address (it still flows; the backend sees the node, not the pod). Flannel
 *   enforces no NetworkPolicy; Terway-side policies that select those pods miss their Service traffic.
 */
export const kubeProxyConfiguration = (spec: Spec): Obj => ({
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  mode: 'iptables',
  ...(spec.network.plugin === 'terway'
    ? { detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: CNI.terwayHostVethPrefix } }
    : { clusterCIDR: spec.kubernetes.podSubnet }),
});

/** Values `knit join` fills in structurally (see fillJoinConfiguration), never by text substitution. */
export const JOIN_PLACEHOLDERS = {
  token: '<token>',
  caCertHash: '<sha256:ca-cert-hash>',
  certificateKey: '<certificate-key>',
} as const;

export function joinConfiguration(spec: Spec, node: NodeSpec): Obj {
  const model = buildModel(spec);
  const doc: Obj = {
    apiVersion: model.apiVersion,
    kind: 'JoinConfiguration',
    // Discovery goes through the public endpoint: a node in another VPC cannot reach the private one.
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: model.controlPlaneEndpoint,
        token: JOIN_PLACEHOLDERS.token,
        caCertHashes: [JOIN_PLACEHOLDERS.caCertHash],
      },
    },
    nodeRegistration: registration(model, nodeRegistration(spec, node)),
  };
  if (node.role === 'control-plane')
    doc.controlPlane = { localAPIEndpoint: apiEndpoint(node), certificateKey: JOIN_PLACEHOLDERS.certificateKey };
  return doc;
}

const toYaml = (docs: Obj[]): string =>
  docs.map((d) => new Document(d).toString({ lineWidth: 0 })).join('---\n');

/** The `kubeadm init --config` file for the node that initializes the cluster. */
export const renderInitConfig = (spec: Spec, node: NodeSpec): string =>
  toYaml([initConfiguration(spec, node), clusterConfiguration(spec), kubeletConfiguration(), kubeProxyConfiguration(spec)]);

/**
 * The `kubeadm join --config` file for a node, with the join secrets still as placeholders. No
 * KubeletConfiguration: kubeadm join ignores it (joining kubelets read the cluster's kubelet-config).
 */
export const renderJoinConfig = (spec: Spec, node: NodeSpec): string => toYaml([joinConfiguration(spec, node)]);

export interface JoinSecrets {
  token: string;
  caCertHash: string;
  certificateKey?: string;
}

/** Fills a rendered join configuration's placeholders by path. Throws when the document has no such path. */
export function fillJoinConfiguration(yamlText: string, secrets: JoinSecrets): string {
  const docs = yamlText.split(/^---\n/m).map((t) => parseDocument(t));
  const join = docs.find((d) => d.get('kind') === 'JoinConfiguration');
  if (!join || !isMap(join.getIn(['discovery', 'bootstrapToken'])))
    throw new Error('template drift: no JoinConfiguration.discovery.bootstrapToken to fill');
  join.setIn(['discovery', 'bootstrapToken', 'token'], secrets.token);
  join.setIn(['discovery', 'bootstrapToken', 'caCertHashes'], [secrets.caCertHash]);
  if (join.hasIn(['controlPlane', 'certificateKey'])) {
    if (!secrets.certificateKey) throw new Error('a control-plane join needs the certificate key');
    join.setIn(['controlPlane', 'certificateKey'], secrets.certificateKey);
  }
  return docs.map((d) => d.toString({ lineWidth: 0 })).join('---\n');
}
