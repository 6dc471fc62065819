/**
 * `knit verify`'s cluster adapter: every kubectl call it makes (argv arrays through Exec), and the
 * session that uses them: wait for nodes Ready and CNI pods Running, deploy the probe, run the planned
 * checks, and delete the probe namespace afterwards, also when the run fails or is cancelled.
 */
import type { ImageSource } from '../cni/images.js';
import type { Rollout } from '../cni/types.js';
import { CancelledError, StepError } from '../errors.js';
import type { Exec } from '../host/exec.js';
import { formatArgv } from '../runner/describe.js';
import type { Argv } from '../runner/types.js';
import { evaluate, planChecks, probeResults, skipAfterExec, type CheckRun } from '../verify/checks.js';
import {
  assessReadiness,
  parseNodes,
  parsePods,
  readinessResults,
  serviceIP,
  type ListJson,
  type NodeJson,
  type PodJson,
  type ServiceJson,
} from '../verify/cluster-state.js';
import type { Cleanup } from '../verify/report.js';
import { PROBE, PROBE_SELECTOR, probeManifest, probeObjects } from '../verify/manifest.js';
import type { Check, CheckResult, ClusterNode, ClusterPod, HostPort } from '../verify/types.js';

/** How long a plain `kubectl get` may take. */
const GET_TIMEOUT_S = 15;
/** How long the cleanup's `kubectl delete namespace --wait=false` may take. */
const DELETE_TIMEOUT_S = 30;
/** Kill a kubectl that outlives its own --request-timeout by this much. */
const KILL_GRACE_S = 5;
/**
 * …and a `get` by this much: kubectl retries API discovery, each try given the whole --request-timeout,
 * so a silent apiserver would hold a 1 s read for ~5 s.
 */
const GET_KILL_GRACE_S = 1;

export class KubectlCallError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

/** The kubectl calls verify makes. `kubeconfig` undefined: kubectl's own default ($KUBECONFIG list). */
export class VerifyKubectl {
  constructor(
    private readonly exec: Exec,
    private readonly kubeconfig: string | undefined,
  ) {}

  private argv(args: string[], requestTimeoutS: number): Argv {
    return ['kubectl', ...(this.kubeconfig ? ['--kubeconfig', this.kubeconfig] : []), `--request-timeout=${requestTimeoutS}s`, ...args];
  }

  /**
   * Runs kubectl; never throws for a non-zero exit (the caller decides). kubectl's --request-timeout
   * has not always bounded a streaming `exec`, so Exec also kills it a little later.
   */
  async run(args: string[], opts: { stdin?: string; timeoutS: number; graceS?: number }): Promise<CheckRun & { argv: Argv }> {
    const argv = this.argv(args, opts.timeoutS);
    const hardMs = (opts.timeoutS + (opts.graceS ?? KILL_GRACE_S)) * 1000;
    const started = Date.now();
    const r = await this.exec(argv, { stdin: opts.stdin, timeoutMs: hardMs });
    const durationMs = Date.now() - started;
    // Exec reports a process killed at its deadline as a plain failure: the clock tells
    const killed = r.exitCode !== 0 && durationMs >= hardMs - 100;
    return { argv, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, durationMs, ...(killed ? { killed } : {}) };
  }

  private async call(args: string[], opts: { stdin?: string; timeoutS?: number } = {}): Promise<string> {
    const r = await this.run(args, { timeoutS: GET_TIMEOUT_S, ...(args[0] === 'get' ? { graceS: GET_KILL_GRACE_S } : {}), ...opts });
    if (r.exitCode !== 0) {
      const first = r.stderr.trim().split('\n')[0] || `exit code ${r.exitCode}`;
      throw new KubectlCallError(`\`${formatArgv(r.argv)}\`: ${r.killed ? 'no answer' : first}`, `${r.stdout}${r.stderr}`);
    }
    return r.stdout;
  }

  private async getJson<T>(args: string[], timeoutS = GET_TIMEOUT_S): Promise<T> {
    const out = await this.call(['get', ...args, '-o', 'json'], { timeoutS });
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new KubectlCallError(`kubectl get ${args.join(' ')} did not print JSON`, out);
    }
  }

  /** `timeoutS`: each read's --request-timeout (default 15 s; the waits give what is left of theirs). */
  async nodes(timeoutS?: number): Promise<ClusterNode[]> {
    return parseNodes(await this.getJson<ListJson<NodeJson>>(['nodes'], timeoutS));
  }

  async pods(namespace: string, selector?: string, timeoutS?: number): Promise<ClusterPod[]> {
    return parsePods(await this.getJson<ListJson<PodJson>>(['pods', '-n', namespace, ...(selector ? ['-l', selector] : [])], timeoutS));
  }

  async daemonSets(timeoutS?: number): Promise<{ namespace: string; name: string }[]> {
    const list = await this.getJson<ListJson<{ metadata: { name: string; namespace: string } }>>(['daemonsets', '--all-namespaces'], timeoutS);
    return list.items.map((d) => ({ namespace: d.metadata.namespace, name: d.metadata.name }));
  }

  async serviceIP(namespace: string, name: string): Promise<string | undefined> {
    return serviceIP(await this.getJson<ServiceJson>(['service', name, '-n', namespace]));
  }

  async apply(yaml: string): Promise<string> {
    return this.call(['apply', '--server-side', '--field-manager=knit', '-f', '-'], { stdin: yaml });
  }

  execIn(namespace: string, pod: string, argv: string[], timeoutS: number): Promise<CheckRun> {
    return this.run(['exec', '-n', namespace, pod, '-c', PROBE.container, '--', ...argv], { timeoutS });
  }

  logs(namespace: string, pod: string, timeoutS: number): Promise<CheckRun> {
    return this.run(['logs', '-n', namespace, pod, '-c', PROBE.container, '--tail=5'], { timeoutS });
  }

  async deleteNamespace(namespace: string): Promise<void> {
    await this.call(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found'], { timeoutS: DELETE_TIMEOUT_S });
  }
}

/** The CNI workloads of one plugin, as `rollouts(spec)` gives them. */
export interface CniCandidate {
  plugin: string;
  rollouts: Rollout[];
}

export interface VerifySession {
  kube: VerifyKubectl;
  /** The plugins to wait for; with `detect`, the ones whose DaemonSets exist in the cluster are kept. */
  cni: CniCandidate[];
  detect: boolean;
  /** The probe namespace's suffix (`knit-verify-<suffix>`). */
  suffix: string;
  imageSource: ImageSource;
  dnsName: string;
  internet: HostPort;
  externals: HostPort[];
  /** Wait this long for nodes Ready and CNI pods Running, and again for the probe pods. */
  timeoutS: number;
  /** Each kubectl exec/logs: its --request-timeout. */
  checkTimeoutS: number;
  pollMs: number;
  /** Leave the namespace in place (--keep). */
  keep: boolean;
  signal: AbortSignal;
  /** A progress line; `transient` ones (counters) only update a spinner, they are not logged. */
  progress(text: string, transient?: boolean): void;
  note(text: string): void;
  /** kubectl calls at once while checking. */
  concurrency?: number;
}

export interface VerifyOutcome {
  results: CheckResult[];
  nodes: ClusterNode[];
  plugins: string[];
  namespace: string;
  image: string;
  serviceIP?: string;
  /** What became of the probe namespace. */
  cleanup: Cleanup;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

const cancelled = () => new CancelledError('cancelled');

/** The promise, or CancelledError as soon as the signal fires (the kubectl child is left to finish). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function pool<T, R>(items: T[], limit: number, signal: AbortSignal, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (signal.aborted) throw cancelled();
      const i = next++;
      results[i] = await abortable(fn(items[i]!), signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Keeps the plugins whose DaemonSets exist (a cluster whose CNI the spec does not name). */
async function detectCni(s: VerifySession): Promise<CniCandidate[]> {
  if (!s.detect) return s.cni;
  const present = await abortable(s.kube.daemonSets(Math.min(GET_TIMEOUT_S, s.timeoutS)), s.signal).catch((e: Error) => {
    throw e instanceof KubectlCallError ? unreadable(e) : e;
  });
  const has = (r: Rollout) => r.kind !== 'daemonset' || present.some((d) => d.namespace === r.namespace && d.name === r.name);
  const found = s.cni.filter((c) => c.rollouts.some((r) => r.kind === 'daemonset') && c.rollouts.filter((r) => r.kind === 'daemonset').every(has));
  if (found.length === 0) s.note(`no DaemonSet of ${s.cni.map((c) => c.plugin).join(', ')} found: not checking CNI pods (name the CNI with --cni or -f)`);
  return found;
}

const unreadable = (e: Error | undefined): StepError =>
  new StepError('verify/cluster', `cannot read the cluster: ${e?.message ?? 'no answer'}`, e instanceof KubectlCallError ? [e.output.trim()] : []);

/** A read's --request-timeout within a wait: what is left of it, at least 1 s, at most GET_TIMEOUT_S. */
const readTimeoutS = (deadline: number): number => Math.max(1, Math.min(GET_TIMEOUT_S, Math.ceil((deadline - Date.now()) / 1000)));

/** Polls until every node is Ready and the CNI runs everywhere, or the timeout: the last state either way. */
async function waitReady(s: VerifySession, rollouts: Rollout[]): Promise<{ nodes: ClusterNode[]; pods: ClusterPod[] }> {
  const deadline = Date.now() + s.timeoutS * 1000;
  const namespaces = [...new Set(rollouts.map((r) => r.namespace))];
  let last: { nodes: ClusterNode[]; pods: ClusterPod[] } | undefined;
  let lastError: Error | undefined;
  let said = '';
  for (;;) {
    try {
      // no read outlives the wait: an apiserver that never answers is given what is left of --timeout
      const t = readTimeoutS(deadline);
      const [nodes, ...podLists] = await abortable(Promise.all([s.kube.nodes(t), ...namespaces.map((ns) => s.kube.pods(ns, undefined, t))]), s.signal);
      last = { nodes: nodes as ClusterNode[], pods: (podLists as ClusterPod[][]).flat() };
      const r = assessReadiness(last.nodes, last.pods, rollouts);
      if (r.summary !== said) s.progress(`waiting for the cluster: ${(said = r.summary)}`);
      if (r.done) return last;
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      lastError = e as Error;
      // the first read failing (no kubectl, a wrong kubeconfig, no apiserver) is not worth waiting on;
      // once the cluster answered, a failed poll is a blip (an apiserver restarting)
      if (!last) break;
      s.progress(`waiting for the cluster: ${lastError.message.split('\n')[0]}`);
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(s.pollMs, Math.max(0, deadline - Date.now())), s.signal);
    if (s.signal.aborted) throw cancelled();
  }
  if (!last) throw unreadable(lastError);
  s.note(`not every node is Ready with its CNI pods Running after ${s.timeoutS}s; checking what can be checked`);
  return last;
}

/** Polls the probe pods until every Ready node has a usable one, or the timeout. */
async function waitProbe(s: VerifySession, namespace: string, nodes: ClusterNode[]): Promise<ClusterPod[]> {
  const deadline = Date.now() + s.timeoutS * 1000;
  const wanted = nodes.filter((n) => n.ready).map((n) => n.name);
  let pods: ClusterPod[] = [];
  let said = '';
  for (;;) {
    try {
      pods = await abortable(s.kube.pods(namespace, PROBE_SELECTOR, readTimeoutS(deadline)), s.signal);
    } catch (e) {
      if (e instanceof CancelledError) throw e;
    }
    const ready = wanted.filter((n) => pods.some((p) => p.node === n && p.ready && p.ip));
    const text = `probe pods Ready ${ready.length}/${wanted.length}`;
    if (text !== said) s.progress(`waiting for the probe: ${(said = text)}`);
    if (ready.length === wanted.length || Date.now() >= deadline) return pods;
    await sleep(Math.min(s.pollMs, Math.max(0, deadline - Date.now())), s.signal);
    if (s.signal.aborted) throw cancelled();
  }
}

async function runCheck(s: VerifySession, namespace: string, check: Check): Promise<CheckResult> {
  const pod = check.pod!;
  const run = check.kind === 'logs' ? s.kube.logs(namespace, pod, s.checkTimeoutS) : s.kube.execIn(namespace, pod, check.argv!, s.checkTimeoutS);
  return evaluate(check, await run);
}

/**
 * One verify run. The probe namespace is deleted in every case once an apply was attempted (unless
 * `keep`), before a cancellation is reported; the results come back for the caller to report.
 */
export async function runVerification(s: VerifySession): Promise<VerifyOutcome> {
  const probe = probeObjects(s.suffix, s.imageSource);
  const { namespace, image } = probe;
  const concurrency = s.concurrency ?? 8;
  let applied = false;
  const outcome = async (): Promise<Omit<VerifyOutcome, 'cleanup'>> => {
    const cni = await detectCni(s);
    const rollouts = cni.flatMap((c) => c.rollouts);
    const plugins = cni.map((c) => c.plugin);
    const { nodes, pods } = await waitReady(s, rollouts);
    if (nodes.length === 0) throw new StepError('verify/nodes', 'the cluster has no nodes: nothing to verify');
    const results = readinessResults(nodes, pods, rollouts);
    let probePods: ClusterPod[] = [];
    let svcIP: string | undefined;
    if (nodes.some((n) => n.ready)) {
      s.progress(`deploying the probe (namespace ${namespace}, ${image})`);
      applied = true;
      try {
        await abortable(s.kube.apply(probeManifest(probe)), s.signal);
      } catch (e) {
        if (e instanceof KubectlCallError) throw new StepError('verify/probe', `cannot deploy the probe: ${e.message}`, [e.output.trim()]);
        throw e;
      }
      probePods = await waitProbe(s, namespace, nodes);
      results.push(...probeResults(nodes, probePods, image));
      svcIP = await abortable(s.kube.serviceIP(namespace, PROBE.workload), s.signal).catch((e: Error) => {
        if (e instanceof CancelledError) throw e;
        s.note(`could not read the probe Service's ClusterIP (${e.message}); pod → Service is not checked`);
        return undefined;
      });
    }
    const plan = planChecks({ nodes, probePods, ...(svcIP ? { serviceIP: svcIP } : {}), dnsName: s.dnsName, internet: s.internet, externals: s.externals });
    results.push(...plan.skipped);
    const total = plan.kubelet.length + plan.inPod.length;
    let done = 0;
    if (total > 0) s.progress(`running ${total} checks (kubectl exec, ${concurrency} at a time)`);
    const tick = <T>(r: T): T => {
      s.progress(`checking: ${++done}/${total}`, true);
      return r;
    };
    const kubelet = await pool(plan.kubelet, concurrency, s.signal, async (c) => tick(await runCheck(s, namespace, c)));
    results.push(...kubelet);
    const execOf = new Map(kubelet.filter((r) => r.check.kind === 'exec').map((r) => [r.check.from, r]));
    const inPod = await pool(plan.inPod, concurrency, s.signal, async (c) => {
      const exec = execOf.get(c.from);
      return tick(exec && exec.status !== 'pass' ? skipAfterExec(c, exec) : await runCheck(s, namespace, c));
    });
    results.push(...inPod);
    return { results, nodes, plugins, namespace, image, ...(svcIP ? { serviceIP: svcIP } : {}) };
  };
  try {
    const r = await outcome();
    return { ...r, cleanup: await cleanup() };
  } catch (e) {
    await cleanup();
    throw e;
  }

  async function cleanup(): Promise<Cleanup> {
    if (!applied) return 'not-created';
    if (s.keep) {
      s.note(`kept namespace ${namespace} (--keep); delete it with: kubectl delete namespace ${namespace}`);
      return 'kept';
    }
    s.progress(`deleting namespace ${namespace}`);
    try {
      await s.kube.deleteNamespace(namespace);
      return 'deleted';
    } catch (e) {
      s.note(`could not delete namespace ${namespace} (${(e as Error).message}); delete it with: kubectl delete namespace ${namespace}`);
      return 'failed';
    }
  }
}
