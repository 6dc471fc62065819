/**
 * Turns what `kubectl get … -o json` prints into verify's data, and says how far the cluster is from
 * ready: every node Ready, every CNI pod Running with its containers ready, a CNI DaemonSet pod on
 * every node. Pure: the adapter hands in the parsed JSON.
 */
import type { Rollout } from '../cni/types.js';
import type { Check, CheckResult, ClusterNode, ClusterPod } from './types.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
export interface NodeJson {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { conditions?: Condition[]; addresses?: { type: string; address: string }[] };
}
interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: object;
  terminated?: { reason?: string; exitCode?: number };
}
export interface PodJson {
  metadata: { name: string; namespace?: string; ownerReferences?: { kind: string; name: string }[]; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: string;
    conditions?: Condition[];
    containerStatuses?: { name: string; ready: boolean; state?: ContainerState }[];
  };
}
export interface ServiceJson {
  metadata: { name: string };
  spec?: { clusterIP?: string };
}
export interface ListJson<T> {
  items: T[];
}

export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

export function parseNodes(list: ListJson<NodeJson>): ClusterNode[] {
  return list.items
    .map((n): ClusterNode => {
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      return {
        name: n.metadata.name,
        ready: ready?.status === 'True',
        ...(ready && ready.status !== 'True'
          ? { readyReason: ready.reason ?? `Ready=${ready.status}`, ...(ready.message ? { readyMessage: ready.message } : {}) }
          : {}),
        ...(!ready ? { readyReason: 'no Ready condition' } : {}),
        ...(ip ? { internalIP: ip } : {}),
        controlPlane: n.metadata.labels?.[CONTROL_PLANE_LABEL] !== undefined,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A ReplicaSet is named after its Deployment plus a hash: the Deployment is the workload. */
function owner(p: PodJson): { owner?: string; ownerKind?: string } {
  const o = p.metadata.ownerReferences?.[0];
  if (!o) return {};
  if (o.kind === 'ReplicaSet') return { owner: o.name.replace(/-[a-z0-9]{5,10}$/, ''), ownerKind: 'Deployment' };
  return { owner: o.name, ownerKind: o.kind };
}

function notReadyReason(p: PodJson): string | undefined {
  const s = p.status;
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const c of s?.containerStatuses ?? []) {
    if (c.ready) continue;
    const why = c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? (c.state?.running ? 'not ready (readiness probe)' : undefined);
    if (why) return why;
  }
  const unscheduled = s?.conditions?.find((c) => c.type === 'PodScheduled' && c.status !== 'True');
  if (unscheduled) return unscheduled.reason ?? 'not scheduled';
  return s?.reason;
}

export function parsePods(list: ListJson<PodJson>): ClusterPod[] {
  return list.items.map((p): ClusterPod => {
    const statuses = p.status?.containerStatuses ?? [];
    const phase = p.status?.phase ?? 'Unknown';
    const ready = phase === 'Running' && statuses.length > 0 && statuses.every((c) => c.ready) && !p.metadata.deletionTimestamp;
    const reason = ready ? undefined : notReadyReason(p);
    return {
      namespace: p.metadata.namespace ?? '',
      name: p.metadata.name,
      ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
      ...(p.status?.podIP ? { ip: p.status.podIP } : {}),
      phase,
      ready,
      ...(reason ? { reason } : {}),
      ...owner(p),
    };
  });
}

export const serviceIP = (svc: ServiceJson): string | undefined => {
  const ip = svc.spec?.clusterIP;
  return ip && ip !== 'None' ? ip : undefined;
};

/** The pods that belong to the CNI's workloads. */
export const cniPods = (pods: ClusterPod[], rollouts: Rollout[]): ClusterPod[] =>
  pods.filter((p) =>
    rollouts.some(
      (r) => r.namespace === p.namespace && r.name === p.owner && (r.kind === 'daemonset' ? p.ownerKind === 'DaemonSet' : p.ownerKind === 'Deployment'),
    ),
  );

const podState = (p: ClusterPod): string => (p.ready ? 'Running' : p.reason ? `${p.phase} (${p.reason})` : p.phase);

/** What is wrong with the CNI on one node (empty: nothing). */
export function cniProblems(node: string, pods: ClusterPod[], rollouts: Rollout[]): string[] {
  const mine = cniPods(pods, rollouts).filter((p) => p.node === node);
  const problems = mine.filter((p) => !p.ready).map((p) => `${p.namespace}/${p.name} is ${podState(p)}`);
  const daemonSets = rollouts.filter((r) => r.kind === 'daemonset');
  // a hybrid cluster keeps each CNI's DaemonSet on its side of the cluster: one of them is enough
  if (daemonSets.length > 0 && !mine.some((p) => p.ownerKind === 'DaemonSet'))
    problems.push(`no pod of ${daemonSets.map((r) => `${r.namespace}/${r.name}`).join(' or ')} on ${node}`);
  return problems;
}

/** CNI Deployment pods not on any node (e.g. calico-kube-controllers Pending). */
export const unscheduledCniPods = (pods: ClusterPod[], rollouts: Rollout[]): ClusterPod[] =>
  cniPods(pods, rollouts).filter((p) => p.node === undefined);

export interface Readiness {
  /** Every node Ready and the CNI healthy everywhere. */
  done: boolean;
  /** e.g. "nodes Ready 2/3, CNI pods Running 5/6" (the progress line while waiting). */
  summary: string;
}

export function assessReadiness(nodes: ClusterNode[], pods: ClusterPod[], rollouts: Rollout[]): Readiness {
  const cni = cniPods(pods, rollouts);
  const readyNodes = nodes.filter((n) => n.ready).length;
  const readyPods = cni.filter((p) => p.ready).length;
  const cniOk = nodes.every((n) => cniProblems(n.name, pods, rollouts).length === 0) && unscheduledCniPods(pods, rollouts).length === 0;
  const summary =
    rollouts.length > 0
      ? `nodes Ready ${readyNodes}/${nodes.length}, CNI pods Running ${readyPods}/${cni.length}`
      : `nodes Ready ${readyNodes}/${nodes.length}`;
  return { done: nodes.length > 0 && readyNodes === nodes.length && cniOk, summary };
}

const fact = (check: Check, ok: boolean, detail: string): CheckResult => ({ check, status: ok ? 'pass' : 'fail', detail, durationMs: 0 });

/** The node-ready and cni-pods results, one per node (and one for CNI pods no node runs). */
export function readinessResults(nodes: ClusterNode[], pods: ClusterPod[], rollouts: Rollout[]): CheckResult[] {
  const results: CheckResult[] = [];
  for (const n of nodes) {
    const why = [n.readyReason, n.readyMessage].filter(Boolean).join(': ');
    results.push(fact({ id: `node-ready/${n.name}`, kind: 'node-ready', from: n.name, target: 'Ready condition' }, n.ready, n.ready ? 'Ready' : `NotReady (${why})`));
  }
  if (rollouts.length === 0) return results;
  const workloads = rollouts.map((r) => `${r.namespace}/${r.name}`).join(', ');
  for (const n of nodes) {
    const problems = cniProblems(n.name, pods, rollouts);
    const count = cniPods(pods, rollouts).filter((p) => p.node === n.name).length;
    results.push(
      fact({ id: `cni-pods/${n.name}`, kind: 'cni-pods', from: n.name, target: workloads }, problems.length === 0, problems.length === 0 ? `${count} Running` : problems.join('; ')),
    );
  }
  const pending = unscheduledCniPods(pods, rollouts);
  if (pending.length > 0)
    results.push(
      fact({ id: 'cni-pods/unscheduled', kind: 'cni-pods', from: '(no node)', target: workloads }, false, pending.map((p) => `${p.namespace}/${p.name} is ${podState(p)}`).join('; ')),
    );
  return results;
}
