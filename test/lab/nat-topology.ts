/**
 * Two hosts in different "VPCs" behind an "internet" namespace doing Alibaba-EIP-style 1:1 NAT (the
 * recipe in ../shared/README.md):
 *
 *   pod ── cni0 ─ master (172.16.1.10, EIP 203.0.113.10) ── inet ── worker (172.16.2.20, EIP 203.0.113.20)
 *
 * inet DNATs each public IP to its host's private IP, SNATs the host's private IP to its public IP on
 * the way out, and drops forwarded traffic that was not DNATed: a host cannot reach the other's
 * private IP, only its public one. Public addresses are TEST-NET-3, private ones RFC 1918, and all of
 * them exist only inside the lab's namespaces.
 *
 * Flannel as it would run with `flannel.alpha.coreos.com/public-ip-overwrite`: a VXLAN device per
 * host whose VTEP is bound to the private IP, with FDB entries pointing at the peer's public IP.
 */
import type { Lab } from './netns.js';

export const VXLAN = { vni: '1', port: '8472', device: 'flannel.1', mtu: '1450' } as const;

export const HOSTS = {
  master: {
    privateIP: '172.16.1.10',
    gateway: '172.16.1.1',
    publicIP: '203.0.113.10',
    podCidr: '10.244.0.0/24',
    vtepIP: '10.244.0.0',
    vtepMac: '02:6b:6e:00:00:0a',
  },
  worker: {
    privateIP: '172.16.2.20',
    gateway: '172.16.2.1',
    publicIP: '203.0.113.20',
    podCidr: '10.244.1.0/24',
    vtepIP: '10.244.1.0',
    vtepMac: '02:6b:6e:00:00:14',
  },
} as const;

export type HostName = keyof typeof HOSTS;

/** A pod behind the master's bridge. */
export const POD = { ip: '10.244.0.2', gateway: '10.244.0.1', clusterCidr: '10.244.0.0/16' } as const;

export interface NatLab {
  inet: string;
  pod: string;
  hosts: Record<HostName, string>;
}

const PREFIX = 24;

async function buildInternet(lab: Lab, inet: string, hosts: Record<HostName, string>): Promise<void> {
  for (const name of Object.keys(HOSTS) as HostName[]) {
    const h = HOSTS[name];
    const ns = hosts[name];
    const uplink = `to-${name}`;
    await lab.run(inet, ['ip', 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await lab.run(inet, ['ip', 'addr', 'add', `${h.gateway}/${PREFIX}`, 'dev', uplink]);
    await lab.run(inet, ['ip', 'link', 'set', uplink, 'up']);
    await lab.run(ns, ['ip', 'addr', 'add', `${h.privateIP}/${PREFIX}`, 'dev', 'eth0']);
    await lab.run(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    await lab.run(ns, ['ip', 'route', 'add', 'default', 'via', h.gateway]);
  }
  await lab.run(inet, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  await installEipNat(lab, inet, Object.values(HOSTS));
}

/**
 * The cloud's side of EIPs on the "internet" router: 1:1 NAT of each public IP to its host's private IP,
 * and a drop of forwarded traffic that was not DNATed (a VPC's private addresses are not routable).
 */
export async function installEipNat(lab: Lab, inet: string, eips: readonly { privateIP: string; publicIP: string }[]): Promise<void> {
  await lab.run(inet, ['iptables-restore'], [
    '*nat',
    ...eips.map((h) => `-A PREROUTING -d ${h.publicIP}/32 -j DNAT --to-destination ${h.privateIP}`),
    ...eips.map((h) => `-A POSTROUTING -s ${h.privateIP}/32 -j SNAT --to-source ${h.publicIP}`),
    'COMMIT',
    '*filter',
    '-A FORWARD -m conntrack ! --ctstate DNAT -j DROP',
    'COMMIT',
    '',
  ].join('\n'));
}

/** The master's pod network: a bridge, one pod, and flannel's masquerade for traffic leaving the cluster network. */
async function buildPod(lab: Lab, master: string, pod: string): Promise<void> {
  await lab.run(master, ['ip', 'link', 'add', 'cni0', 'type', 'bridge']);
  await lab.run(master, ['ip', 'addr', 'add', `${POD.gateway}/${PREFIX}`, 'dev', 'cni0']);
  await lab.run(master, ['ip', 'link', 'set', 'cni0', 'up']);
  await lab.run(master, ['ip', 'link', 'add', 'veth-pod', 'mtu', VXLAN.mtu, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
  await lab.run(master, ['ip', 'link', 'set', 'veth-pod', 'master', 'cni0', 'up']);
  await lab.run(pod, ['ip', 'link', 'set', 'eth0', 'mtu', VXLAN.mtu, 'up']);
  await lab.run(pod, ['ip', 'addr', 'add', `${POD.ip}/${PREFIX}`, 'dev', 'eth0']);
  await lab.run(pod, ['ip', 'route', 'add', 'default', 'via', POD.gateway]);
}

/** What flanneld sets up on `self` for every other host (with public-ip-overwrite set on each node). */
async function buildVxlan(lab: Lab, ns: string, self: HostName, peers: HostName[]): Promise<void> {
  const h = HOSTS[self];
  await lab.run(ns, ['ip', 'link', 'add', VXLAN.device, 'address', h.vtepMac, 'type', 'vxlan', 'id', VXLAN.vni,
    'local', h.privateIP, 'dev', 'eth0', 'dstport', VXLAN.port, 'nolearning']);
  await lab.run(ns, ['ip', 'addr', 'add', `${h.vtepIP}/32`, 'dev', VXLAN.device]);
  await lab.run(ns, ['ip', 'link', 'set', VXLAN.device, 'up']);
  for (const p of peers.map((name) => HOSTS[name])) {
    await lab.run(ns, ['ip', 'route', 'add', p.podCidr, 'via', p.vtepIP, 'dev', VXLAN.device, 'onlink']);
    await lab.run(ns, ['ip', 'neigh', 'add', p.vtepIP, 'lladdr', p.vtepMac, 'dev', VXLAN.device, 'nud', 'permanent']);
    await lab.run(ns, ['bridge', 'fdb', 'append', p.vtepMac, 'dev', VXLAN.device, 'dst', p.publicIP, 'self', 'permanent']);
  }
}

export async function buildNatLab(lab: Lab): Promise<NatLab> {
  const hosts = { master: await lab.addNamespace('master'), worker: await lab.addNamespace('worker') };
  const net: NatLab = { inet: await lab.addNamespace('inet'), pod: await lab.addNamespace('pod'), hosts };
  await buildInternet(lab, net.inet, hosts);
  for (const name of Object.keys(HOSTS) as HostName[]) {
    const ns = hosts[name];
    await lab.run(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // flannel's rule: pod traffic to anything outside the cluster network leaves with the host's address
    await lab.run(ns, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', POD.clusterCidr, '!', '-d', POD.clusterCidr, '-j', 'MASQUERADE']);
    await buildVxlan(lab, ns, name, (Object.keys(HOSTS) as HostName[]).filter((n) => n !== name));
  }
  await buildPod(lab, hosts.master, net.pod);
  return net;
}
