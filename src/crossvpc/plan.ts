/**
 * `knit crossvpc apply|remove` as steps. Pure: the spec and facts read from the host (knit's live
 * nftables table, what earlier versions left, metrics-server's args) in, steps with their effects as
 * data out.
 */
import { CROSSVPC, PATHS } from '../defaults.js';
import type { Effect, Step } from '../runner/types.js';
import type { Spec } from '../spec/schema.js';
import { checkCniAcrossVpcs, flannelPods } from './cni-support.js';
import { NO_LEGACY, renderLegacyNatRemoval, type LegacyNatState } from './legacy.js';
import { METRICS_SERVER, metricsServerArgsPatch, pinAddressTypes, type MetricsServerFacts } from './metrics-server.js';
import { cniNeeds } from '../cni/index.js';
import { mssForMtu, NFT_TABLE, planNftUpdate, renderNftRemoval, renderNftTable, type NftMapOptions, type NftTableState, type NftWant } from './nft.js';
import { findNode, hasPeersOutsideVpc, peersOutsideVpc, type CrossVpcPeer } from './peers.js';
import { renderAgentUnit, renderCrossVpcUnit } from './unit.js';

/** What earlier knit versions left on the host: iptables nat chains and their saved rules file. */
export interface LegacyFacts {
  nat: LegacyNatState;
  rulesFile: boolean;
}

export const NO_LEGACY_FACTS: LegacyFacts = { nat: NO_LEGACY, rulesFile: false };

export interface CrossVpcFacts {
  /** knit's nftables table, read just before planning; undefined when there is none. */
  table?: NftTableState;
  legacy: LegacyFacts;
  /** The kubeconfig kubectl uses, when one was found. */
  kubeconfig?: string;
  /** Present only when metrics-server is installed (and could be read). */
  metricsServer?: MetricsServerFacts;
  /** The local node's flannel public-ip-overwrite annotation, which earlier versions set (needs kubeconfig). */
  flannelOverwrite?: string;
  /** How systemd starts knit (the agent's unit); default CROSSVPC.agent.defaultCommand. */
  knitCommand?: string[];
}

export interface CrossVpcRemoveFacts {
  /** Whether knit's nftables table exists. */
  table: boolean;
  legacy: LegacyFacts;
  /** Whether the boot unit file exists (only then is there something to disable). */
  unitInstalled: boolean;
  /** Whether the agent's unit file exists. */
  agentInstalled: boolean;
}

const systemctl = (...args: string[]): Effect => ({ kind: 'exec', argv: ['systemctl', ...args] });

const MAX_NAMES = 5;
const listPeers = (peers: readonly CrossVpcPeer[]): string =>
  peers.slice(0, MAX_NAMES).map((p) => `${p.name} (${p.privateIP} → ${p.publicIP})`).join(', ') +
  (peers.length > MAX_NAMES ? ` and ${peers.length - MAX_NAMES} more` : '');

export const crossVpcPlanTitle = (spec: Spec, localNodeName: string, action: 'apply' | 'remove'): string =>
  `knit crossvpc ${action}: node ${localNodeName}, CNI ${spec.network.plugin}`;

export const nftOptions = (spec: Spec): NftMapOptions => ({ mss: mssForMtu(spec.crossvpc.mtu), overlay: cniNeeds(spec) });

/** The local node's peers outside its VPC, and every node's addresses (the sources the overlay answers). */
export function nftWant(spec: Spec, localNodeName: string): NftWant {
  const nodes = new Set(spec.nodes.flatMap((n) => (n.publicIP ? [n.privateIP, n.publicIP] : [n.privateIP])));
  return { peers: peersOutsideVpc(spec, localNodeName), nodes: [...nodes] };
}

/** The saved ruleset the boot unit loads: the whole table, with a header saying whose it is. */
export function renderCrossVpcRulesFile(spec: Spec, localNodeName: string, want = nftWant(spec, localNodeName)): string {
  const { node } = findNode(spec, localNodeName);
  return renderNftTable(want, nftOptions(spec), [
    `knit cross-vpc address map for ${node.name} (private ${node.privateIP}${node.publicIP ? `, public ${node.publicIP}` : ''}): ${want.peers.length} peer(s) outside its VPC`,
    `Loaded at boot by ${CROSSVPC.unitName}: nft -f ${CROSSVPC.rulesFile}`,
  ]);
}

/** The agent's settings: the node it runs on, the kubelet's kubeconfig, and the table's shape. */
export const renderAgentConfig = (node: string, opts: NftMapOptions): string =>
  `${JSON.stringify({ node, kubeconfig: PATHS.kubeletConf, mss: opts.mss, overlay: opts.overlay.map(({ protocol, number }) => ({ protocol, number })) }, null, 2)}\n`;

/** Removes the iptables chains and the file of earlier versions; none when there is nothing of them. */
function legacyStep(legacy: LegacyFacts): Step[] {
  const payload = renderLegacyNatRemoval(legacy.nat);
  if (!payload && !legacy.rulesFile) return [];
  return [
    {
      id: 'crossvpc/legacy',
      title: `Remove what earlier knit versions used instead (iptables nat ${CROSSVPC.legacy.chain}, ${CROSSVPC.legacy.inputChain})`,
      effects: [...(payload ? [{ kind: 'iptables' as const, payload }] : []), { kind: 'remove', path: CROSSVPC.legacy.rulesFile }],
    },
  ];
}

/** No steps when the local node has no peers outside its VPC. */
export function planCrossVpcApply(spec: Spec, localNodeName: string, facts: CrossVpcFacts): Step[] {
  const want = nftWant(spec, localNodeName);
  const { peers } = want;
  if (peers.length === 0) return [];
  checkCniAcrossVpcs(spec);
  const opts = nftOptions(spec);
  const payload = planNftUpdate(want, facts.table, opts);
  const steps: Step[] = [
    {
      id: 'crossvpc/map',
      title: `Map ${peers.length} peer(s) outside the VPC to their public IPs; the overlay answers only the ${spec.nodes.length} nodes (nftables table ${NFT_TABLE})`,
      // the payload is computed from the live table: none when it already holds exactly this map
      effects: payload ? [{ kind: 'nft', table: NFT_TABLE, payload }] : [],
      note: `peers: ${listPeers(peers)}; TCP MSS to and from them clamped to ${opts.mss} (crossvpc.mtu ${spec.crossvpc.mtu})`,
    },
    // after the map: the old chains never leave a gap, and with the map in place they no longer match
    ...legacyStep(facts.legacy),
    {
      id: 'crossvpc/persist',
      title: 'Save the map, the unit that loads it at boot, and the agent that keeps it equal to the cluster',
      effects: [
        { kind: 'file', path: CROSSVPC.rulesFile, content: renderCrossVpcRulesFile(spec, localNodeName, want), mode: 0o644 },
        { kind: 'file', path: CROSSVPC.unitPath, content: renderCrossVpcUnit(), mode: 0o644 },
        { kind: 'file', path: CROSSVPC.agent.configFile, content: renderAgentConfig(localNodeName, opts), mode: 0o644 },
        { kind: 'file', path: CROSSVPC.agent.unitPath, content: renderAgentUnit(facts.knitCommand ?? [CROSSVPC.agent.defaultCommand]), mode: 0o644 },
      ],
    },
    {
      id: 'crossvpc/boot',
      title: `Enable ${CROSSVPC.unitName}, and start ${CROSSVPC.agent.unitName}`,
      doneWhen: {
        kind: 'all',
        // one unit per probe: given several, systemctl answers whether ANY is enabled (or active)
        probes: [
          { kind: 'exec-ok', argv: ['systemctl', 'is-enabled', '--quiet', CROSSVPC.unitName] },
          { kind: 'exec-ok', argv: ['systemctl', 'is-enabled', '--quiet', CROSSVPC.agent.unitName] },
          { kind: 'exec-ok', argv: ['systemctl', 'is-active', '--quiet', CROSSVPC.agent.unitName] },
        ],
      },
      effects: [systemctl('daemon-reload'), systemctl('enable', CROSSVPC.unitName), systemctl('enable', '--now', CROSSVPC.agent.unitName)],
      note: `until the API server answers, the map is the spec's; then ${CROSSVPC.agent.unitName} keeps it equal to the cluster's Nodes`,
    },
  ];
  const flannel = flannelPods(spec);
  if (facts.flannelOverwrite !== undefined && facts.kubeconfig && flannel)
    steps.push({
      id: 'crossvpc/flannel',
      title: `Let flannel tunnel to ${localNodeName}'s private IP (remove public-ip-overwrite, restart its flannel pod)`,
      effects: [
        { kind: 'kube-annotate', node: localNodeName, annotations: { [CROSSVPC.flannelPublicIpAnnotation]: null } },
        // flanneld reads the annotation only when it starts
        { kind: 'exec', argv: ['kubectl', '--kubeconfig', facts.kubeconfig, '--namespace', flannel.namespace, 'delete', 'pod', '--selector', flannel.selector,
          '--field-selector', `spec.nodeName=${localNodeName}`, '--wait=false'] },
      ],
      note: 'the map carries VXLAN to private VTEPs; with the annotation, nodes of one VPC tunnelled through their EIPs',
    });
  const args = facts.metricsServer && pinAddressTypes(facts.metricsServer.args);
  // Only when metrics-server is installed (the facts hold its args) and its args need the change.
  if (facts.metricsServer && args && facts.kubeconfig)
    steps.push({
      id: 'crossvpc/metrics-server',
      title: 'Make metrics-server scrape kubelets at their InternalIP',
      effects: [
        {
          kind: 'exec',
          argv: ['kubectl', '--kubeconfig', facts.kubeconfig, '--namespace', METRICS_SERVER.namespace, 'patch', 'deployment',
            METRICS_SERVER.name, '--type', 'strategic', '--patch', metricsServerArgsPatch(facts.metricsServer.container, args)],
        },
      ],
    });
  return steps;
}

/** Every step tolerates absence: each removes only what the facts say is there. */
export function planCrossVpcRemove(facts: CrossVpcRemoveFacts): Step[] {
  return [
    {
      id: 'crossvpc/map',
      title: `Delete the nftables table ${NFT_TABLE}`,
      effects: facts.table ? [{ kind: 'nft', table: NFT_TABLE, payload: renderNftRemoval() }] : [],
    },
    ...legacyStep(facts.legacy),
    {
      id: 'crossvpc/boot',
      title: `Disable ${CROSSVPC.unitName} and stop ${CROSSVPC.agent.unitName}`,
      effects: [
        // the agent first: it would load the table again
        ...(facts.agentInstalled ? [systemctl('disable', '--now', CROSSVPC.agent.unitName)] : []),
        ...(facts.unitInstalled ? [systemctl('disable', CROSSVPC.unitName)] : []),
      ],
    },
    {
      id: 'crossvpc/persist',
      title: 'Remove the saved map, the boot unit and the agent',
      // no daemon-reload: `systemctl disable` already reloaded, and a removed inactive unit is gone at the next one
      effects: [
        { kind: 'remove', path: CROSSVPC.unitPath },
        { kind: 'remove', path: CROSSVPC.rulesFile },
        { kind: 'remove', path: CROSSVPC.agent.unitPath },
        { kind: 'remove', path: CROSSVPC.agent.configFile },
        { kind: 'remove', path: CROSSVPC.agent.stateFile },
      ],
    },
  ];
}

/**
 * What this node publishes for every node's agent, once registered: its public IP (an annotation; the
 * kubelet may change its own Node). Its VPC is a kubelet label, set at registration.
 */
export function crossVpcAnnotateStep(spec: Spec, localNodeName: string): Step[] {
  const { node } = findNode(spec, localNodeName);
  if (!node.publicIP || !hasPeersOutsideVpc(spec, node)) return [];
  return [
    {
      id: 'crossvpc/annotate',
      title: `Publish ${node.name}'s public IP for the other nodes' maps (${CROSSVPC.publicIpAnnotation})`,
      effects: [{ kind: 'kube-annotate', node: node.name, annotations: { [CROSSVPC.publicIpAnnotation]: node.publicIP } }],
    },
  ];
}

/** `knit crossvpc annotate`: every node of the spec gets its VPC label and public IP annotation. */
export function planCrossVpcAnnotate(spec: Spec, kubeconfig: string): Step[] {
  return spec.nodes.map((n) => ({
    id: `crossvpc/annotate/${n.name}`,
    title: `Publish ${n.name}'s VPC and public IP`,
    effects: [
      ...(n.publicIP ? [{ kind: 'kube-annotate' as const, node: n.name, annotations: { [CROSSVPC.publicIpAnnotation]: n.publicIP } }] : []),
      ...(n.vpc
        ? [{ kind: 'exec' as const, argv: ['kubectl', '--kubeconfig', kubeconfig, 'label', '--overwrite', 'node', n.name, `${CROSSVPC.vpcLabel}=${n.vpc}`] as [string, ...string[]] }]
        : []),
    ],
  }));
}
