/** Which CNI setups can carry pod traffic between VPCs through the 1:1 NAT of the public IPs. */
import { UsageError } from '../errors.js';
import type { Spec } from '../spec/schema.js';

/**
 * Encapsulation over UDP between node addresses crosses the NAT through knit's address map (flannel
 * vxlan or wireguard, calico vxlan: their tunnel endpoints are the peers' private IPs, mapped like any
 * other traffic). Setups whose pod routes need the nodes' private networks to route to each other do not.
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
        'use flannel or calico (vxlan) across VPCs',
    );
}
