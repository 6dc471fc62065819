/** Which CNI setups can carry pod traffic between VPCs through the 1:1 NAT of the public IPs. */
import { UsageError } from '../errors.js';
import type { Spec } from '../spec/schema.js';

/**
 * Encapsulation over UDP between node addresses crosses the NAT through knit's address map (flannel
 * vxlan or wireguard, canal (flannel vxlan inside), calico vxlan: their tunnel endpoints are the peers'
 * private IPs, mapped like any other traffic). Setups whose pod routes need the nodes' private networks to route to each other do not.
 */
export function checkCniAcrossVpcs(spec: Spec): void {
  const { network } = spec;
  if (network.plugin === 'calico' && network.calico.mode !== 'vxlan')
    throw new UsageError(
      `network.calico.mode (--calico-mode): ${network.calico.mode} does not work across VPCs ` +
        '(IPIP and BGP routes point at private IPs that other VPCs cannot route to); use vxlan',
    );
  if (network.plugin === 'flannel' && network.flannel.backend === 'host-gw')
    throw new UsageError('network.flannel.backend: host-gw needs all nodes on one L2 network, which VPCs are not; use vxlan');
  if (network.plugin === 'terway')
    throw new UsageError(
      "network.plugin (--cni): terway gives pods addresses of their node's VPC, which other VPCs cannot route to; " +
        'use flannel, canal or calico (vxlan) across VPCs',
    );
}

/**
 * Where a cluster's flanneld runs (flannel's own DaemonSet, or the kube-flannel container of canal's),
 * for the step that drops flannel's public-ip-overwrite annotation and restarts the node's flannel pod.
 */
export function flannelPods(spec: Spec): { namespace: string; selector: string } | undefined {
  if (spec.network.plugin === 'flannel' || spec.network.hybrid?.externalPlugin === 'flannel') return { namespace: 'kube-flannel', selector: 'app=flannel' };
  if (spec.network.plugin === 'canal') return { namespace: 'kube-system', selector: 'k8s-app=canal' };
  return undefined;
}
