/**
 * The cluster spec: one declarative document (knit/v1alpha1 Cluster) that the wizard, a YAML file and
 * flags all produce, and every command consumes. Parsing applies defaults and the cross-field rules,
 * so a `Spec` in hand is always valid.
 */
import * as z from 'zod';

// zod compiles a parser per object schema with `new Function` on first use; knit parses one spec per
// run, so compiling costs more than it saves (about 10 ms of a render), and no code cache holds eval'd code
z.config({ jitless: true });
import { ALICLOUD, CROSSVPC, IMAGE_REPOSITORIES, KUBERNETES, POD_SUBNET_BY_CNI, SPEC_API_VERSION, SPEC_KIND } from '../defaults.js';
import { cidrContains, cidrsOverlap, isIPAddress, isIPv4, isNetworkAligned, isPublicIPv4, parseCidr } from './net.js';

/** zod's own wording for a missing or mistyped value, said plainly. */
const str = (what: string) =>
  z.string({ error: (i) => (i.input === undefined ? `is required (${what})` : `must be a string (${what})`) });

const IMAGE_REGISTRY = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS-1123 subdomain of at most 253 characters (the Kubernetes rule). */
const isDnsName = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
/** The port of `host:port` text, when given, must be 1-65535 (the regexes above allow any 1-5 digits). */
const portInRange = (v: string): boolean => {
  const p = /:(\d+)(?:\/|$)/.exec(v)?.[1];
  return p === undefined || (Number(p) >= 1 && Number(p) <= 65535);
};
/** A registry host[:port][/path], for images: what kubeadm's imageRepository and knit's imageRegistry hold. */
const registry = (example: string) =>
  str(`a registry such as ${example}`)
    .regex(IMAGE_REGISTRY, `must be a registry such as ${example} (host[:port][/path]: lowercase letters, digits, ".", "-", "_")`)
    .refine(portInRange, 'port must be between 1 and 65535');

/**
 * kubeadm's criSocket: a unix:// URL of an absolute path. A bare absolute path is what kubeadm accepts
 * too (it warns and prepends unix://): knit prepends it itself.
 */
const criSocket = str('unix:///path/to/socket')
  .refine((v) => {
    const path = v.startsWith('unix://') ? v.slice('unix://'.length) : v;
    return /^(\/[A-Za-z0-9._-]+)+$/.test(path) && !path.split('/').some((p) => p === '.' || p === '..');
  }, { error: (i) => `${JSON.stringify(i.input)} is not a socket such as unix:///run/containerd/containerd.sock (an absolute path of letters, digits, ".", "-", "_")` })
  .transform((v) => (v.startsWith('unix://') ? v : `unix://${v}`));

/** An API server certificate SAN, as kubeadm validates them: an IP address, a DNS name, or a DNS name under a `*.` wildcard. */
const certSAN = str('a DNS name or IP address').refine((v) => isIPAddress(v) || isDnsName(v.startsWith('*.') ? v.slice(2) : v), {
  error: (i) => `${JSON.stringify(i.input)} is not a DNS name (optionally *.-prefixed) or an IP address`,
});

/** A Go-style regular expression list of calico's interface= and skip-interface= methods: no spaces, each one valid. */
const validRegexes = (list: string): boolean =>
  list.split(',').every((r) => {
    if (r === '') return false;
    try {
      new RegExp(r);
      return true;
    } catch {
      return false;
    }
  });

/**
 * network.calico.ipAutodetectionMethod, as calico-node parses it (node/pkg/lifecycle/startup/autodetection):
 * first-found, kubernetes-internal-ip, can-reach=DEST, interface=REGEX[,REGEX], skip-interface=REGEX[,REGEX],
 * cidr=CIDR[,CIDR]. No whitespace: the value goes into a manifest as it is.
 */
export const isCalicoAutodetection = (v: string): boolean => {
  if (v === 'first-found' || v === 'kubernetes-internal-ip') return true;
  const m = /^(can-reach|interface|skip-interface|cidr)=([\x21-\x7e]+)$/.exec(v);
  if (!m) return false;
  const [, method, arg] = m as unknown as [string, string, string];
  if (method === 'can-reach') return isIPAddress(arg) || isDnsName(arg);
  if (method === 'cidr') return arg.split(',').every((c) => parseCidr(c) !== undefined);
  return validRegexes(arg);
};

/** A node name, as Kubernetes requires it (DNS-1123, at most 63 characters here). */
const nodeName = z
  .string()
  .max(63, 'node names are at most 63 characters')
  .regex(DNS1123_SUBDOMAIN, 'must be a lowercase DNS-1123 name (a-z, 0-9, "-", ".")');

const ipv4 = str('an IPv4 address').refine(isIPv4, {
  error: (i) => `${JSON.stringify(i.input)} is not an IPv4 address`,
  abort: true, // later checks on this field assume a valid address
});
const publicIPv4 = ipv4.refine(isPublicIPv4, {
  error: (i) => `${String(i.input)} is a private or reserved address; a public IP is required`,
});
const cidr = str('a CIDR such as 10.244.0.0/16').superRefine((value, ctx) => {
  const c = parseCidr(value);
  if (!c) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not an IPv4 CIDR (a.b.c.d/n)` });
  else if (!isNetworkAligned(c))
    ctx.addIssue({ code: 'custom', message: `${value} has host bits set; did you mean ${c.network.toString()}/${c.prefix}?` });
});
const port = z.number().int().min(1, 'port must be between 1 and 65535').max(65535, 'port must be between 1 and 65535');

export const parseVersion = (v: string): { major: number; minor: number; patch: number } | undefined => {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
};

/**
 * An unquoted `version: 1.32` is a YAML number, and `1.30` even reads as 1.3: explain rather than guess
 * a patch release (src/spec/load.ts says it with the text as written, when the file has it).
 */
export const versionNumberMessage = (value: number, written = String(value)): string =>
  `${written} is a number${written !== String(value) ? ` (read as ${value})` : /^\d+\.\d$/.test(written) ? ' (a trailing zero is lost: 1.30 reads as 1.3)' : ''}; ` +
  `write a full version in quotes, such as "${KUBERNETES.defaultVersion}"`;

const version = z.string({
  error: (i) => (typeof i.input === 'number' ? versionNumberMessage(i.input) : `must be a string (a version such as ${KUBERNETES.defaultVersion})`),
}).superRefine((v, ctx) => {
  const p = parseVersion(v);
  if (!p) return void ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a version like 1.32.4` });
  if (p.major !== 1 || p.minor < KUBERNETES.minMinor || p.minor > KUBERNETES.maxMinor)
    ctx.addIssue({
      code: 'custom',
      message: `Kubernetes ${v} is not supported (knit supports 1.${KUBERNETES.minMinor} to 1.${KUBERNETES.maxMinor})`,
    });
});

/** host[:port], host being an IPv4 address or a DNS name. The port defaults to 6443. */
const endpoint = str('HOST[:PORT]').superRefine((v, ctx) => {
  const m = /^([^:]+)(?::(\d+))?$/.exec(v);
  const host = m?.[1] ?? '';
  if (!m || !(isIPv4(host) || (DNS1123_SUBDOMAIN.test(host) && !/^[\d.]+$/.test(host))))
    return void ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not HOST[:PORT]` });
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))
    ctx.addIssue({ code: 'custom', message: `port ${m[2]} is out of range (1-65535)` });
});

export const CNI_PLUGINS = ['flannel', 'calico', 'terway', 'canal'] as const;
export type CniPlugin = (typeof CNI_PLUGINS)[number];

const flannel = z
  .object({
    backend: z.enum(['vxlan', 'host-gw', 'wireguard']).default('vxlan'),
    vni: z.number().int().min(1).max(16777215).default(1),
    port: port.default(8472),
    directRouting: z.boolean().default(false),
    mtu: z.number().int().min(576).max(9000).optional(),
  })
  .strict();

const calico = z
  .object({
    mode: z.enum(['ipip', 'crosssubnet', 'bgp', 'vxlan']).default('ipip'),
    ipAutodetectionMethod: str('a calico IP autodetection method')
      .refine(isCalicoAutodetection, {
        error: (i) =>
          `${JSON.stringify(i.input)} is not a calico autodetection method (first-found, kubernetes-internal-ip, can-reach=DEST, interface=REGEX, skip-interface=REGEX, cidr=CIDR[,CIDR])`,
      })
      .default('kubernetes-internal-ip'),
    mtu: z.number().int().min(576).max(9000).optional(),
    asNumber: z.number().int().min(1).max(4294967295).default(64512),
    nodeToNodeMesh: z.boolean().default(true),
    /** Names of nodes in `nodes`. */
    routeReflectors: z.array(nodeName).default([]),
    peers: z.array(z.object({ ip: ipv4, asNumber: z.number().int().min(1).max(4294967295) }).strict()).default([]),
  })
  .strict();

/** Canal: flannel's VXLAN data path (its only backend in canal) with Calico's NetworkPolicy (felix). */
const canal = z
  .object({
    vni: z.number().int().min(1).max(16777215).default(1),
    port: port.default(8472),
    /** Pod MTU for every node; unset, each node derives it from flannel.1 (its interface MTU minus VXLAN's 50). */
    mtu: z.number().int().min(576).max(9000).optional(),
  })
  .strict();

const terway = z
  .object({
    mode: z.enum(['eniip', 'eni']).default('eniip'),
    vswitches: z.record(z.string(), z.array(z.string())).default({}),
    securityGroups: z.array(z.string()).default([]),
    /**
     * NetworkPolicy through felix (Calico's CRDs). Default: on in eniip mode; exclusive ENI pods bypass
     * the host (terway's policy container runs no engine on eniOnly nodes), so `mode: eni` has none.
     */
    networkPolicy: z.boolean().optional(),
    /**
     * Exclusive ENI mode: the cluster id terway-controlplane tags the ENIs it creates with, and garbage
     * collects by (unique per cluster in a VPC). Default: knit-<hash of the control plane endpoint>.
     */
    clusterId: z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be up to 63 letters, digits, "-", "_", "." (alphanumeric at both ends), such as knit-prod').optional(),
    /** ram-role: the ECS instance RAM role (no key in the cluster); access-key: the ALIBABA_CLOUD_* env, as a Secret. */
    credentials: z.enum(['ram-role', 'access-key']).default('ram-role'),
    vswitchSelectionPolicy: z.enum(['ordered', 'random']).default('ordered'),
    minPoolSize: z.number().int().min(0).default(0),
    maxPoolSize: z.number().int().min(0).default(5),
    /** Pods planned per node: preflight and max-pods warn when an instance type's ENIs hold fewer. */
    podsPerNode: z.number().int().min(1).default(ALICLOUD.defaultPodsPerNode),
  })
  .strict()
  .transform((t) => ({ ...t, networkPolicy: t.networkPolicy ?? t.mode !== 'eni' }));

/** An API endpoint: host[:port], or a URL whose scheme picks http or https (VPC endpoints, proxies, tests). */
const apiEndpoint = str('HOST[:PORT] or http(s)://HOST[:PORT]')
  .regex(
    /^(https?:\/\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?\/?$/i,
    'must be HOST[:PORT] or http(s)://HOST[:PORT], such as ecs-vpc.cn-hangzhou.aliyuncs.com',
  )
  .refine(portInRange, 'port must be between 1 and 65535');

const alicloud = z
  .object({
    /** The region of the ECS instances, e.g. cn-hangzhou (detected from the metadata service on ECS). */
    region: z.string().regex(/^[a-z]+(-[a-z0-9]+)+$/, 'must be a region id such as cn-hangzhou').optional(),
    /** The cluster's VPC, e.g. vpc-bp1abc (detected on ECS); terway-controlplane needs it in exclusive ENI mode. */
    vpcId: z.string().regex(/^vpc-[a-z0-9]+$/, 'must be a VPC id such as vpc-bp1abc').optional(),
    /** The ECS API endpoint (default: the SDK's public endpoint for the region). */
    endpoint: apiEndpoint.optional(),
    /** The VPC API endpoint (default: the SDK's public endpoint for the region). */
    vpcEndpoint: apiEndpoint.optional(),
  })
  .strict();

export const nodeSchema = z
  .object({
    name: nodeName,
    role: z.enum(['control-plane', 'worker']).default('worker'),
    privateIP: ipv4,
    publicIP: publicIPv4.optional(),
    /** Nodes with the same vpc label reach each other privately; unlabelled nodes are grouped by /24. */
    vpc: z
      .string()
      .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be a label value (up to 63 letters, digits, "-", "_", "."; alphanumeric at both ends), such as vpc-bp1abc')
      .optional(),
    /** Hybrid clusters: a node outside Alibaba Cloud, which runs network.hybrid.externalPlugin instead of Terway. */
    external: z.boolean().optional(),
    /** ECS facts (detected from the metadata service): kubelet's provider-id and topology labels. */
    instanceId: z.string().regex(/^i-[a-z0-9]+$/, 'must be an ECS instance id such as i-bp1abc').optional(),
    instanceType: z.string().regex(/^ecs\.[a-z0-9][-a-z0-9.]*$/, 'must be an ECS instance type such as ecs.g7.large').optional(),
    zone: z.string().regex(/^[a-z]+(-[a-z0-9]+)+$/, 'must be a zone id such as cn-hangzhou-h').optional(),
    /** kubelet's maxPods (for Terway: what the instance type's ENIs hold plus host-network pods). */
    maxPods: z.number().int().min(1).max(ALICLOUD.maxPodsLimit).optional(),
  })
  .strict();

type SpecShape = { network: { plugin: string; calico: z.output<typeof calico>; hybrid?: { externalPlugin: string } | undefined }; nodes: { name: string }[] };

/**
 * Calico settings under which nodes exchange no routes. In the BIRD modes (ipip, crosssubnet, bgp) pod
 * routes travel over BGP: without the node-to-node mesh, only route reflectors or external peers carry
 * them, and a route reflector must be a node of the cluster. In vxlan mode there is no BIRD (Felix
 * programs the routes itself): the BGP settings are unused there, so nothing is refused.
 */
function calicoRoutingIssues(s: SpecShape, issue: (path: (string | number)[], message: string) => void): void {
  const inUse = s.network.plugin === 'calico' || (s.network.plugin === 'terway' && s.network.hybrid?.externalPlugin === 'calico');
  const c = s.network.calico;
  if (!inUse || c.mode === 'vxlan') return;
  if (!c.nodeToNodeMesh && c.routeReflectors.length === 0 && c.peers.length === 0)
    issue(['network', 'calico', 'nodeToNodeMesh'], `false with no routeReflectors and no peers: in ${c.mode} mode the nodes would exchange no routes (keep the mesh, or name route reflectors or BGP peers)`);
  const names = new Set(s.nodes.map((n) => n.name));
  c.routeReflectors.forEach((rr, i) => {
    if (!names.has(rr)) issue(['network', 'calico', 'routeReflectors', i], `${rr} is not the name of a node in nodes`);
  });
}

export const specSchema = z
  .object({
    apiVersion: z.literal(SPEC_API_VERSION, { error: `must be ${SPEC_API_VERSION}` }).default(SPEC_API_VERSION),
    kind: z.literal(SPEC_KIND, { error: `must be ${SPEC_KIND}` }).default(SPEC_KIND),
    kubernetes: z
      .object({
        version: version.default(KUBERNETES.defaultVersion),
        controlPlaneEndpoint: endpoint,
        podSubnet: cidr.optional(),
        serviceSubnet: cidr.default(KUBERNETES.serviceSubnet),
        dnsDomain: z.string().regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 domain').default(KUBERNETES.dnsDomain),
        imageRepository: registry('registry.k8s.io').optional(),
        criSocket: criSocket.default(KUBERNETES.criSocket),
        certSANs: z.array(certSAN).default([]),
      })
      .strict(),
    network: z
      .object({
        plugin: z.enum(CNI_PLUGINS, { error: (i) => `unknown CNI ${JSON.stringify(i.input)} (choose ${CNI_PLUGINS.join(', ')})` }),
        flannel: flannel.prefault({}),
        calico: calico.prefault({}),
        terway: terway.prefault({}),
        canal: canal.prefault({}),
        /** Hybrid clusters: Terway on ECS nodes, this plugin on the nodes marked `external`. */
        hybrid: z
          .object({
            externalPlugin: z.enum(['flannel', 'calico']),
            /**
             * What the VPC routes the external nodes' pods (kubernetes.podSubnet) to: the VPN gateway, the
             * router interface of an Express Connect circuit, or a gateway instance that reaches them
             * (CreateRouteEntry's NextHopType and NextHopId). knit prints and checks the route; it does not create it.
             */
            nextHop: z
              .object({
                type: z.enum(['VpnGateway', 'RouterInterface', 'Instance', 'HaVip', 'NetworkInterface', 'Attachment', 'Ecr']),
                id: z.string().regex(/^[a-z][a-z0-9]*(-[A-Za-z0-9]+)+$/, 'must be a resource id such as vpn-bp1abc or ri-bp1abc'),
              })
              .strict()
              .optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({ plugin: 'flannel' }),
    /** `cn` switches every image to registries reachable from mainland China. */
    mirror: z.enum(['none', 'cn']).default('none'),
    /** A private registry holding every image under its upstream path (host[:port][/prefix]). */
    imageRegistry: registry('registry.example.com:5000/mirror').optional(),
    alicloud: alicloud.optional(),
    /** Nodes in different VPCs: the path MTU between them (TCP to mapped peers is clamped to MTU - 40). */
    crossvpc: z
      .object({ mtu: z.number().int().min(576).max(9000).default(CROSSVPC.defaultMtu) })
      .strict()
      .prefault({}),
    nodes: z
      .array(nodeSchema)
      .min(1, 'at least one node is required')
      .max(KUBERNETES.maxNodes, { error: (i) => `${(i.input as unknown[]).length} nodes; Kubernetes supports at most ${KUBERNETES.maxNodes}` }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const pod = parseCidr(s.kubernetes.podSubnet ?? POD_SUBNET_BY_CNI[s.network.plugin] ?? '');
    const svc = parseCidr(s.kubernetes.serviceSubnet);
    if (!pod || !svc) return;
    if (pod.prefix > KUBERNETES.nodeCidrMaskSize)
      issue(['kubernetes', 'podSubnet'], `${pod.text} is smaller than the /${KUBERNETES.nodeCidrMaskSize} each node is given`);
    if (svc.prefix < KUBERNETES.maxServiceSubnetPrefix)
      issue(['kubernetes', 'serviceSubnet'], `${svc.text} is larger than /${KUBERNETES.maxServiceSubnetPrefix}, the most the apiserver allows`);
    // blame the field the user wrote: the pod subnet when given, else the service subnet (the pod subnet is the CNI's default)
    if (cidrsOverlap(pod, svc)) {
      if (s.kubernetes.podSubnet !== undefined) issue(['kubernetes', 'podSubnet'], `${pod.text} overlaps kubernetes.serviceSubnet ${svc.text}`);
      else issue(['kubernetes', 'serviceSubnet'], `${svc.text} overlaps kubernetes.podSubnet ${pod.text} (${s.network.plugin}'s default)`);
    }
    if (s.network.hybrid && s.network.plugin !== 'terway')
      issue(['network', 'hybrid'], `hybrid clusters run Terway on ECS nodes; network.plugin is ${s.network.plugin}`);
    s.nodes.forEach((n, i) => {
      if (n.external && !s.network.hybrid) issue(['nodes', i, 'external'], 'external nodes need network.hybrid.externalPlugin');
      if (n.instanceId && !s.alicloud?.region) issue(['alicloud', 'region'], `is required with nodes[${i}].instanceId (kubelet's provider-id is <region>.<instance id>)`);
    });
    calicoRoutingIssues(s, issue);
    if (s.network.terway.minPoolSize > s.network.terway.maxPoolSize)
      issue(['network', 'terway', 'minPoolSize'], `${s.network.terway.minPoolSize} is above network.terway.maxPoolSize ${s.network.terway.maxPoolSize}`);
    if (s.network.plugin === 'terway' && s.network.terway.mode === 'eni' && s.network.terway.networkPolicy)
      issue(['network', 'terway', 'networkPolicy'], 'exclusive ENI mode enforces no NetworkPolicy: pod traffic leaves through the pod\'s own ENI, past the host, and terway runs no policy engine on eniOnly nodes; filter with the ENIs\' security groups (network.terway.securityGroups) and set networkPolicy: false, or use mode: eniip');
    const seenNames = new Map<string, number>();
    const seenIPs = new Map<string, string>();
    s.nodes.forEach((n, i) => {
      const prev = seenNames.get(n.name);
      if (prev !== undefined) issue(['nodes', i, 'name'], `${n.name} is also the name of nodes[${prev}]`);
      seenNames.set(n.name, i);
      for (const field of ['privateIP', 'publicIP'] as const) {
        const ip = n[field];
        // zod runs this refinement even when a field already failed: look only at valid addresses
        if (ip === undefined || !isIPv4(ip)) continue;
        const where = `nodes[${i}].${field}`;
        const other = seenIPs.get(ip);
        if (other !== undefined) issue(['nodes', i, field], `${ip} is also ${other}`);
        seenIPs.set(ip, where);
        for (const [net, name] of [[pod, 'podSubnet'], [svc, 'serviceSubnet']] as const)
          if (cidrContains(net, ip)) issue(['nodes', i, field], `${ip} lies inside kubernetes.${name} ${net.text}`);
      }
    });
  })
  .transform((s) => ({
    ...s,
    kubernetes: {
      ...s.kubernetes,
      podSubnet: s.kubernetes.podSubnet ?? POD_SUBNET_BY_CNI[s.network.plugin],
      imageRepository: s.kubernetes.imageRepository ?? s.imageRegistry ?? IMAGE_REPOSITORIES[s.mirror === 'cn' ? 'cn' : 'default'],
      controlPlaneEndpoint: /:\d+$/.test(s.kubernetes.controlPlaneEndpoint)
        ? s.kubernetes.controlPlaneEndpoint
        : `${s.kubernetes.controlPlaneEndpoint}:${KUBERNETES.apiServerPort}`,
    },
  }));

/** What the user writes (every defaulted field optional). */
export type SpecInput = z.input<typeof specSchema>;
/** A validated spec with every default applied. */
export type Spec = z.output<typeof specSchema>;
export type NodeSpec = Spec['nodes'][number];
