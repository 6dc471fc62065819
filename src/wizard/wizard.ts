/**
 * The interactive wizard: asks only what detection cannot know, each answer checked as it is typed,
 * and returns the answers; the command shows the plan, confirms and saves. Ctrl-C rejects a prompt
 * with @inquirer's ExitPromptError, which propagates unchanged (the CLI maps it to exit 130).
 */
import type { confirm, input, select } from '@inquirer/prompts';
import { KUBERNETES, POD_SUBNET_BY_CNI, SPEC_API_VERSION, SPEC_KIND } from '../defaults.js';
import { checkCniAcrossVpcs } from '../crossvpc/cni-support.js';
import { hasPeersOutsideVpc, needsPublicIp, sameVpc } from '../crossvpc/peers.js';
import { specSchema, type CniPlugin, type NodeSpec, type SpecInput } from '../spec/schema.js';
import {
  acrossVpcsNote,
  defaultEndpoint,
  defaultMirror,
  defaultNetwork,
  defaultNodeName,
  describeDetected,
  MIRROR_CHOICES,
  NETWORKS,
  networkChoices,
  PEER_ROLE_CHOICES,
  ROLE_CHOICES,
  specVerdict,
  splitList,
  TERWAY_MODE_CHOICES,
  validateCaCertHash,
  validateCertificateKey,
  validateEndpoint,
  validateNewNodeName,
  validatePrivateIP,
  validatePublicIP,
  validateSecurityGroups,
  validateToken,
  validateVersion,
  validateVswitches,
  validateZone,
  type Choice,
  type Detected,
  type Validator,
} from './questions.js';

export type { Detected } from './questions.js';

/** The prompt functions, injectable for tests; by default @inquirer/prompts' own. */
export interface Prompts {
  input: typeof input;
  select: typeof select;
  confirm: typeof confirm;
}

export interface WizardDeps {
  detected: Detected;
  prompts?: Prompts;
  print?: (line: string) => void;
  /** A spec from --config: answers default to it, and what is not asked is kept. */
  initial?: SpecInput;
}

export interface WizardAnswers {
  role: 'control-plane' | 'worker';
  /** Loads with loadSpec without error. */
  spec: SpecInput;
  /** Name of this node in spec.nodes. */
  localNode: string;
  /** For a worker or an additional control plane. */
  join?: { endpoint: string; token: string; caCertHash: string; controlPlane?: boolean; certificateKey?: string };
}

type NodeInput = SpecInput['nodes'][number];

/** A node as answered so far, as the VPC rule reads it (only its private IP and vpc label count). */
const asNode = (n: NodeInput): NodeSpec => ({ ...n, role: n.role ?? 'worker' });

/**
 * Once the nodes are known: across VPCs, recommend encryption to a control plane choosing flannel
 * VXLAN, and warn anyone whose network knit's cross-VPC phase would refuse.
 */
function noteAcrossVpcs(draft: SpecInput, local: NodeSpec, joining: boolean): string | undefined {
  const parsed = specSchema.safeParse(draft);
  if (!parsed.success || !hasPeersOutsideVpc(parsed.data, local)) return undefined;
  let refusal: string | undefined;
  try {
    checkCniAcrossVpcs(parsed.data);
  } catch (e) {
    refusal = (e as Error).message;
  }
  // a joining node cannot change the cluster's network: it only hears why it will not work
  return refusal || !joining ? acrossVpcsNote(draft.network ?? { plugin: 'flannel' }, refusal) : undefined;
}

/** The select value that switches to typing an address that no NIC has. */
const ANOTHER_ADDRESS = 'another';

export async function askCluster(deps: WizardDeps): Promise<WizardAnswers> {
  const { detected, initial } = deps;
  const print = deps.print ?? ((line: string) => console.log(line));
  const ask = asker(deps.prompts ?? (await import('@inquirer/prompts')));
  for (const line of describeDetected(detected)) print(line);

  // 1-2. the role and this node
  const fromConfig = initial?.nodes.find((n) => n.name === defaultNodeName(detected) || detected.interfaces.some((i) => i.ip === n.privateIP));
  const configuredAsWorker = fromConfig !== undefined && (fromConfig.role ?? 'worker') === 'worker';
  const machine = await ask.choose('This machine is', ROLE_CHOICES, configuredAsWorker ? 'worker' : 'control-plane');
  const joining = machine !== 'control-plane';
  const role = machine === 'worker' ? 'worker' : 'control-plane';
  const otherNodes = initial?.nodes.filter((n) => n !== fromConfig) ?? [];
  const local = await askThisNode(ask, detected, role, fromConfig, otherNodes);

  // The answers so far, as a spec: validators parse it with the typed value in place.
  const draft: SpecInput = {
    apiVersion: SPEC_API_VERSION,
    kind: SPEC_KIND,
    ...initial,
    kubernetes: { ...initial?.kubernetes, controlPlaneEndpoint: initial?.kubernetes.controlPlaneEndpoint ?? '' },
    nodes: fromConfig ? initial!.nodes.map((n) => (n === fromConfig ? local : n)) : [...otherNodes, local],
  };

  // 7, asked first when joining: what `knit init` printed (its endpoint completes the draft)
  const join = joining ? await askJoin(ask, draft, machine === 'additional-control-plane') : undefined;

  // 3-4. the cluster; a joining node needs it too (its join configuration's API version, the CNI's node labels and checks)
  const ofCluster = joining ? ' of the cluster' : '';
  draft.kubernetes.version = await ask.text(`Kubernetes version${ofCluster} (1.${KUBERNETES.minMinor} to 1.${KUBERNETES.maxMinor})`, {
    default: initial?.kubernetes.version ?? KUBERNETES.defaultVersion,
    validate: validateVersion,
  });
  // nodes from --config may already span VPCs: then flannel's WireGuard backend is the recommended default
  const acrossVpcs = draft.nodes.some((n) => n !== local && !sameVpc(local, asNode(n)));
  draft.network = await askNetwork(ask, detected, initial?.network, { joining, ofCluster, print, acrossVpcs });
  if (!joining)
    draft.kubernetes.controlPlaneEndpoint = await ask.text('API server endpoint for the other nodes (HOST[:PORT])', {
      default: initial?.kubernetes.controlPlaneEndpoint ?? defaultEndpoint(local),
      validate: validateEndpoint,
    });
  const rangeVerdict = (field: 'podSubnet' | 'serviceSubnet'): Validator => (v) =>
    specVerdict({ ...draft, kubernetes: { ...draft.kubernetes, [field]: v } }, ['kubernetes', field]);
  draft.kubernetes.podSubnet = await ask.text(`Pod CIDR${ofCluster} (each node gets a /${KUBERNETES.nodeCidrMaskSize})`, {
    default: initial?.kubernetes.podSubnet ?? POD_SUBNET_BY_CNI[draft.network.plugin],
    validate: rangeVerdict('podSubnet'),
  });
  draft.kubernetes.serviceSubnet = await ask.text(`Service CIDR${ofCluster} (at most a /${KUBERNETES.maxServiceSubnetPrefix})`, {
    default: initial?.kubernetes.serviceSubnet ?? KUBERNETES.serviceSubnet,
    validate: rangeVerdict('serviceSubnet'),
  });

  // 5. nodes in other VPCs or clouds, for the NAT mapping
  while (await ask.yes('Add another node? (nodes in other VPCs or clouds need one entry each)', false))
    draft.nodes.push(await askPeer(ask, draft, local));
  await askMissingPublicIP(ask, draft, local);
  const note = noteAcrossVpcs(draft, local, joining);
  if (note) print(note);

  // 6. images: pulled by the control plane that creates the cluster
  if (!joining) draft.mirror = await ask.choose('Pull images from', MIRROR_CHOICES, initial?.mirror ?? defaultMirror(detected));

  return { role, spec: draft, localNode: local.name, ...(join && { join }) };
}

type Ask = ReturnType<typeof asker>;

/** The three kinds of question, answers trimmed, secrets masked once answered. */
function asker(prompts: Prompts) {
  return {
    async text(message: string, opts: { validate: Validator; default?: string | undefined; secret?: boolean }): Promise<string> {
      const answer = await prompts.input({
        message,
        ...(opts.default ? { default: opts.default } : {}),
        validate: (v) => opts.validate(v.trim()),
        // once answered, a secret stays off the scrollback; a token's id (before the dot) is not secret
        ...(opts.secret && { transformer: (v, { isFinal }) => (isFinal ? v.replace(/[^.]*$/, (s) => '*'.repeat(s.length)) : v) }),
      });
      return answer.trim();
    },
    choose: <V>(message: string, choices: Choice<V>[], defaultValue: V): Promise<V> =>
      prompts.select<V>({ message, choices, default: defaultValue }),
    yes: (message: string, defaultValue: boolean): Promise<boolean> => prompts.confirm({ message, default: defaultValue }),
  };
}

async function askThisNode(
  ask: Ask,
  detected: Detected,
  role: NodeSpec['role'],
  fromConfig: NodeInput | undefined,
  otherNodes: NodeInput[],
): Promise<NodeSpec> {
  const name = await ask.text('Node name', {
    default: fromConfig?.name ?? defaultNodeName(detected),
    validate: validateNewNodeName(otherNodes.map((n) => n.name)),
  });
  const privateIP = await askPrivateIP(ask, detected, fromConfig?.privateIP);
  const knownPublicIP = fromConfig?.publicIP ?? detected.publicIP;
  const publicIP = await ask.text(`Public IP (EIP; needed across VPCs or clouds; optional${knownPublicIP ? ', Backspace for none' : ''})`, {
    default: knownPublicIP,
    validate: (v) => (v !== '' && v === privateIP ? `${v} is this node's private IP` : validatePublicIP(v)),
  });
  const { publicIP: _, ...keptFromConfig } = fromConfig ?? {};
  return { ...keptFromConfig, name, role, privateIP, ...(publicIP && { publicIP }) };
}

async function askPrivateIP(ask: Ask, detected: Detected, fromConfig: string | undefined): Promise<string> {
  const choices: Choice<string>[] = detected.interfaces.map((i) => ({
    value: i.ip,
    name: `${i.ip} (${i.name})`,
    description: "kubelet's node IP (and a control plane's advertise address)",
  }));
  const preferred = fromConfig ?? detected.privateIP ?? choices[0]?.value;
  if (preferred && !choices.some((c) => c.value === preferred))
    choices.unshift({ value: preferred, name: `${preferred} (${fromConfig ? 'from the config' : 'detected'})`, description: 'on no NIC of this host' });
  choices.push({ value: ANOTHER_ADDRESS, name: 'Another address…', description: 'type it' });
  const picked = preferred ? await ask.choose('Private IP of this node (on its NIC, never the EIP)', choices, preferred) : ANOTHER_ADDRESS;
  return picked === ANOTHER_ADDRESS ? ask.text('Private IP of this node', { validate: validatePrivateIP }) : picked;
}

/** The parameters `knit init` printed for joining; the endpoint also goes into the draft. */
async function askJoin(ask: Ask, draft: SpecInput, controlPlane: boolean): Promise<NonNullable<WizardAnswers['join']>> {
  const endpoint = await ask.text('API server endpoint to join (HOST[:PORT], as printed by knit init)', {
    default: draft.kubernetes.controlPlaneEndpoint,
    validate: validateEndpoint,
  });
  draft.kubernetes.controlPlaneEndpoint = endpoint;
  const token = await ask.text('Bootstrap token', { validate: validateToken, secret: true });
  const caCertHash = await ask.text('CA certificate hash (sha256:…)', { validate: validateCaCertHash });
  if (!controlPlane) return { endpoint, token, caCertHash };
  const certificateKey = await ask.text('Certificate key (from knit init --show-certificate-key)', { validate: validateCertificateKey, secret: true });
  return { endpoint, token, caCertHash, controlPlane: true, certificateKey };
}

type NetworkInput = NonNullable<SpecInput['network']>;

async function askNetwork(
  ask: Ask,
  detected: Detected,
  initial: NetworkInput | undefined,
  { joining, ofCluster, print, acrossVpcs }: { joining: boolean; ofCluster: string; print: (line: string) => void; acrossVpcs: boolean },
): Promise<NetworkInput & { plugin: CniPlugin }> {
  const choice = await ask.choose(`Pod network${ofCluster}`, networkChoices(detected, { acrossVpcs }), defaultNetwork(detected, initial, { acrossVpcs }));
  const { plugin, calicoMode, flannelBackend } = NETWORKS[choice];
  if (plugin === 'terway' && !detected.ecs)
    print(`warning: Terway runs only on ECS, and this host does not look like an ECS instance (${detected.notOnEcs ?? 'no instance metadata'})`);
  const network = { ...initial, plugin };
  if (calicoMode) return { ...network, calico: { ...initial?.calico, mode: calicoMode } };
  if (flannelBackend) return { ...network, flannel: { ...initial?.flannel, backend: flannelBackend } };
  // Flannel VXLAN chosen over a --config spec's WireGuard: back to VXLAN (other backends of the file are kept)
  if (plugin === 'flannel' && initial?.flannel?.backend === 'wireguard') return { ...network, flannel: { ...initial.flannel, backend: 'vxlan' } };
  if (plugin === 'terway') return { ...network, terway: await askTerway(ask, detected, initial?.terway, joining) };
  return network;
}

/** Terway's mode; for the control plane creating the cluster also the pod vSwitch of this zone and the security groups. */
async function askTerway(ask: Ask, detected: Detected, initial: NetworkInput['terway'], joining: boolean) {
  const mode = await ask.choose('Terway mode', TERWAY_MODE_CHOICES, initial?.mode ?? 'eniip');
  if (joining) return { ...initial, mode };
  const ecs = detected.ecs;
  const zone =
    ecs?.zoneId ?? (await ask.text('Zone of this node (e.g. cn-hangzhou-h)', { default: Object.keys(initial?.vswitches ?? {})[0], validate: validateZone }));
  const vswitches = await ask.text(`vSwitch(es) for pods in ${zone}`, {
    default: initial?.vswitches?.[zone]?.join(', ') ?? (zone === ecs?.zoneId ? ecs.vswitchId : undefined),
    validate: validateVswitches,
  });
  const securityGroups = await ask.text("Security group(s) for pod ENIs (optional; empty: the instance's own)", {
    default: initial?.securityGroups?.join(', '),
    validate: validateSecurityGroups,
  });
  return { ...initial, mode, vswitches: { ...initial?.vswitches, [zone]: splitList(vswitches) }, securityGroups: splitList(securityGroups) };
}

/** One more node: validated against the whole draft (duplicate addresses, addresses inside the pod or service CIDR). */
async function askPeer(ask: Ask, draft: SpecInput, local: NodeSpec): Promise<NodeSpec> {
  const index = draft.nodes.length;
  const withPeer = (peer: NodeInput): SpecInput => ({ ...draft, nodes: [...draft.nodes, peer] });
  const name = await ask.text('Its name', { validate: validateNewNodeName(draft.nodes.map((n) => n.name)) });
  const role = await ask.choose(`Role of ${name}`, PEER_ROLE_CHOICES, 'worker');
  const privateIP = await ask.text(`Private IP of ${name}`, {
    validate: (v) => specVerdict(withPeer({ name, role, privateIP: v }), ['nodes', index, 'privateIP']),
  });
  const vpc = await ask.text(`VPC label of ${name} (optional; same label: reached privately; empty: grouped by /24)`, { validate: () => true });
  const peer: NodeSpec = { name, role, privateIP, ...(vpc && { vpc }) };
  const outside = !sameVpc(local, peer);
  const publicIP = await ask.text(`Public IP of ${name}${outside ? ' (required: outside this VPC)' : ' (optional)'}`, {
    validate: (v) =>
      v === ''
        ? !outside || `required: ${name} is outside the VPC of ${local.name}, and reached through its public IP`
        : specVerdict(withPeer({ ...peer, publicIP: v }), ['nodes', index, 'publicIP']),
  });
  return { ...peer, ...(publicIP && { publicIP }) };
}

/** Nodes outside this node's VPC reach it only through its public IP: ask for it when that is missing. */
async function askMissingPublicIP(ask: Ask, draft: SpecInput, local: NodeSpec): Promise<void> {
  const parsed = specSchema.safeParse(draft);
  if (local.publicIP || !parsed.success || !needsPublicIp(parsed.data, local.name)) return;
  const at = draft.nodes.indexOf(local);
  // local is the draft's own node object: setting it completes the draft
  local.publicIP = await ask.text(`Public IP of ${local.name} (required: it has peers outside its VPC)`, {
    validate: (v) =>
      v === ''
        ? `required: ${local.name} has peers outside its VPC`
        : specVerdict({ ...draft, nodes: draft.nodes.with(at, { ...local, publicIP: v }) }, ['nodes', at, 'publicIP']),
  });
}
