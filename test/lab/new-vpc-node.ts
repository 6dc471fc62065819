/**
 * A node that appears later, in a VPC of its own, wired to the cluster lab's "internet" (inet) like
 * the others: its private /24 behind inet's 1:1 NAT of its EIP. Nothing runs on it yet.
 */
import type { ClusterLab } from './cluster-topology.js';
import type { Lab } from './netns.js';

export interface NewNode {
  name: string;
  privateIP: string;
  gateway: string;
  publicIP: string;
}

export async function addNodeInNewVpc(lab: Lab, net: ClusterLab, n: NewNode): Promise<string> {
  const ns = await lab.addNamespace(n.name);
  const dev = `to-${n.name}`;
  await lab.run(net.inet, ['ip', '-batch', '-'], [`link add ${dev} type veth peer name eth0 netns ${ns}`, `addr add ${n.gateway}/24 dev ${dev}`, `link set ${dev} up`, ''].join('\n'));
  await lab.run(ns, ['ip', '-batch', '-'], [`addr add ${n.privateIP}/24 dev eth0`, 'link set eth0 up', `route add default via ${n.gateway}`, ''].join('\n'));
  // the cloud's 1:1 NAT of its EIP, inserted above inet's other rules
  await lab.run(net.inet, ['iptables', '-t', 'nat', '-I', 'PREROUTING', '-d', `${n.publicIP}/32`, '-j', 'DNAT', '--to-destination', n.privateIP]);
  await lab.run(net.inet, ['iptables', '-t', 'nat', '-I', 'POSTROUTING', '-s', `${n.privateIP}/32`, '-j', 'SNAT', '--to-source', n.publicIP]);
  return ns;
}
