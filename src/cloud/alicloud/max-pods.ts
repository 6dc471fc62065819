/**
 * Terway's pod budget per node, from the instance type's ENI limits, computed the way Terway itself
 * does: the primary ENI is the node's own, so shared-ENI mode (terway-eniip) gives each pod a secondary
 * IP of the other ENIs, and exclusive-ENI mode gives each pod a whole ENI. Pure.
 */
import type { InstanceTypeLimits } from './api.js';

export type TerwayMode = 'eniip' | 'eni';

export const terwayPodCapacity = (t: InstanceTypeLimits, mode: TerwayMode): number =>
  Math.max(0, mode === 'eni' ? t.eniQuantity - 1 : (t.eniQuantity - 1) * t.eniPrivateIpAddressQuantity);

/**
 * Pods on the host network, which need no ENI address but do count against kubelet's maxPods: what
 * knit itself installs on the node (kube-proxy, the Terway DaemonSet and, on a control plane, the
 * static control-plane pods).
 */
export function hostNetworkPods(role: 'control-plane' | 'worker'): string[] {
  const everyNode = ['kube-proxy', 'terway-eniip'];
  return role === 'control-plane' ? ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', ...everyNode] : everyNode;
}

export interface MaxPods {
  instanceType: string;
  mode: TerwayMode;
  /** Pods Terway can give an address: the ENI budget. */
  podCapacity: number;
  hostNetworkPods: string[];
  /** kubelet's maxPods: the ENI budget plus the host-network pods. */
  maxPods: number;
  /** Why this instance type is a trap for the planned workload, when it is. */
  warning?: string;
}

export function planMaxPods(t: InstanceTypeLimits, mode: TerwayMode, role: 'control-plane' | 'worker', podsPerNode: number): MaxPods {
  const podCapacity = terwayPodCapacity(t, mode);
  const hostPods = hostNetworkPods(role);
  const limits = `${t.eniQuantity} ENI${t.eniQuantity === 1 ? '' : 's'}${mode === 'eniip' ? ` × ${t.eniPrivateIpAddressQuantity} IPs` : ''}`;
  let warning: string | undefined;
  if (podCapacity === 0)
    warning = `${t.instanceType} has ${limits}: the primary ENI is the node's own, so Terway (${mode}) can give no pod an address; choose a type with at least 2 ENIs`;
  else if (podCapacity < podsPerNode)
    warning = `${t.instanceType} holds only ${podCapacity} Terway pods (${limits}, ${mode}), fewer than the ${podsPerNode} planned (network.terway.podsPerNode); choose a larger type${mode === 'eni' ? ' or shared ENI (eniip)' : ''}`;
  return {
    instanceType: t.instanceType,
    mode,
    podCapacity,
    hostNetworkPods: hostPods,
    maxPods: podCapacity + hostPods.length,
    ...(warning ? { warning } : {}),
  };
}
