/**
 * `knit verify`'s data: what the cluster looks like (read through kubectl by the adapter), the checks
 * planned from it, and their results. Pure data; no I/O anywhere under src/verify/.
 */

/** A node as verify needs it (from `kubectl get nodes -o json`). */
export interface ClusterNode {
  name: string;
  ready: boolean;
  /** The Ready condition's reason and message when not Ready (e.g. KubeletNotReady, "…cni plugin not initialized"). */
  readyReason?: string;
  readyMessage?: string;
  internalIP?: string;
  /** Carries node-role.kubernetes.io/control-plane. */
  controlPlane: boolean;
}

/** A pod as verify needs it (CNI pods and probe pods, from `kubectl get pods -o json`). */
export interface ClusterPod {
  namespace: string;
  name: string;
  node?: string;
  ip?: string;
  phase: string;
  /** Every container ready. */
  ready: boolean;
  /** Why it is not running or not ready: a container's waiting/terminated reason (CrashLoopBackOff, ImagePullBackOff…). */
  reason?: string;
  /** The workload: a DaemonSet's name, or a Deployment's (its ReplicaSet's name without the hash). */
  owner?: string;
  ownerKind?: string;
}

/** `host:port`, as given to --internet and --external. */
export interface HostPort {
  host: string;
  port: number;
}

export type CheckKind =
  | 'node-ready'
  | 'cni-pods'
  | 'probe'
  | 'exec'
  | 'logs'
  | 'pod-pod'
  | 'pod-service'
  | 'pod-dns'
  | 'pod-internet'
  | 'pod-external';

export const CHECK_KINDS: readonly CheckKind[] = [
  'node-ready',
  'cni-pods',
  'probe',
  'exec',
  'logs',
  'pod-pod',
  'pod-service',
  'pod-dns',
  'pod-internet',
  'pod-external',
];

/**
 * One check: something the adapter runs (`exec`: argv inside `pod`; `logs`: `kubectl logs pod`) or a
 * fact already read (node-ready, cni-pods, probe), planned as data.
 */
export interface Check {
  /** Stable and unique, e.g. `pod-pod/master-1/worker-1`, `pod-internet/worker-1`. */
  id: string;
  kind: CheckKind;
  /** The node the check starts from (the node itself for node-ready, cni-pods, probe, exec, logs). */
  from: string;
  /** The other node of a pair (pod-pod). */
  to?: string;
  /** What is reached, in words: a pod IP, the Service IP, a DNS name, host:port. */
  target: string;
  /** The probe pod to run in (exec-based checks) or to read the logs of. */
  pod?: string;
  /** The command run inside `pod` through `kubectl exec` (argv, never a shell string). */
  argv?: string[];
  /** The answer that counts as success when the command exits 0 (e.g. the target pod's name). */
  expect?: string[];
}

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  check: Check;
  status: CheckStatus;
  /** One line: what happened (the answer, the error's first line, why it was skipped). */
  detail: string;
  /** The command's output, for the JUnit failure body and the JSON document. */
  output?: string;
  timedOut?: boolean;
  durationMs: number;
}

/** What the causes need to know about the cluster beyond one result. */
export interface CauseContext {
  /** The CNI plugins in use (a hybrid cluster has two). */
  plugins: string[];
  /** What the CNI's data path needs between nodes, e.g. "8472/udp (flannel VXLAN)". */
  datapathNeeds: string[];
  nodes: ClusterNode[];
  /** Whether two nodes are in different VPCs (from the spec's vpc labels, else their InternalIPs' /24). */
  crossVpc(a: string, b: string): boolean;
  serviceIP?: string;
  dnsName: string;
  probeImage: string;
}
