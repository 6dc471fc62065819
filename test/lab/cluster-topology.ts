/**
 * A four-node cluster in three "VPCs" behind Alibaba-EIP-style 1:1 NAT, with what Kubernetes programs
 * into each node's kernel: flannel v0.28's VXLAN network (VTEPs at the nodes' PRIVATE IPs, i.e. without
 * public-ip-overwrite) and its iptables rules, and kube-proxy's iptables rules for two Services.
 *
 *   cp ─┐                                       pods: one per node, behind cni0
 *       ├─ vpc-a (bridge) ─┐
 *   w3 ─┘                  │
 *                        inet ══ 1400 MTU ══ vpc-b gateway ── w1
 *   w2 ────────────────────┘
 *
 * inet is the internet and the cloud NAT, as in nat-topology.ts: it DNATs each public IP to its node's
 * private IP, SNATs the private IP to the public one on the way out, and drops forwarded traffic that
 * was not DNATed, so a node reaches another VPC's nodes only at their public IPs. cp and w3 share vpc-a,
 * a bridge (one L2 segment), and talk privately without passing inet's iptables.
 *
 * The path to vpc-b is narrower than the NICs (all 1500): a 1400-MTU link between inet and vpc-b's own
 * gateway. It is a link between two routers rather than the 1400 end of w1's veth because a veth does
 * not enforce its MTU on what it receives: TSO super-packets from w1 pass whatever their size, and a
 * single oversized frame (a retransmission, a non-TSO VXLAN packet) is dropped without an ICMP error.
 * Between two routers, every packet is forwarded onto the narrow link in both directions, so it gets
 * what a cloud path gives: "fragmentation needed" for DF packets (TCP) and fragments for the rest
 * (VXLAN, whose outer DF bit is clear). The transit link has no IPv4 addresses (only fe80::1 and fe80::2,
 * as IPv6 next hops), so the lab uses no IPv4 addresses beyond the tables below.
 *
 * Public addresses are TEST-NET-3, private ones RFC 1918, and all of them exist only inside the lab.
 *
 * `buildClusterLab(lab, { overlay: 'none', podMtu })` leaves flannel.1 out (flannel's iptables rules stay)
 * for a test that programs another flannel backend, as test/lab/wireguard.ts does for WireGuard.
 */
import { createHash } from 'node:crypto';
import { installEipNat } from './nat-topology.js';
import type { Lab } from './netns.js';

export const CLUSTER = {
  podCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/12',
  /** flannel's VXLAN MTU (the NIC's 1500 minus 50), which pods get too. */
  podMtu: 1450,
  /** The narrow link on the path between vpc-b and the other VPCs. */
  narrowLinkMtu: 1400,
} as const;

export const VXLAN = { vni: '1', port: '8472', device: 'flannel.1' } as const;

export const NODES = {
  cp: {
    role: 'control-plane',
    vpc: 'vpc-a',
    privateIP: '172.16.1.10',
    publicIP: '203.0.113.10',
    gateway: '172.16.1.1',
    podCidr: '10.244.0.0/24',
    podIP: '10.244.0.2',
    podGateway: '10.244.0.1',
    vtepIP: '10.244.0.0',
    vtepMac: '02:6b:6e:00:00:0a',
  },
  w3: {
    role: 'worker',
    vpc: 'vpc-a',
    privateIP: '172.16.1.11',
    publicIP: '203.0.113.11',
    gateway: '172.16.1.1',
    podCidr: '10.244.3.0/24',
    podIP: '10.244.3.2',
    podGateway: '10.244.3.1',
    vtepIP: '10.244.3.0',
    vtepMac: '02:6b:6e:00:00:0b',
  },
  w1: {
    role: 'worker',
    vpc: 'vpc-b',
    privateIP: '172.16.2.20',
    publicIP: '203.0.113.20',
    gateway: '172.16.2.1',
    podCidr: '10.244.1.0/24',
    podIP: '10.244.1.2',
    podGateway: '10.244.1.1',
    vtepIP: '10.244.1.0',
    vtepMac: '02:6b:6e:00:00:14',
  },
  w2: {
    role: 'worker',
    vpc: 'vpc-c',
    privateIP: '172.16.3.30',
    publicIP: '203.0.113.30',
    gateway: '172.16.3.1',
    podCidr: '10.244.2.0/24',
    podIP: '10.244.2.2',
    podGateway: '10.244.2.1',
    vtepIP: '10.244.2.0',
    vtepMac: '02:6b:6e:00:00:1e',
  },
} as const;

export type NodeName = keyof typeof NODES;
export type NodeInfo = (typeof NODES)[NodeName];
export const NODE_NAMES = Object.keys(NODES) as NodeName[];

/** The nodes that `self` reaches only through the NAT (every node outside its VPC). */
export const peersOutsideVpc = (self: NodeName): NodeName[] => NODE_NAMES.filter((n) => NODES[n].vpc !== NODES[self].vpc);

/** ClusterIP Services with one endpoint each, both on a node's private IP (hostNetwork). */
export const SERVICES = {
  kubernetes: { portName: 'default/kubernetes:https', clusterIP: '10.96.0.1', port: 443, endpoint: { node: 'cp', ip: NODES.cp.privateIP, port: 6443 } },
  /** A hostNetwork pod on w2, a node in a third VPC. */
  remoteHostnet: { portName: 'default/remote-hostnet:http', clusterIP: '10.96.0.50', port: 80, endpoint: { node: 'w2', ip: NODES.w2.privateIP, port: 8080 } },
} as const;

export type ServiceName = keyof typeof SERVICES;

export interface ClusterLab {
  /** The internet and cloud NAT; vpc-a's and vpc-c's gateway. */
  inet: string;
  /** vpc-b's gateway, at the far end of the narrow link. */
  vpcbGateway: string;
  nodes: Record<NodeName, string>;
  pods: Record<NodeName, string>;
}

/** The knit spec for these nodes; flannel's backend is its default (vxlan) unless given. */
export function clusterSpecYaml(opts: { flannelBackend?: 'vxlan' | 'wireguard' } = {}): string {
  const node = (name: NodeName) => {
    const n = NODES[name];
    return `  - { name: ${name}, role: ${n.role}, privateIP: ${n.privateIP}, publicIP: ${n.publicIP}, vpc: ${n.vpc} }`;
  };
  return [
    `kubernetes: { controlPlaneEndpoint: ${NODES.cp.publicIP} }`,
    opts.flannelBackend ? `network: { plugin: flannel, flannel: { backend: ${opts.flannelBackend} } }` : 'network: { plugin: flannel }',
    'nodes:',
    ...NODE_NAMES.map(node),
    '',
  ].join('\n');
}

const PREFIX = 24;
/** The transit link's IPv6 link-local next hops. */
const TRANSIT = { inet: 'fe80::1', vpcb: 'fe80::2' } as const;

/** Runs `ip` commands in one process (one per line). */
const ipBatch = (lab: Lab, ns: string, lines: string[]) => lab.run(ns, ['ip', '-batch', '-'], lines.join('\n') + '\n');

async function buildNetwork(lab: Lab, net: ClusterLab): Promise<void> {
  const { inet, vpcbGateway: vpcb, nodes } = net;
  const uplink = (name: NodeName, dev: string) => [`link add ${dev} type veth peer name eth0 netns ${nodes[name]}`, `link set ${dev} up`];
  await ipBatch(lab, inet, [
    'link add vpc-a type bridge',
    `addr add ${NODES.cp.gateway}/${PREFIX} dev vpc-a`,
    'link set vpc-a up',
    ...uplink('cp', 'to-cp'),
    'link set to-cp master vpc-a',
    ...uplink('w3', 'to-w3'),
    'link set to-w3 master vpc-a',
    ...uplink('w2', 'to-w2'),
    `addr add ${NODES.w2.gateway}/${PREFIX} dev to-w2`,
    `link add to-vpc-b mtu ${CLUSTER.narrowLinkMtu} type veth peer name uplink mtu ${CLUSTER.narrowLinkMtu} netns ${vpcb}`,
    'link set to-vpc-b addrgenmode none',
    `addr add ${TRANSIT.inet}/64 dev to-vpc-b nodad`,
    'link set to-vpc-b up',
  ]);
  await ipBatch(lab, vpcb, [
    ...uplink('w1', 'to-w1'),
    `addr add ${NODES.w1.gateway}/${PREFIX} dev to-w1`,
    'link set uplink addrgenmode none',
    `addr add ${TRANSIT.vpcb}/64 dev uplink nodad`,
    'link set uplink up',
    // an IPv4 route via an IPv6 next hop (written as 0.0.0.0/0: a bare `default via inet6` is an IPv6 route)
    `route add 0.0.0.0/0 via inet6 ${TRANSIT.inet} dev uplink`,
  ]);
  await lab.run(inet, ['ip', 'route', 'add', '172.16.2.0/24', 'via', 'inet6', TRANSIT.vpcb, 'dev', 'to-vpc-b']);
  await Promise.all([inet, vpcb].map((ns) => lab.run(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])));
  // with br_netfilter on, bridged frames would go through iptables and meet FORWARD's drop; a VPC's switch does not filter
  if ((await lab.exec(inet)(['test', '-e', '/proc/sys/net/bridge/bridge-nf-call-iptables'])).exitCode === 0)
    await lab.run(inet, ['sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0']);
  await installEipNat(lab, inet, Object.values(NODES));
}

export interface ClusterLabOptions {
  /**
   * flannel's backend device: `vxlan` (the default) programs flannel.1 with its routes, neighbours and
   * FDB entries; `none` leaves the overlay out (flannel's iptables rules stay) for a test that programs
   * another backend itself, e.g. WireGuard (test/lab/wireguard.ts).
   */
  overlay?: 'vxlan' | 'none';
  /** The pod interfaces' MTU, as flannel hands it to the bridge plugin (FLANNEL_MTU); VXLAN's 1450 by default. */
  podMtu?: number;
}

/** The node's NIC, its pod behind cni0 (as the bridge CNI plugin that flannel delegates to sets it up). */
async function buildNode(lab: Lab, net: ClusterLab, name: NodeName, opts: ClusterLabOptions = {}): Promise<void> {
  const podMtu = opts.podMtu ?? CLUSTER.podMtu;
  const n = NODES[name];
  const ns = net.nodes[name];
  await ipBatch(lab, ns, [
    `addr add ${n.privateIP}/${PREFIX} dev eth0`,
    'link set eth0 up',
    `route add default via ${n.gateway}`,
    'link add cni0 type bridge',
    `addr add ${n.podGateway}/${PREFIX} dev cni0`,
    'link set cni0 up',
    `link add veth-pod mtu ${podMtu} type veth peer name eth0 netns ${net.pods[name]}`,
    'link set veth-pod master cni0',
    'link set veth-pod up',
  ]);
  await ipBatch(lab, net.pods[name], [
    `link set eth0 mtu ${podMtu} up`,
    `addr add ${n.podIP}/${PREFIX} dev eth0`,
    `route add default via ${n.podGateway}`,
  ]);
  await lab.run(ns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  if ((opts.overlay ?? 'vxlan') === 'vxlan') await buildFlannel(lab, ns, name);
  else await installFlannelRules(lab, ns, name);
  await installKubeProxy(lab, ns);
}

/**
 * What flanneld v0.28 (vxlan backend, no public-ip-overwrite) sets up on `self`: the device, and for
 * every other node a route, a neighbour and an FDB entry that sends the VXLAN packets to the peer's
 * PRIVATE IP (flannel-io/flannel pkg/backend/vxlan/device.go and vxlan_network.go).
 */
async function buildFlannel(lab: Lab, ns: string, self: NodeName): Promise<void> {
  const n = NODES[self];
  const peers = NODE_NAMES.filter((p) => p !== self).map((p) => NODES[p]);
  await ipBatch(lab, ns, [
    // noudpcsum: flannel leaves the kernel default (no outer UDP checksum), where iproute2 would turn it on
    `link add ${VXLAN.device} address ${n.vtepMac} mtu ${CLUSTER.podMtu} type vxlan id ${VXLAN.vni} local ${n.privateIP} dev eth0 dstport ${VXLAN.port} nolearning noudpcsum`,
    `addr add ${n.vtepIP}/32 dev ${VXLAN.device}`,
    `link set ${VXLAN.device} up`,
    ...peers.flatMap((p) => [
      `route add ${p.podCidr} via ${p.vtepIP} dev ${VXLAN.device} onlink`,
      `neigh add ${p.vtepIP} lladdr ${p.vtepMac} dev ${VXLAN.device} nud permanent`,
    ]),
  ]);
  await lab.run(ns, ['bridge', '-batch', '-'],
    peers.map((p) => `fdb append ${p.vtepMac} dev ${VXLAN.device} dst ${p.privateIP} self permanent`).join('\n') + '\n');
  await installFlannelRules(lab, ns, self);
}

/** flannel's iptables rules on `self`, as flanneld writes them whenever it starts (again after a reboot). */
export const installFlannelRules = (lab: Lab, ns: string, self: NodeName): Promise<string> =>
  lab.run(ns, ['iptables-restore', '--noflush'], flannelRules(NODES[self].podCidr));

/**
 * flannel's masquerade and forward rules as masqRules (with --random-fully) and forwardRules build them
 * in flannel-io/flannel v0.28.9 pkg/trafficmngr/iptables/iptables.go, applied as flannel applies them:
 * iptables-restore without flushing, its jumps appended to the built-in chains.
 */
function flannelRules(podCidr: string): string {
  const cluster = CLUSTER.podCidr;
  const masq = '-m comment --comment "flanneld masq"';
  const fwd = '-m comment --comment "flanneld forward"';
  return [
    '*nat',
    ':FLANNEL-POSTRTG - [0:0]',
    `-A POSTROUTING ${masq} -j FLANNEL-POSTRTG`,
    // kube-proxy's masquerade mark: its own KUBE-POSTROUTING masquerades these
    `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${masq} -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${podCidr} -d ${cluster} ${masq} -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${cluster} -d ${podCidr} ${masq} -j RETURN`,
    `-A FLANNEL-POSTRTG ! -s ${cluster} -d ${podCidr} ${masq} -j RETURN`,
    // pod traffic leaving the cluster network leaves with the node's address
    `-A FLANNEL-POSTRTG -s ${cluster} ! -d 224.0.0.0/4 ${masq} -j MASQUERADE --random-fully`,
    `-A FLANNEL-POSTRTG ! -s ${cluster} -d ${cluster} ${masq} -j MASQUERADE --random-fully`,
    'COMMIT',
    '*filter',
    ':FLANNEL-FWD - [0:0]',
    `-A FORWARD ${fwd} -j FLANNEL-FWD`,
    `-A FLANNEL-FWD -s ${cluster} ${fwd} -j ACCEPT`,
    `-A FLANNEL-FWD -d ${cluster} ${fwd} -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}

/*
 * kube-proxy in iptables mode, from kubernetes/kubernetes pkg/proxy/iptables/proxier.go (a recent copy,
 * with nfacct metrics: iptablesJumpChains, syncProxyRules, writeServiceToEndpointRules), with the defaults
 * kubeadm gives it: masquerade bit 14 (mark 0x4000), --random-fully, localhost NodePorts on, the
 * local-traffic detector set from clusterCIDR 10.244.0.0/16, nf_conntrack_tcp_be_liberal off (so
 * INVALID is dropped).
 */
const MASQ_MARK = '0x4000';
const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];

export interface IptablesJump {
  table: 'filter' | 'nat';
  /** The built-in chain the jump is in. */
  chain: string;
  /** kube-proxy's chain it jumps to. */
  target: string;
  /** The rule's arguments after `-A <chain>`. */
  rule: string[];
}

const jump = (table: IptablesJump['table'], chain: string, target: string, comment?: string, extra: string[] = []): IptablesJump => ({
  table,
  chain,
  target,
  rule: [...extra, ...(comment ? ['-m', 'comment', '--comment', comment] : []), '-j', target],
});

/** kube-proxy's jumps, in the order it ensures them: each missing one is inserted at the top of its chain. */
export const KUBE_PROXY_JUMPS: readonly IptablesJump[] = [
  jump('filter', 'INPUT', 'KUBE-EXTERNAL-SERVICES', 'kubernetes externally-visible service portals', NEW),
  jump('filter', 'FORWARD', 'KUBE-EXTERNAL-SERVICES', 'kubernetes externally-visible service portals', NEW),
  jump('filter', 'INPUT', 'KUBE-NODEPORTS', 'kubernetes health check service ports'),
  jump('filter', 'FORWARD', 'KUBE-SERVICES', 'kubernetes service portals', NEW),
  jump('filter', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals', NEW),
  jump('filter', 'FORWARD', 'KUBE-FORWARD', 'kubernetes forwarding rules'),
  jump('filter', 'INPUT', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', NEW),
  jump('filter', 'OUTPUT', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', NEW),
  jump('filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', 'kubernetes load balancer firewall', NEW),
  jump('nat', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals'),
  jump('nat', 'PREROUTING', 'KUBE-SERVICES', 'kubernetes service portals'),
  jump('nat', 'POSTROUTING', 'KUBE-POSTROUTING', 'kubernetes postrouting rules'),
  // kube-proxy's copy of kubelet's firewall jumps (iptablesKubeletJumpChains)
  jump('filter', 'INPUT', 'KUBE-FIREWALL'),
  jump('filter', 'OUTPUT', 'KUBE-FIREWALL'),
];

/** The chain kube-proxy's iptables.Monitor creates in each table to notice a flush. */
const CANARY = { chain: 'KUBE-PROXY-CANARY', tables: ['mangle', 'nat', 'filter'] } as const;

/** base32 as Go's base32.StdEncoding writes it, without padding (only the first 16 characters are used). */
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    for (; bits >= 5; bits -= 5) out += alphabet[(value >>> (bits - 5)) & 31];
  }
  return bits > 0 ? out + alphabet[(value << (5 - bits)) & 31] : out;
}

const chainHash = (text: string) => base32(createHash('sha256').update(text).digest()).slice(0, 16);

/** A Service's KUBE-SVC and KUBE-SEP chain names, hashed as kube-proxy hashes them (kubernetes: KUBE-SVC-NPX46M4PTMTKRN6Y). */
export function kubeProxyChains(service: ServiceName): { svc: string; sep: string } {
  const s = SERVICES[service];
  return {
    svc: `KUBE-SVC-${chainHash(`${s.portName}tcp`)}`,
    sep: `KUBE-SEP-${chainHash(`${s.portName}tcp${s.endpoint.ip}:${s.endpoint.port}`)}`,
  };
}

/** What syncProxyRules hands to iptables-restore --noflush for these Services (the same on every node). */
function kubeProxyRules(): string {
  const services = Object.keys(SERVICES) as ServiceName[];
  const serviceRules = services.flatMap((name) => {
    const s = SERVICES[name];
    const { svc, sep } = kubeProxyChains(name);
    const endpoint = `${s.endpoint.ip}:${s.endpoint.port}`;
    const clusterIP = `-m comment --comment "${s.portName} cluster IP" -m tcp -p tcp -d ${s.clusterIP} --dport ${s.port}`;
    return [
      `-A KUBE-SERVICES ${clusterIP} -j ${svc}`,
      `-A ${svc} ${clusterIP} ! -s ${CLUSTER.podCidr} -j KUBE-MARK-MASQ`,
      `-A ${svc} -m comment --comment "${s.portName} -> ${endpoint}" -j ${sep}`,
      `-A ${sep} -m comment --comment ${s.portName} -s ${s.endpoint.ip} -j KUBE-MARK-MASQ`,
      `-A ${sep} -m comment --comment ${s.portName} -m tcp -p tcp -j DNAT --to-destination ${endpoint}`,
    ];
  });
  const serviceChains = services.flatMap((name) => Object.values(kubeProxyChains(name)));
  return [
    '*filter',
    ...['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'].map((c) => `:${c} - [0:0]`),
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'COMMIT',
    '*nat',
    ...['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', ...serviceChains].map((c) => `:${c} - [0:0]`),
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`,
    ...serviceRules,
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    'COMMIT',
    '',
  ].join('\n');
}

/** Arguments as iptables-save prints them: quoted when they hold a space. */
const quoted = (args: readonly string[]) => args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ');

/** A rule as iptables-save and `iptables -S` print it. */
export const savedRule = (chain: string, rule: readonly string[]): string => `-A ${chain} ${quoted(rule)}`;

interface SavedTable {
  chains: Set<string>;
  rules: Set<string>;
}

/** The chains and rules of each table in iptables-save's output. */
function savedTables(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable = { chains: new Set(), rules: new Set() };
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (current = { chains: new Set(), rules: new Set() }));
    else if (line.startsWith(':')) current.chains.add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) current.rules.add(line);
  }
  return tables;
}

/**
 * Starts kube-proxy's rules on a node, as a (re)starting kube-proxy does: creates its chains that are
 * missing (EnsureChain), inserts each missing jump at the top of its built-in chain while jumps already
 * there stay where they are (EnsureRule with Prepend), then rewrites its own chains with
 * iptables-restore --noflush. Works on a fresh node, again on a running one (no change), and after
 * flushKubeProxy (the jumps go back on top, above rules written meanwhile). The checks read one
 * iptables-save and the changes go in one iptables-restore, where kube-proxy runs iptables per rule.
 */
export async function installKubeProxy(lab: Lab, ns: string): Promise<void> {
  const saved = savedTables(await lab.run(ns, ['iptables-save']));
  const table = (name: string) => saved.get(name) ?? saved.set(name, { chains: new Set(), rules: new Set() }).get(name)!;
  // per table, the chains to create, then the jumps to insert at the top
  const changes = new Map<string, { chains: string[]; jumps: string[] }>();
  const changesTo = (name: string) => changes.get(name) ?? changes.set(name, { chains: [], jumps: [] }).get(name)!;
  const ensureChain = (name: string, chain: string) => {
    if (!table(name).chains.has(chain)) changesTo(name).chains.push(`:${chain} - [0:0]`);
    table(name).chains.add(chain);
  };
  for (const name of CANARY.tables) ensureChain(name, CANARY.chain);
  for (const j of KUBE_PROXY_JUMPS) {
    ensureChain(j.table, j.target);
    if (!table(j.table).rules.has(savedRule(j.chain, j.rule))) changesTo(j.table).jumps.push(`-I ${j.chain} 1 ${quoted(j.rule)}`);
  }
  if (changes.size > 0)
    await lab.run(ns, ['iptables-restore', '--noflush'],
      [...changes].flatMap(([name, c]) => [`*${name}`, ...c.chains, ...c.jumps, 'COMMIT', '']).join('\n'));
  await lab.run(ns, ['iptables-restore', '--noflush'], kubeProxyRules());
}

/**
 * Removes every rule and chain kube-proxy wrote on a node and leaves everything else (flannel's rules,
 * rules other software added) in place and in order: the node as if kube-proxy had never run there.
 */
export async function flushKubeProxy(lab: Lab, ns: string): Promise<void> {
  const saved = await lab.run(ns, ['iptables-save']);
  const kept = saved.split('\n').filter((l) => !/^:KUBE-|^-A KUBE-|-j KUBE-/.test(l));
  // a restore without --noflush replaces exactly the tables it lists, all of them here
  await lab.run(ns, ['iptables-restore'], kept.join('\n'));
}

/** A host on the internet that is no node: it reaches nodes at their EIPs, like anyone else. */
export const INTERNET_HOST = { ip: '198.51.100.66', gateway: '198.51.100.1' } as const;

/** Adds INTERNET_HOST, wired to inet (the internet), and returns its namespace. */
export async function addInternetHost(lab: Lab, net: ClusterLab): Promise<string> {
  const ns = await lab.addNamespace('stranger');
  await ipBatch(lab, net.inet, [`link add to-stranger type veth peer name eth0 netns ${ns}`, `addr add ${INTERNET_HOST.gateway}/${PREFIX} dev to-stranger`, 'link set to-stranger up']);
  await ipBatch(lab, ns, [`addr add ${INTERNET_HOST.ip}/${PREFIX} dev eth0`, 'link set eth0 up', `route add default via ${INTERNET_HOST.gateway}`]);
  return ns;
}

/** Builds the whole cluster: routers, nodes, pods, flannel (VXLAN unless `opts.overlay` says none) and kube-proxy. */
export async function buildClusterLab(lab: Lab, opts: ClusterLabOptions = {}): Promise<ClusterLab> {
  const named = async (prefix: string) =>
    Object.fromEntries(await Promise.all(NODE_NAMES.map(async (n) => [n, await lab.addNamespace(`${prefix}${n}`)] as const))) as Record<NodeName, string>;
  const [inet, vpcbGateway, nodes, pods] = await Promise.all([lab.addNamespace('inet'), lab.addNamespace('vpcb'), named(''), named('pod-')]);
  const net: ClusterLab = { inet, vpcbGateway, nodes, pods };
  await buildNetwork(lab, net);
  await Promise.all(NODE_NAMES.map((n) => buildNode(lab, net, n, opts)));
  return net;
}
