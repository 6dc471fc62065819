/**
 * The checks `knit verify` runs, planned as data from the nodes and the probe pods: for every node
 * `kubectl exec` and `kubectl logs` into its probe pod (apiserver → kubelet), then from every node's
 * probe pod: every other probe pod (pod → pod, its own node included), the probe Service's ClusterIP,
 * cluster DNS, the internet target and each external host. Each command is an argv for busybox.
 */
import { isIPv4 } from '../spec/net.js';
import { PROBE } from './manifest.js';
import type { Check, CheckResult, ClusterNode, ClusterPod, HostPort } from './types.js';

/**
 * The default internet target: AliDNS's public resolver answers HTTPS on 443 worldwide and from
 * mainland China. An address, not a name, so that a DNS failure does not pass for missing SNAT.
 */
export const DEFAULT_INTERNET = '223.5.5.5:443';

/** How long each connection inside a probe pod may take (wget -T, nc -w). */
export const CONNECT_TIMEOUT_S = 3;

const HOST = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?)(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

/** `host:port` (an IPv4 address or a DNS name, and a port); undefined when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (!isIPv4(host) && (!HOST.test(host) || /^[\d.]+$/.test(host))) return undefined;
  return { host, port };
}

export const formatHostPort = (t: HostPort): string => `${t.host}:${t.port}`;

export interface PlanInput {
  nodes: ClusterNode[];
  /** The probe DaemonSet's pods (any state). */
  probePods: ClusterPod[];
  serviceIP?: string;
  /** The name pod → DNS looks up, e.g. kubernetes.default.svc.cluster.local. */
  dnsName: string;
  internet: HostPort;
  externals: HostPort[];
  connectTimeoutS?: number;
}

export interface VerifyPlan {
  /** exec and logs into every usable probe pod: run first. */
  kubelet: Check[];
  /** Checks run inside the probe pods: only from nodes whose exec check passed. */
  inPod: Check[];
  /** Checks that cannot run (no usable probe pod on a node), already decided. */
  skipped: CheckResult[];
}

/** The probe pod of a node that can take part: Running, ready, with an IP. */
export function usableProbePod(node: string, pods: ClusterPod[]): ClusterPod | undefined {
  return pods.find((p) => p.node === node && p.ready && p.ip !== undefined);
}

export const skip = (check: Check, detail: string): CheckResult => ({ check, status: 'skip', detail, durationMs: 0 });

/** One result per node: whether its probe pod is Running and ready (nodes that are not Ready are left out). */
export function probeResults(nodes: ClusterNode[], pods: ClusterPod[], image: string): CheckResult[] {
  return nodes
    .filter((n) => n.ready)
    .map((n): CheckResult => {
      const check: Check = { id: `probe/${n.name}`, kind: 'probe', from: n.name, target: image };
      const usable = usableProbePod(n.name, pods);
      if (usable) return { check: { ...check, pod: usable.name }, status: 'pass', detail: `${usable.name} Running at ${usable.ip}`, durationMs: 0 };
      const pod = pods.find((p) => p.node === n.name);
      const detail = pod ? `${pod.name} is ${pod.phase}${pod.reason ? ` (${pod.reason})` : ''}` : `no probe pod was scheduled on ${n.name}`;
      return { check, status: 'fail', detail, durationMs: 0 };
    });
}

export function planChecks(input: PlanInput): VerifyPlan {
  const t = String(input.connectTimeoutS ?? CONNECT_TIMEOUT_S);
  const kubelet: Check[] = [];
  const inPod: Check[] = [];
  const skipped: CheckResult[] = [];
  const nodes = input.nodes.map((n) => n.name);
  const pod = new Map(nodes.map((n) => [n, usableProbePod(n, input.probePods)] as const));
  const why = (n: string) => {
    const node = input.nodes.find((x) => x.name === n);
    return node && !node.ready ? `${n} is not Ready` : `no Ready probe pod on ${n}`;
  };
  const http = (ip: string, port: number) => ['wget', '-q', '-T', t, '-O-', `http://${ip}:${port}/${PROBE.nameFile}`];
  const probeNames = [...pod.values()].flatMap((p) => (p ? [p.name] : []));

  for (const from of nodes) {
    const src = pod.get(from);
    const add = (list: Check[], c: Omit<Check, 'from' | 'pod'>) => {
      const check: Check = { ...c, from, ...(src ? { pod: src.name } : {}) };
      if (!src) skipped.push(skip(check, why(from)));
      else if (check.to !== undefined && !pod.get(check.to)) skipped.push(skip(check, why(check.to)));
      else list.push(check);
    };
    add(kubelet, { id: `exec/${from}`, kind: 'exec', target: 'kubectl exec', argv: ['hostname'], ...(src ? { expect: [src.name] } : {}) });
    add(kubelet, { id: `logs/${from}`, kind: 'logs', target: 'kubectl logs' });
    for (const to of nodes) {
      const dst = pod.get(to);
      add(inPod, {
        id: `pod-pod/${from}/${to}`,
        kind: 'pod-pod',
        to,
        target: dst?.ip ?? '-',
        ...(dst?.ip ? { argv: http(dst.ip, PROBE.port), expect: [dst.name] } : {}),
      });
    }
    if (input.serviceIP)
      add(inPod, {
        id: `pod-service/${from}`,
        kind: 'pod-service',
        target: `${input.serviceIP}:${PROBE.servicePort}`,
        argv: http(input.serviceIP, PROBE.servicePort),
        expect: probeNames,
      });
    add(inPod, { id: `pod-dns/${from}`, kind: 'pod-dns', target: input.dnsName, argv: ['nslookup', input.dnsName] });
    add(inPod, {
      id: `pod-internet/${from}`,
      kind: 'pod-internet',
      target: formatHostPort(input.internet),
      argv: ['nc', '-z', '-w', t, input.internet.host, String(input.internet.port)],
    });
    for (const ext of input.externals)
      add(inPod, {
        id: `pod-external/${from}/${formatHostPort(ext)}`,
        kind: 'pod-external',
        target: formatHostPort(ext),
        argv: ['nc', '-z', '-w', t, ext.host, String(ext.port)],
      });
  }
  return { kubelet, inPod, skipped };
}

/** What kubectl said when it ran a check (the adapter's raw answer). */
export interface CheckRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Killed by the adapter's own deadline. */
  killed?: boolean;
}

const TIMEOUT = /timed? ?out|timeout|deadline exceeded|Timeout occurred/i;
const REMOTE_EXIT = /^command terminated with exit code (\d+)\s*$/m;

const firstLine = (text: string): string =>
  text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '' && !REMOTE_EXIT.test(l)) ?? '';

/** Turns kubectl's answer into a result: the command's own failure, kubectl's failure, or success. */
export function evaluate(check: Check, run: CheckRun): CheckResult {
  const output = `${run.stdout}${run.stderr}`;
  const base = { check, durationMs: run.durationMs, ...(output.trim() ? { output } : {}) };
  if (run.killed) return { ...base, status: 'fail', timedOut: true, detail: `no answer within ${(run.durationMs / 1000).toFixed(0)}s` };
  if (run.exitCode !== 0) {
    const remote = REMOTE_EXIT.exec(run.stderr);
    const line = firstLine(run.stderr) || firstLine(run.stdout);
    const timedOut = TIMEOUT.test(output);
    if (remote) return { ...base, status: 'fail', ...(timedOut ? { timedOut } : {}), detail: line || `exit code ${remote[1]}` };
    const verb = check.kind === 'logs' ? 'kubectl logs' : 'kubectl exec';
    return { ...base, status: 'fail', ...(timedOut ? { timedOut } : {}), detail: `${verb} failed: ${line || `exit code ${run.exitCode}`}` };
  }
  const answer = run.stdout.trim();
  if (check.expect && !check.expect.includes(answer))
    return { ...base, status: 'fail', detail: `answered ${JSON.stringify(firstLine(answer) || answer)}, expected ${check.expect.length === 1 ? check.expect[0] : `one of ${check.expect.join(', ')}`}` };
  return { ...base, status: 'pass', detail: passDetail(check, answer) };
}

function passDetail(check: Check, answer: string): string {
  switch (check.kind) {
    case 'exec':
    case 'pod-pod':
    case 'pod-service':
      return `answered ${answer}`;
    case 'logs':
      return 'logs read';
    case 'pod-dns': {
      // busybox nslookup: the server's own "Address: 10.96.0.10:53" comes first, then the answers
      const addresses = [...answer.matchAll(/^Address(?:\s+\d+)?:\s*(\S+)\s*$/gm)].map((m) => m[1]!).filter((a) => !a.includes(':') && !a.includes('#'));
      return addresses.length > 0 ? `resolved to ${addresses.join(', ')}` : 'resolved';
    }
    default:
      return 'connected';
  }
}

/** A check inside a probe pod whose exec check failed: it cannot run. */
export const skipAfterExec = (check: Check, exec: CheckResult): CheckResult =>
  skip(check, `kubectl exec into ${check.from}'s probe pod failed (${exec.timedOut ? 'timed out' : exec.detail})`);
