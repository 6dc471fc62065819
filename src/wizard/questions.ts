/**
 * The wizard's questions, pure: choices with a one-line explanation each, defaults derived from what
 * was detected on this host, and validators answering the way inquirer expects (true, or the message
 * to show). Field formats come from the spec's own schema and cross-field rules from parsing the
 * answers so far (`specVerdict`), so the wizard and `--config` can never disagree.
 */
import { JOIN_FORMATS } from '../kubeadm/join-command.js';
import type * as z from 'zod';
import { IMAGE_MIRRORS, IMAGE_REPOSITORIES, KUBERNETES } from '../defaults.js';
import { formatPath } from '../spec/load.js';
import { nodeSchema, specSchema, type CniPlugin, type Spec, type SpecInput } from '../spec/schema.js';

/** What knit found out about this host before asking anything. */
export interface Detected {
  hostname: string;
  /** IPv4 addresses on this host's NICs (not lo). */
  interfaces: { name: string; ip: string }[];
  /** Best guess: ECS metadata private-ipv4, else the default-route NIC. */
  privateIP?: string;
  /** The ECS EIP from metadata, when there is one. */
  publicIP?: string;
  ecs?: { regionId: string; zoneId: string; instanceId: string; instanceType: string; vpcId: string; vswitchId: string };
  /** Why ECS detection failed (shown to the user once). */
  notOnEcs?: string;
}

export interface Choice<Value> {
  value: Value;
  name: string;
  description: string;
}

/** inquirer's validator contract: true, or the message shown under the answer. */
export type Verdict = true | string;
export type Validator = (value: string) => Verdict;

export function describeDetected(d: Detected): string[] {
  const nics = d.interfaces.map((i) => `${i.name} ${i.ip}`).join(', ') || 'no IPv4 address found';
  const eip = d.publicIP ? `, EIP ${d.publicIP}` : '';
  return [
    `This host: ${d.hostname} (${nics})`,
    d.ecs
      ? `ECS instance ${d.ecs.instanceId} (${d.ecs.instanceType}) in ${d.ecs.zoneId}, ${d.ecs.vpcId}, ${d.ecs.vswitchId}${eip}`
      : `Not on ECS: ${d.notOnEcs ?? 'no instance metadata'}`,
    'Defaults come from what was detected: press Enter to accept one.',
  ];
}

// ---- choices ----

export type MachineRole = 'control-plane' | 'worker' | 'additional-control-plane';

export const ROLE_CHOICES: Choice<MachineRole>[] = [
  { value: 'control-plane', name: 'Control plane of a new cluster', description: 'kubeadm init here: API server, etcd and the pod network' },
  { value: 'worker', name: 'Worker joining a cluster', description: 'needs the endpoint, token and CA hash that `knit init` printed' },
  {
    value: 'additional-control-plane',
    name: 'Additional control plane joining a cluster',
    description: 'high availability; also needs the certificate key from `knit init --show-certificate-key`',
  },
];

export const PEER_ROLE_CHOICES: Choice<Spec['nodes'][number]['role']>[] = [
  { value: 'worker', name: 'Worker', description: 'runs pods' },
  { value: 'control-plane', name: 'Control plane', description: 'runs the API server and etcd' },
];

type CalicoMode = Spec['network']['calico']['mode'];
type FlannelBackend = Spec['network']['flannel']['backend'];
export type NetworkChoice = 'flannel' | 'flannel-wireguard' | `calico-${CalicoMode}` | 'canal' | 'terway';

/** Each pod network knit offers: the spec's plugin (and Calico mode or flannel backend), and when to pick it. */
export const NETWORKS: Record<NetworkChoice, { plugin: CniPlugin; calicoMode?: CalicoMode; flannelBackend?: FlannelBackend; name: string; description: string }> = {
  flannel: { plugin: 'flannel', name: 'Flannel VXLAN', description: 'simplest; works across VPCs and clouds over public IPs, unencrypted' },
  'flannel-wireguard': {
    plugin: 'flannel',
    flannelBackend: 'wireguard',
    name: 'Flannel WireGuard',
    description: 'encrypts pod traffic between nodes (UDP 51820; kernel 5.6+ or the wireguard module); works across VPCs and clouds over public IPs',
  },
  'calico-ipip': {
    plugin: 'calico',
    calicoMode: 'ipip',
    name: 'Calico IPIP (Always)',
    description: 'encapsulates all pod traffic; NetworkPolicy; one VPC only (its routes point at private IPs: knit refuses it across VPCs)',
  },
  'calico-crosssubnet': {
    plugin: 'calico',
    calicoMode: 'crosssubnet',
    name: 'Calico CrossSubnet',
    description: 'IPIP only between subnets, native routing inside one; needs source/dest check off or VPC routes; one VPC only',
  },
  'calico-bgp': {
    plugin: 'calico',
    calicoMode: 'bgp',
    name: 'Calico BGP',
    description: 'no encapsulation; needs an L2/routable network or route entries; one VPC only',
  },
  'calico-vxlan': { plugin: 'calico', calicoMode: 'vxlan', name: 'Calico VXLAN', description: 'VXLAN instead of IPIP, without BGP; NetworkPolicy; works across VPCs, unencrypted' },
  canal: {
    plugin: 'canal',
    name: 'Canal (flannel VXLAN + Calico policy)',
    description: "flannel's VXLAN data path with Calico's NetworkPolicy; works across VPCs, unencrypted (UDP 8472)",
  },
  terway: {
    plugin: 'terway',
    name: 'Terway',
    description: 'Alibaba Cloud ENI: pods get VPC IPs; ECS only, needs ENI quota and a RAM role; one VPC only',
  },
};

/** What the answers so far say about where the nodes are. */
export interface NetworkContext {
  /** Some node is outside this node's VPC: pod traffic between them crosses the internet over public IPs. */
  acrossVpcs?: boolean;
}

/**
 * Across VPCs, flannel's WireGuard backend comes first as the recommendation (pod traffic crosses the
 * internet; it encrypts it). Otherwise Terway is the recommended first choice on ECS; off ECS it comes
 * last, marked as not fitting this host.
 */
export function networkChoices(d: Detected, ctx: NetworkContext = {}): Choice<NetworkChoice>[] {
  const choice = (value: NetworkChoice, suffix = ''): Choice<NetworkChoice> => ({
    value,
    name: NETWORKS[value].name + suffix,
    description: NETWORKS[value].description,
  });
  const keys = Object.keys(NETWORKS) as NetworkChoice[];
  const others = (...not: NetworkChoice[]) => keys.filter((k) => !not.includes(k)).map((k) => choice(k));
  if (ctx.acrossVpcs) return [choice('flannel-wireguard', ' (recommended across VPCs)'), ...others('flannel-wireguard', 'terway'), choice('terway', ' (not across VPCs)')];
  return d.ecs ? [choice('terway', ' (recommended on ECS)'), ...others('terway')] : [...others('terway'), choice('terway', ' (this host is not on ECS)')];
}

export function defaultNetwork(d: Detected, initial?: SpecInput['network'], ctx: NetworkContext = {}): NetworkChoice {
  if (initial?.plugin === 'calico') return `calico-${initial.calico?.mode ?? 'ipip'}`;
  if (initial?.plugin === 'flannel') return initial.flannel?.backend === 'wireguard' ? 'flannel-wireguard' : 'flannel';
  if (initial?.plugin) return initial.plugin;
  if (ctx.acrossVpcs) return 'flannel-wireguard';
  return d.ecs ? 'terway' : 'flannel';
}

/**
 * Said once the nodes are known, when they span VPCs: the recommendation for a flannel VXLAN cluster
 * (pod traffic crosses the internet in clear), or why the chosen network cannot work there (knit
 * refuses it; `refusal` is that message).
 */
export function acrossVpcsNote(network: NonNullable<SpecInput['network']>, refusal: string | undefined): string | undefined {
  if (refusal) return `warning: the nodes span VPCs, and ${refusal}`;
  if (network.plugin === 'canal')
    return "note: the nodes span VPCs, so pod traffic crosses the internet, unencrypted with canal's VXLAN: flannel's WireGuard backend encrypts it (network.plugin: flannel, network.flannel.backend: wireguard; UDP 51820 between nodes, kernel 5.6+), without Calico's NetworkPolicy";
  if (network.plugin === 'flannel' && (network.flannel?.backend ?? 'vxlan') === 'vxlan')
    return "note: the nodes span VPCs, so pod traffic crosses the internet, unencrypted with VXLAN: flannel's WireGuard backend encrypts it (network.flannel.backend: wireguard; UDP 51820 between nodes, kernel 5.6+)";
  return undefined;
}

export const TERWAY_MODE_CHOICES: Choice<Spec['network']['terway']['mode']>[] = [
  { value: 'eniip', name: 'ENI multi-IP (eniip)', description: 'pods share ENIs, one secondary vSwitch IP each; many pods per node' },
  { value: 'eni', name: 'Exclusive ENI (eni)', description: 'one ENI per pod: best performance; pods per node limited by the ENI quota' },
];

export const MIRROR_CHOICES: Choice<Spec['mirror']>[] = [
  { value: 'none', name: 'Upstream registries', description: `${IMAGE_REPOSITORIES.default}, docker.io, quay.io, ghcr.io` },
  {
    value: 'cn',
    name: 'Mirrors for mainland China',
    description: `Kubernetes from ${IMAGE_REPOSITORIES.cn}, other images through ${IMAGE_MIRRORS.cn.prefix}`,
  },
];

/** Mainland China regions pull through mirrors; Hong Kong reaches the upstream registries directly. */
export const defaultMirror = (d: Detected): Spec['mirror'] =>
  d.ecs?.regionId.startsWith('cn-') && d.ecs.regionId !== 'cn-hongkong' ? 'cn' : 'none';

export const defaultNodeName = (d: Detected): string => d.hostname.toLowerCase();

/** What the other nodes reach: the public IP when there is one. */
export const defaultEndpoint = (node: { privateIP: string; publicIP?: string }): string =>
  `${node.publicIP ?? node.privateIP}:${KUBERNETES.apiServerPort}`;

// ---- validators ----

/** A validator from one field of the spec's schema: its own message for a bad value. */
const byField =
  (schema: z.ZodType): Validator =>
  (value) => {
    const result = schema.safeParse(value);
    return result.success || result.error.issues[0]!.message;
  };

const kubernetesFields = specSchema.in.shape.kubernetes.shape;

export const validateNodeName = byField(nodeSchema.shape.name);
export const validatePrivateIP = byField(nodeSchema.shape.privateIP);
export const validateVersion = byField(kubernetesFields.version);
export const validateEndpoint = byField(kubernetesFields.controlPlaneEndpoint);

/** Optional: empty means none. */
export const validatePublicIP: Validator = (value) => value === '' || byField(nodeSchema.shape.publicIP)(value);

/** A new node's name: the spec's format, and not taken (said as typed, before the node is complete). */
export const validateNewNodeName =
  (taken: readonly string[]): Validator =>
  (value) => {
    const verdict = validateNodeName(value);
    return verdict !== true ? verdict : taken.includes(value) ? `${value} is already a node of this cluster` : true;
  };


const matching =
  (re: RegExp, expected: string): Validator =>
  (value) =>
    re.test(value) || expected;

export const validateToken = matching(JOIN_FORMATS.token, 'a bootstrap token looks like abcdef.0123456789abcdef (a-z, 0-9)');
export const validateCaCertHash = matching(JOIN_FORMATS.caCertHash, 'a CA certificate hash looks like sha256:<64 hex digits>');
export const validateCertificateKey = matching(JOIN_FORMATS.certificateKey, 'a certificate key is 64 hex digits');
export const validateZone = matching(/^[a-z]+-[a-z0-9-]+$/, 'a zone ID looks like cn-hangzhou-h');

/** "vsw-a, vsw-b" → ["vsw-a", "vsw-b"] */
export const splitList = (value: string): string[] => value.split(/[\s,]+/).filter(Boolean);

const listOf =
  (prefix: string, what: string, optional: boolean): Validator =>
  (value) => {
    const items = splitList(value);
    if (items.length === 0) return optional || `at least one ${what} ID (${prefix}…)`;
    const bad = items.find((id) => !new RegExp(`^${prefix}[a-z0-9]+$`).test(id));
    return bad === undefined || `${bad} is not a ${what} ID (${prefix}…)`;
  };

export const validateVswitches = listOf('vsw-', 'vSwitch', false);
export const validateSecurityGroups = listOf('sg-', 'security group', true);

/**
 * The spec's verdict on one field of a draft: the answers so far with the typed value in place. Rules
 * between fields live in the schema's refinement, which reports them on one field and names the other
 * in its message ("… overlaps kubernetes.serviceSubnet …", "… lies inside kubernetes.podSubnet …"), so
 * an issue belongs to this question when it is on `path` or names it. The refinement runs only when
 * every field parses, so the draft must be complete apart from the question being asked.
 */
export function specVerdict(draft: SpecInput, path: readonly (string | number)[]): Verdict {
  const result = specSchema.safeParse(draft);
  if (result.success) return true;
  const field = formatPath(path);
  const own = result.error.issues.find((i) => formatPath(i.path) === field);
  if (own) return own.message;
  const issue = result.error.issues.find((i) => i.message.includes(field));
  if (!issue) return true;
  const [top, index] = issue.path;
  const node = top === 'nodes' && typeof index === 'number' ? draft.nodes[index] : undefined;
  return `${node ? `node ${node.name}` : formatPath(issue.path)}: ${issue.message}`;
}
