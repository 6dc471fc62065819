/**
 * What kubeadm needs to know, independent of the API version that will carry it. Built from a Spec by
 * pure code; the per-version builders only decide the shape.
 */
import { cniNodeLabels } from '../cni/index.js';
import { CROSSVPC, KUBERNETES } from '../defaults.js';
import { parseVersion, type NodeSpec, type Spec } from '../spec/schema.js';

export interface NodeRegistration {
  name: string;
  criSocket: string;
  /** Flags for the kubelet; a map here, a map in v1beta3, a list of {name,value} in v1beta4. */
  kubeletExtraArgs: Record<string, string>;
}

export interface KubeadmModel {
  apiVersion: 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';
  kubernetesVersion: string;
  controlPlaneEndpoint: string;
  imageRepository: string;
  /** CoreDNS's repository, when kubeadm's own choice would not find it (see dnsImageRepository). */
  dnsImageRepository?: string;
  networking: { podSubnet: string; serviceSubnet: string; dnsDomain: string };
  certSANs: string[];
}

export const kubeadmApiVersion = (k8sVersion: string): KubeadmModel['apiVersion'] => {
  const v = parseVersion(k8sVersion);
  return v && v.minor >= KUBERNETES.v1beta4FromMinor ? 'kubeadm.k8s.io/v1beta4' : 'kubeadm.k8s.io/v1beta3';
};

/**
 * Where CoreDNS is, when kubeadm would look in the wrong place. kubeadm pulls
 * `<imageRepository>/coredns:<tag>`, adding the `/coredns` sub-path only for its default repository
 * (registry.k8s.io/coredns/coredns; cmd/kubeadm/app/images GetDNSImage). A private registry
 * (`imageRegistry`) holds every image under its upstream path, so CoreDNS is at R/coredns/coredns:
 * `dns.imageRepository: R/coredns`. The cn mirror (Aliyun's google_containers) holds it flat, at
 * google_containers/coredns:<tag>, which is where kubeadm already looks; an explicit
 * kubernetes.imageRepository is the operator's kubeadm setting and is left to kubeadm's rule.
 */
export function dnsImageRepository(spec: Pick<Spec, 'imageRegistry' | 'kubernetes'>): string | undefined {
  const r = spec.imageRegistry;
  return r !== undefined && spec.kubernetes.imageRepository === r ? `${r}/coredns` : undefined;
}

export const endpointHost = (endpoint: string): string => endpoint.replace(/:\d+$/, '');

export function buildModel(spec: Spec): KubeadmModel {
  const k = spec.kubernetes;
  const controlPlanes = spec.nodes.filter((n) => n.role === 'control-plane');
  // Every control plane's public and private address and name, and the endpoint: the serving
  // certificate must be valid however a peer in another VPC reaches the apiserver.
  const sans = [
    endpointHost(k.controlPlaneEndpoint),
    ...controlPlanes.flatMap((n) => [n.publicIP, n.privateIP, n.name]),
    ...k.certSANs,
  ].filter((s): s is string => s !== undefined);
  return {
    apiVersion: kubeadmApiVersion(k.version),
    kubernetesVersion: `v${k.version.replace(/^v/, '')}`,
    controlPlaneEndpoint: k.controlPlaneEndpoint,
    imageRepository: k.imageRepository,
    ...(dnsImageRepository(spec) !== undefined ? { dnsImageRepository: dnsImageRepository(spec) } : {}),
    networking: { podSubnet: k.podSubnet, serviceSubnet: k.serviceSubnet, dnsDomain: k.dnsDomain },
    certSANs: [...new Set(sans)],
  };
}

/**
 * node-ip is the private IP: an EIP is 1:1 NAT outside the instance and never on its NIC, so the
 * kubelet (and kubeadm's advertise address) must use the address the NIC really has.
 */
export const nodeRegistration = (spec: Spec, node: NodeSpec): NodeRegistration => {
  // labels the CNI needs on the node from the start (Terway's exclusive ENI, hybrid sides, route reflectors)
  // and its VPC, which every node's cross-VPC agent reads (a kubelet may set a knit.dev label on itself)
  const vpc = node.vpc ? { [CROSSVPC.vpcLabel]: node.vpc } : {};
  const labels = Object.entries({ ...ecsTopologyLabels(spec, node), ...cniNodeLabels(spec, node), ...vpc }).map(([k, v]) => `${k}=${v}`);
  const region = spec.alicloud?.region;
  return {
    name: node.name,
    criSocket: spec.kubernetes.criSocket,
    kubeletExtraArgs: {
      'node-ip': node.privateIP,
      ...(labels.length > 0 ? { 'node-labels': labels.join(',') } : {}),
      // <region>.<instance id>: how Alibaba Cloud's controllers (Terway, the cloud controller manager) find the ECS instance
      ...(node.instanceId && region ? { 'provider-id': `${region}.${node.instanceId}` } : {}),
      // per node, as each instance type's ENIs differ; kubeadm join ignores a KubeletConfiguration, so a flag
      ...(node.maxPods !== undefined ? { 'max-pods': String(node.maxPods) } : {}),
    },
  };
};

/** The well-known topology labels of an ECS node; a kubelet may set these on itself (NodeRestriction allows them). */
function ecsTopologyLabels(spec: Spec, node: NodeSpec): Record<string, string> {
  const region = spec.alicloud?.region;
  return {
    ...(region && node.instanceId ? { 'topology.kubernetes.io/region': region } : {}),
    ...(node.zone ? { 'topology.kubernetes.io/zone': node.zone } : {}),
    ...(node.instanceType ? { 'node.kubernetes.io/instance-type': node.instanceType } : {}),
  };
}
