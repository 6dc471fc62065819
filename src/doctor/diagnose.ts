/**
 * `knit doctor`: the traps operators of these clusters fall into, found from what the host and the
 * cluster say, each with its fix. Pure: the command gathers the facts, this decides.
 */
import { PLUGINS } from '../cni/index.js';
import { COREDNS, isHybrid, vpcSidePlacementPatch } from '../cni/hybrid.js';
import { CNI, CROSSVPC } from '../defaults.js';
import { hasPeersOutsideVpc, peersOutsideVpc } from '../crossvpc/peers.js';
import { ADDRESS_TYPES_ARG, pinAddressTypes, type MetricsServerFacts } from '../crossvpc/metrics-server.js';
import type { NftDrift } from '../crossvpc/nft.js';
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
  /** Absent where the caller did not read them. */
  labels?: Record<string, string>;
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
  /** knit's nftables map compared with the spec; absent when nftables could not be read. */
  crossVpc?: { drift: NftDrift; rulesFile: 'missing' | 'current' | 'outdated' };
  /** The cluster, or why it could not be read. */
  cluster: ClusterFacts | { error: string };
  /** Terway's cloud checks (src/cloud/alicloud/checks.ts), or why they could not run. */
  cloud?: CheckResult[] | { error: string };
  /** Hybrid clusters: the VPC's route to the external nodes' pods (alicloud/hybrid-route), or why it was not read. */
  hybridRoute?: CheckResult | { error: string };
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

function mapFindings({ spec, node, crossVpc }: DoctorFacts): Finding[] {
  const id = 'crossvpc/map';
  const peers = peersOutsideVpc(spec, node);
  if (!crossVpc) return [{ id, status: 'skip', message: 'nftables could not be read here (run doctor as root, with nft installed)' }];
  const { drift, rulesFile } = crossVpc;
  const fix = `knit crossvpc apply --node-name ${node}`;
  if (peers.length === 0)
    return drift.table !== 'missing'
      ? [{ id, status: 'warn', message: `knit's address map is loaded, but ${node} has no peers outside its VPC in the spec`, fix: 'knit crossvpc remove' }]
      : [{ id, status: 'ok', message: `${node} has no peers outside its VPC: no address map needed` }];
  if (drift.table === 'missing')
    return [{ id, status: 'fail', message: `knit's address map is not loaded: ${peers.length} peer(s) in other VPCs are unreachable at their private IPs`, fix }];
  if (drift.table === 'outdated' || drift.missing.length > 0 || drift.unexpected.length > 0)
    return [{
      id,
      status: 'fail',
      message: `the address map for ${peers.length} peer(s) drifted: ${drift.table === 'outdated' ? 'its rules differ, ' : ''}${drift.missing.length} entr(ies) missing, ${drift.unexpected.length} unexpected${[...drift.missing, ...drift.unexpected][0] ? ` (${[...drift.missing, ...drift.unexpected][0]})` : ''}`,
      fix,
    }];
  if (rulesFile !== 'current')
    return [{ id, status: 'warn', message: `the address map is loaded but ${CROSSVPC.rulesFile} is ${rulesFile}: a reboot would lose it`, fix }];
  return [{ id, status: 'ok', message: `the address map for ${peers.length} peer(s) is in place and saved for boot` }];
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

  // earlier knit versions set public-ip-overwrite; with it, nodes of one VPC tunnel to each other through their EIPs
  // canal runs flanneld too (its kube-flannel container), which reads the same annotation
  if (spec.network.plugin === 'flannel' || spec.network.plugin === 'canal') {
    const overwritten = cluster.nodes.filter((n) => n.annotations[CROSSVPC.flannelPublicIpAnnotation] !== undefined).map((n) => n.name);
    findings.push(
      overwritten.length > 0
        ? { id: 'flannel/public-ip-overwrite', status: 'warn', message: `${CROSSVPC.flannelPublicIpAnnotation} is set on ${overwritten.join(', ')}: pod traffic to them leaves through their EIPs, also from their own VPC`, fix: 'knit crossvpc apply on each of them (removes it and restarts its flannel pod)' }
        : { id: 'flannel/public-ip-overwrite', status: 'ok', message: 'flannel tunnels to private IPs (knit maps the ones in other VPCs)' },
    );
  }

  // every node's agent maps a node outside its VPC only through the public IP that node publishes
  if (crossVpc) {
    const needsIt = (name: string) => {
      const n = spec.nodes.find((x) => x.name === name);
      return n === undefined || hasPeersOutsideVpc(spec, n); // a node the spec does not know: its VPC is unknown here
    };
    const missing = cluster.nodes.filter((n) => n.annotations[CROSSVPC.publicIpAnnotation] === undefined && needsIt(n.name)).map((n) => n.name);
    findings.push(
      missing.length > 0
        ? { id: 'crossvpc/public-ip', status: 'warn', message: `${missing.join(', ')} publish no ${CROSSVPC.publicIpAnnotation}: the agents on nodes in other VPCs cannot map them`, fix: `knit crossvpc annotate -f <spec> (or kubectl annotate node <node> ${CROSSVPC.publicIpAnnotation}=<its public IP>)` }
        : { id: 'crossvpc/public-ip', status: 'ok', message: `every node publishes its public IP (${CROSSVPC.publicIpAnnotation}) for the agents` },
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

/** Terway's side in the cloud: SNAT for the pod vSwitches, their free IPs, the RAM role; for any CNI the overlay's security groups. */
function cloudFindings({ spec, cloud }: DoctorFacts): Finding[] {
  if (spec.network.plugin !== 'terway') return securityGroupFindings(cloud);
  if (cloud === undefined || 'error' in cloud)
    return [{ id: 'terway/snat', status: 'skip', message: `whether each pod vSwitch has a NAT gateway SNAT entry is unknown: ${cloud?.error ?? 'the cloud was not asked'}` }];
  const mapped = [
    ['alicloud/snat', 'terway/snat'],
    ['alicloud/vswitch-ips', 'terway/vswitch-ips'],
    ['alicloud/ram-role', 'terway/ram-role'],
    ['alicloud/ecs', 'terway/ecs'],
    ['alicloud/security-group', 'crossvpc/security-group'],
  ] as const;
  // each reason carries its fix (the exact SNAT entry, the RAM step): the console or aliyun CLI is the remedy, not preflight --fix
  return mapped.flatMap(([from, as]) => {
    const r = cloud.find((c) => c.id === from);
    return r ? [{ id: as, status: r.status === 'pass' ? ('ok' as const) : r.status, message: r.reason }] : [];
  });
}

/**
 * On ECS, for a node with peers in other VPCs: whether its security groups let the overlay's ports in
 * only from the cluster (src/cloud/alicloud/security-groups.ts; the reason carries the aliyun lines).
 */
function securityGroupFindings(cloud: DoctorFacts['cloud']): Finding[] {
  const r = cloud === undefined || 'error' in cloud ? undefined : cloud.find((c) => c.id === 'alicloud/security-group');
  return r ? [{ id: 'crossvpc/security-group', status: r.status === 'pass' ? 'ok' : r.status, message: r.reason }] : [];
}

/**
 * Deployments that belong on the VPC side of a hybrid cluster: those that serve the whole cluster
 * through a Service at a pod address (unless on the host network, where the node's routed IP serves),
 * and terway-controlplane, which needs the ECS metadata service and RAM role wherever it runs.
 */
const VPC_SIDE_DEPLOYMENTS: Record<string, 'pod-network' | 'always'> = { [COREDNS.name]: 'pod-network', 'metrics-server': 'pod-network', 'terway-controlplane': 'always' };

/**
 * Hybrid clusters: pods on external nodes hold podSubnet addresses, which the VPC reaches only through
 * a route to the external side. CoreDNS and metrics-server belong on the VPC side (knit init patches
 * CoreDNS), and the VPC needs the route (src/cloud/alicloud/checks.ts).
 */
function hybridFindings({ spec, cluster, hybridRoute }: DoctorFacts): Finding[] {
  if (!isHybrid(spec)) return [];
  const findings: Finding[] = [];
  if (!('error' in cluster)) {
    const external = new Set([
      ...spec.nodes.filter((n) => n.external).map((n) => n.name),
      ...cluster.nodes.filter((n) => n.labels?.[CNI.externalNodeLabel] === 'true').map((n) => n.name),
    ]);
    const stray = cluster.pods.filter((p) => {
      const why = p.owner === undefined ? undefined : VPC_SIDE_DEPLOYMENTS[p.owner];
      return p.namespace === 'kube-system' && why !== undefined && p.node !== undefined && external.has(p.node) && (why === 'always' || !p.hostNetwork);
    });
    const owners = [...new Set(stray.map((p) => p.owner!))];
    findings.push(
      stray.length > 0
        ? {
            id: 'hybrid/system-placement',
            status: 'warn',
            message: `${stray.map((p) => `${p.name} on ${p.node}`).join(', ')}: on an external node (ECS nodes and Terway pods reach its pod address only through the VPC route to ${spec.kubernetes.podSubnet}; terway-controlplane needs the ECS metadata service)`,
            fix: owners.map((o) => `kubectl -n kube-system patch deployment ${o} --type strategic --patch '${vpcSidePlacementPatch()}'`).join('; '),
          }
        : { id: 'hybrid/system-placement', status: 'ok', message: `${Object.keys(VPC_SIDE_DEPLOYMENTS).join(', ')}: no pod on an external node` },
    );
  }
  if (hybridRoute === undefined) findings.push({ id: 'hybrid/vpc-route', status: 'skip', message: 'the VPC route to pods on external nodes was not checked' });
  else if ('error' in hybridRoute) findings.push({ id: 'hybrid/vpc-route', status: 'skip', message: hybridRoute.error });
  else findings.push({ id: 'hybrid/vpc-route', status: hybridRoute.status === 'pass' ? 'ok' : hybridRoute.status, message: hybridRoute.reason });
  return findings;
}

export const diagnose = (f: DoctorFacts): Finding[] => [...hostFindings(f), ...mapFindings(f), ...clusterFindings(f), ...hybridFindings(f), ...cloudFindings(f)];
