/**
 * A plan is an ordered list of named steps; a step's effects are plain data. One runner interprets
 * them three ways: print (dry-run), files (render) and apply (the only code with side effects).
 */

export type Argv = [string, ...string[]];

export type WaitTarget =
  | { kind: 'node-ready'; node: string }
  /** A DaemonSet or Deployment has rolled out (every desired pod ready). */
  | { kind: 'rollout'; resource: 'daemonset' | 'deployment'; namespace: string; name: string }
  /** CustomResourceDefinitions are Established (their resources can be created). */
  | { kind: 'crds-established'; names: string[] };

export type Effect =
  /** Write a file atomically; backed up first; a no-op when the content is already identical. */
  | { kind: 'file'; path: string; content: string; mode?: number }
  /** Remove a file or directory (backed up first); a no-op when absent. */
  | { kind: 'remove'; path: string }
  /** Copy a file that exists only at apply time (e.g. admin.conf); a no-op when the copy is identical. */
  | { kind: 'copy'; from: string; to: string; mode?: number }
  /**
   * Run a process (argv only, never a shell). `okExitCodes` other than 0 count as success. With
   * `logFile` (a host path) the output is also streamed there as it arrives.
   */
  | { kind: 'exec'; argv: Argv; stdin?: string; okExitCodes?: number[]; logFile?: string }
  /** Set a live kernel parameter (/proc/sys); a no-op when it already has the value. */
  | { kind: 'sysctl'; key: string; value: string }
  /** One `iptables-restore --noflush` transaction (the payload holds whole tables' worth of chains). */
  | { kind: 'iptables'; payload: string }
  /** One atomic `nft -f -` transaction; `table` (e.g. `ip knit`) is the table it changes. */
  | { kind: 'nft'; table: string; payload: string }
  /** `kubectl apply --server-side` of a multi-document manifest. */
  | { kind: 'kube-apply'; name: string; yaml: string }
  /** Set annotations on a node, or remove those given as null (idempotent: an equal value changes nothing). */
  | { kind: 'kube-annotate'; node: string; annotations: Record<string, string | null> }
  | { kind: 'wait'; target: WaitTarget; timeoutS: number }
  /** Run knit's host checks for a role; stops the plan (exit 3) when a check fails. */
  | { kind: 'preflight'; role: 'control-plane' | 'worker' };

/** A read-only question about the host, asked before a step runs. */
export type Probe =
  | { kind: 'file-exists'; path: string }
  | { kind: 'exec-ok'; argv: Argv }
  /** The API server behind this kubeconfig (a host path) answers /readyz. */
  | { kind: 'apiserver-ready'; kubeconfig: string }
  /** The cluster already holds these objects as written (`kubectl diff --server-side` finds nothing). */
  | { kind: 'kube-in-sync'; name: string; yaml: string }
  /** Every probe holds (asked in order; stops at the first that does not). */
  | { kind: 'all'; probes: Probe[] };

export interface Step {
  /** Stable `group/name` id; users name it in --skip. */
  id: string;
  title: string;
  effects: Effect[];
  /** When this probe holds, the step is already done and is not applied again. */
  doneWhen?: Probe;
  /** A line printed after the step, in dry-run too (why it exists, what it needs). */
  note?: string;
  /** What to do when this step fails, besides resuming (e.g. start over with `knit reset`). */
  onFailure?: string;
}

export type StepStatus = 'applied' | 'unchanged' | 'skipped' | 'already-done';

export interface StepResult {
  id: string;
  title: string;
  status: StepStatus;
  /** Number of effects that changed something. */
  changed: number;
}

export interface EffectOutcome {
  changed: boolean;
  /** Captured output, shown (tail) when a step fails. */
  output?: string;
}

/** The side-effect interpreter, provided by the host/cluster adapters. */
export interface EffectApplier {
  apply(effect: Effect): Promise<EffectOutcome>;
  probe(probe: Probe): Promise<boolean>;
}
