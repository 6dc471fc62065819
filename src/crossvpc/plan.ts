/**
 * `knit crossvpc apply|remove` as steps. Pure: the spec and facts read from the host (the live nat
 * table, the iptables backend, metrics-server's args) in, steps with their effects as data out.
 */
import { CROSSVPC } from '../defaults.js';
import type { Effect, Step } from '../runner/types.js';
import type { Spec } from '../spec/schema.js';
import { checkCniAcrossVpcs } from './cni-support.js';
import { METRICS_SERVER, metricsServerArgsPatch, pinAddressTypes, type MetricsServerFacts } from './metrics-server.js';
import { findNode, peersOutsideVpc, type CrossVpcPeer } from './peers.js';
import { renderCrossVpcRules } from './rules.js';
import { renderCrossVpcRemoval, type CrossVpcState } from './state.js';
import { renderCrossVpcUnit, type IptablesBackendName } from './unit.js';

export interface CrossVpcFacts {
  /** The backend that holds the host's rules; the boot unit runs its tools. */
  backend: IptablesBackendName;
  /** knit's chains and jumps in the live nat table, read just before planning. */
  state: CrossVpcState;
  /** The kubeconfig kubectl uses, when one was found. */
  kubeconfig?: string;
  /** Present only when metrics-server is installed (and could be read). */
  metricsServer?: MetricsServerFacts;
}

export interface CrossVpcRemoveFacts {
  state: CrossVpcState;
  /** Whether the boot unit file exists (only then is there something to disable). */
  unitInstalled: boolean;
}

const systemctl = (...args: string[]): Effect => ({ kind: 'exec', argv: ['systemctl', ...args] });

const MAX_NAMES = 5;
const listPeers = (peers: readonly CrossVpcPeer[]): string =>
  peers.slice(0, MAX_NAMES).map((p) => `${p.name} (${p.privateIP} → ${p.publicIP})`).join(', ') +
  (peers.length > MAX_NAMES ? ` and ${peers.length - MAX_NAMES} more` : '');

export const crossVpcPlanTitle = (spec: Spec, localNodeName: string, action: 'apply' | 'remove'): string =>
  `knit crossvpc ${action}: node ${localNodeName}, CNI ${spec.network.plugin}`;

/** No steps when the local node has no peers outside its VPC. */
export function planCrossVpcApply(spec: Spec, localNodeName: string, facts: CrossVpcFacts): Step[] {
  const peers = peersOutsideVpc(spec, localNodeName);
  if (peers.length === 0) return [];
  checkCniAcrossVpcs(spec);
  const { node } = findNode(spec, localNodeName);
  const steps: Step[] = [
    {
      id: 'crossvpc/nat',
      title: `Reach ${peers.length} peer(s) outside the VPC through their public IPs (nat ${CROSSVPC.chain}, ${CROSSVPC.inputChain})`,
      effects: [{ kind: 'iptables', payload: renderCrossVpcRules(spec, localNodeName, facts.state) }],
      note: `peers: ${listPeers(peers)}`,
    },
    {
      id: 'crossvpc/persist',
      title: 'Save the rules and the unit that re-applies them at boot',
      effects: [
        { kind: 'file', path: CROSSVPC.rulesFile, content: renderCrossVpcRules(spec, localNodeName), mode: 0o644 },
        { kind: 'file', path: CROSSVPC.unitPath, content: renderCrossVpcUnit(facts.backend), mode: 0o644 },
      ],
    },
    {
      id: 'crossvpc/boot',
      title: `Enable ${CROSSVPC.unitName}`,
      doneWhen: { kind: 'exec-ok', argv: ['systemctl', 'is-enabled', '--quiet', CROSSVPC.unitName] },
      effects: [systemctl('daemon-reload'), systemctl('enable', CROSSVPC.unitName)],
    },
  ];
  if (spec.network.plugin === 'flannel')
    steps.push({
      id: 'crossvpc/annotate',
      title: `Tell flannel to give peers ${node.name}'s public IP`,
      // peersOutsideVpc guarantees a publicIP when there are peers
      effects: [{ kind: 'kube-annotate', node: node.name, annotations: { [CROSSVPC.flannelPublicIpAnnotation]: node.publicIP! } }],
      note: 'needs the node registered (after kubeadm init/join); flannel reads it when its pod on this node starts',
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

/** Every step tolerates absence: the removal transaction holds only what the live table has. */
export function planCrossVpcRemove(facts: CrossVpcRemoveFacts): Step[] {
  const payload = renderCrossVpcRemoval(facts.state);
  return [
    {
      id: 'crossvpc/nat',
      title: `Delete the nat chains ${CROSSVPC.chain}, ${CROSSVPC.inputChain} and the jumps into them`,
      effects: payload ? [{ kind: 'iptables', payload }] : [],
    },
    {
      id: 'crossvpc/boot',
      title: `Disable ${CROSSVPC.unitName}`,
      effects: facts.unitInstalled ? [systemctl('disable', CROSSVPC.unitName)] : [],
    },
    {
      id: 'crossvpc/persist',
      title: 'Remove the saved rules and the boot unit',
      // no daemon-reload: `systemctl disable` already reloaded, and a removed inactive unit is gone at the next one
      effects: [
        { kind: 'remove', path: CROSSVPC.unitPath },
        { kind: 'remove', path: CROSSVPC.rulesFile },
      ],
    },
  ];
}
