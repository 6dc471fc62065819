/**
 * `knit doctor`: the traps operators of these clusters fall into, found from what the host and the
 * cluster say, each with its fix. Pure: the command gathers the facts, this decides.
 */
import { PLUGINS } from '../cni/index.js';
import { CROSSVPC } from '../defaults.js';
import { peersOutsideVpc } from '../crossvpc/peers.js';
import { ADDRESS_TYPES_ARG, pinAddressTypes, type MetricsServerFacts } from '../crossvpc/metrics-server.js';
import type { CrossVpcDrift } from '../crossvpc/state.js';
import type { CheckResult } from '../preflight/types.js';
import type { Spec } from '../spec/schema.js';

export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  id: string;
  status: FindingStatus;
  message: string;
  fix?: string;
}

/** A node as `kubectl get nodes -o json` describes it (the parts doctor reads). */
export interface ClusterNode {
  name: string;
  ready: boolean;
  annotations: Record<string, string>;
  allocatablePods: number;
}

export interface ClusterPod {
  namespace: string;
  name: string;
  node?: string;
  phase: string;
  /** The Ready condition: a crash-looping pod is phase Running but not ready. */
  ready: boolean;
  /** Why a container waits (CrashLoopBackOff, ImagePullBackOff, …), when one does. */
  waiting?: string;
  hostNetwork: boolean;
  /** The owning DaemonSet/Deployment-ish name, from ownerReferences or labels. */
  owner?: string;
}

export interface ClusterFacts {
  nodes: ClusterNode[];
  pods: ClusterPod[];
  metricsServer?: MetricsServerFacts;
}

export interface DoctorFacts {
  spec: Spec;
  /** The node doctor runs on. */
  node: string;
  /** knit preflight's results on this host (doctor reads the ones about known traps). */
  host: CheckResult[];
  /** knit's NAT chains compared with the spec; absent when iptables could not be read. */
  crossVpc?: { drift: CrossVpcDrift; rulesFile: 'missing' | 'current' | 'outdated'; liveChains: number };
  /** The cluster, or why it could not be read. */
  cluster: ClusterFacts | { error: string };
  /** Terway's cloud checks (src/cloud/alicloud/checks.ts), or why they could not run. */
  cloud?: CheckResult[] | { error: string };
}

/** Share of a node's pod capacity at which Terway's ENI IPs count as nearly used up. */
export const QUOTA_WARN_RATIO = 0.9;

const fromPreflight = (host: CheckResult[], id: string, as: string): Finding[] => {
  const r = host.find((c) => c.id === id);
  if (!r) return [];
  const status: FindingStatus = r.status === 'pass' ? 'ok' : r.status;
  return [{ id: as, status, message: r.reason, ...(r.status === 'pass' ? {} : { fix: `knit preflight --fix (${r.fix?.title ?? id})` }) }];
};

function hostFindings({ spec, host }: DoctorFacts): Finding[] {
  return [
    ...fromPreflight(host, 'cni/leftover-config', 'host/cni-leftovers'),
    // Terway's policy and ENI datapath: strict rp_filter drops replies on secondary ENIs, a DROP FORWARD policy drops pod traffic
    ...(spec.network.plugin === 'terway'
      ? [...fromPreflight(host, 'sysctl/rp_filter', 'terway/rp_filter'), ...fromPreflight(host, 'iptables/forward-policy', 'terway/forward-policy')]
      : []),
  ];
}

function natFindings({ spec, node, crossVpc }: DoctorFacts): Finding[] {
  const id = 'crossvpc/nat-rules';
  const peers = peersOutsideVpc(spec, node);
  if (!crossVpc) return [{ id, status: 'skip', message: 'iptables could not be read here (run doctor as root)' }];
  const { drift, rulesFile, liveChains } = crossVpc;
  if (peers.length === 0)
    return liveChains > 0
      ? [{ id, status: 'warn', message: `knit's NAT chains are loaded, but ${node} has no peers outside its VPC in the spec`, fix: 'knit crossvpc remove' }]
      : [{ id, status: 'ok', message: `${node} has no peers outside its VPC: no NAT mapping needed` }];
  if (liveChains === 0)
    return [{ id, status: 'fail', message: `knit's NAT chains are not loaded: ${peers.length} peer(s) in other VPCs are unreachable at their private IPs`, fix: `knit crossvpc apply --node-name ${node}` }];
  if (drift.missing.length > 0 || drift.unexpected.length > 0)
    return [{
      id,
      status: 'fail',
      message: `NAT mapping for ${peers.length} peer(s) drifted: ${drift.missing.length} rule(s) missing, ${drift.unexpected.length} unexpected (${[...drift.missing, ...drift.unexpected][0]})`,
      fix: `knit crossvpc apply --node-name ${node}`,
    }];
  if (rulesFile !== 'current')
    return [{ id, status: 'warn', message: `the NAT rules are loaded but ${CROSSVPC.rulesFile} is ${rulesFile}: a reboot would lose them`, fix: `knit crossvpc apply --node-name ${node}` }];
  return [{ id, status: 'ok', message: `NAT mapping for ${peers.length} peer(s) in place and saved for boot` }];
}

function clusterFindings({ spec, cluster }: DoctorFacts): Finding[] {
  if ('error' in cluster) return [{ id: 'cluster/reachable', status: 'skip', message: `the cluster checks need a kubeconfig that works: ${cluster.error}` }];
  const findings: Finding[] = [];
  const crossVpc = spec.nodes.some((n) => peersOutsideVpc(spec, n.name).length > 0);

  // the CNI's own pods, per node
  const cniNames = new Set(PLUGINS[spec.network.plugin].rollouts(spec).map((r) => r.name));
  const cniPods = cluster.pods.filter((p) => p.owner !== undefined && cniNames.has(p.owner));
  const notRunning = cniPods.filter((p) => p.phase !== 'Running' || !p.ready);
  findings.push(
    cniPods.length === 0
      ? { id: 'cni/pods', status: 'fail', message: `no ${[...cniNames].join('/')} pods: the CNI is not installed`, fix: 'knit init applies it (step cni/apply), or kubectl apply -f cni.yaml from knit render' }
      : notRunning.length > 0
        ? { id: 'cni/pods', status: 'fail', message: `${notRunning.length} CNI pod(s) not Running: ${notRunning.map((p) => `${p.name} on ${p.node ?? '?'} (${p.waiting ?? p.phase})`).join(', ')}`, fix: 'kubectl -n <namespace> describe pod / logs <pod>' }
        : { id: 'cni/pods', status: 'ok', message: `${cniPods.length} CNI pod(s) Running` },
  );

  // flannel reads public-ip-overwrite at start: without it, peers in other VPCs get the private IP as VTEP
  if (spec.network.plugin === 'flannel' && crossVpc) {
    const wrong = spec.nodes
      .filter((n) => n.publicIP && peersOutsideVpc(spec, n.name).length > 0)
      .flatMap((n) => {
        const live = cluster.nodes.find((c) => c.name === n.name);
        const value = live?.annotations[CROSSVPC.flannelPublicIpAnnotation];
        return live && value !== n.publicIP ? [`${n.name} (${value === undefined ? 'missing' : `is ${value}`}, want ${n.publicIP})`] : [];
      });
    findings.push(
      wrong.length > 0
        ? { id: 'flannel/public-ip-overwrite', status: 'fail', message: `nodes without the right ${CROSSVPC.flannelPublicIpAnnotation}: ${wrong.join(', ')}`, fix: 'knit crossvpc apply on each of them, then delete its kube-flannel pod so flanneld starts again' }
        : { id: 'flannel/public-ip-overwrite', status: 'ok', message: 'every node with peers in other VPCs announces its public IP to flannel' },
    );
  }

  if (crossVpc && cluster.metricsServer) {
    const pinned = pinAddressTypes(cluster.metricsServer.args) === undefined;
    findings.push(
      pinned
        ? { id: 'metrics-server/kubelet-address', status: 'ok', message: `metrics-server scrapes kubelets at ${ADDRESS_TYPES_ARG.split('=')[1]}` }
        : { id: 'metrics-server/kubelet-address', status: 'fail', message: 'metrics-server may pick a node address that other VPCs cannot reach (hostname or ExternalIP)', fix: `knit crossvpc apply (sets ${ADDRESS_TYPES_ARG})` },
    );
  }

  if (spec.network.plugin === 'terway') {
    for (const n of cluster.nodes) {
      const used = cluster.pods.filter((p) => p.node === n.name && !p.hostNetwork && p.phase !== 'Succeeded' && p.phase !== 'Failed').length;
      const ratio = n.allocatablePods > 0 ? used / n.allocatablePods : 1;
      if (ratio >= QUOTA_WARN_RATIO)
        findings.push({
          id: 'terway/ip-quota',
          status: ratio >= 1 ? 'fail' : 'warn',
          message: `${n.name}: ${used} of ${n.allocatablePods} pod IPs in use (ENI secondary IPs)`,
          fix: 'an instance type with more ENIs or IPs per ENI, or move pods to other nodes',
        });
    }
    if (!findings.some((f) => f.id === 'terway/ip-quota')) findings.push({ id: 'terway/ip-quota', status: 'ok', message: 'every node has ENI IPs to spare' });
  }
  return findings;
}

/** Terway's side in the cloud: SNAT for the pod vSwitches, their free IPs, the RAM role. */
function cloudFindings({ spec, cloud }: DoctorFacts): Finding[] {
  if (spec.network.plugin !== 'terway') return [];
  if (cloud === undefined || 'error' in cloud)
    return [{ id: 'terway/snat', status: 'skip', message: `whether each pod vSwitch has a NAT gateway SNAT entry is unknown: ${cloud?.error ?? 'the cloud was not asked'}` }];
  const mapped = [['alicloud/snat', 'terway/snat'], ['alicloud/vswitch-ips', 'terway/vswitch-ips'], ['alicloud/ram-role', 'terway/ram-role'], ['alicloud/ecs', 'terway/ecs']] as const;
  // each reason carries its fix (the exact SNAT entry, the RAM step): the console or aliyun CLI is the remedy, not preflight --fix
  return mapped.flatMap(([from, as]) => {
    const r = cloud.find((c) => c.id === from);
    return r ? [{ id: as, status: r.status === 'pass' ? ('ok' as const) : r.status, message: r.reason }] : [];
  });
}

export const diagnose = (f: DoctorFacts): Finding[] => [...hostFindings(f), ...natFindings(f), ...clusterFindings(f), ...cloudFindings(f)];
