/**
 * `knit verify`: after install, is the cluster's network what it should be? Waits (with a timeout and
 * progress) for every node Ready and the CNI pods Running, deploys a probe DaemonSet and Service in a
 * namespace of its own, checks pod → pod for every pair of nodes, pod → Service, DNS, internet and
 * external hosts, and `kubectl exec`/`logs` on every node; reports a table, one JSON document
 * (`-o json`) or JUnit XML (`--junit-file`); deletes the namespace afterwards, also on Ctrl-C (exit 130).
 * Exit 1 when a check fails, naming the node pair and the likely cause.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cniNeeds, formatNeed, PLUGINS, pluginsOf } from '../cni/index.js';
import { runVerification, VerifyKubectl, type CniCandidate, type VerifyOutcome } from '../cluster/verify.js';
import { sameVpc } from '../crossvpc/peers.js';
import { PATHS } from '../defaults.js';
import { CancelledError, UsageError } from '../errors.js';
import { sameSubnet } from '../spec/net.js';
import { CNI_PLUGINS, type Spec } from '../spec/schema.js';
import { DEFAULT_INTERNET, parseHostPort } from '../verify/checks.js';
import { exitCodeOf, formatReport, junitXml, reportJson, type ReportMeta } from '../verify/report.js';
import type { CauseContext, HostPort } from '../verify/types.js';
import type { CommandContext, SignalSource } from '../command-support/context.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';
import { createSpinner } from '../ui/progress.js';

export interface VerifyOptions extends SpecOptions {
  /** Seconds to wait for nodes Ready and CNI pods Running (and again for the probe pods). */
  timeout?: string;
  /** Seconds each `kubectl exec`/`logs` may take. */
  checkTimeout?: string;
  internet?: string;
  external?: string[];
  junitFile?: string;
  keep?: boolean;
  kubeconfig?: string;
}

/** What tests replace: the signal source, the namespace suffix, the polling interval. */
export interface VerifyDeps {
  signals?: SignalSource;
  /** Called when a second Ctrl-C arrives while cleaning up (default: exit 130 at once). */
  forceExit?: () => void;
  suffix?: string;
  pollMs?: number;
}

export const VERIFY_DEFAULTS = { timeoutS: 300, checkTimeoutS: 10, pollMs: 2000 } as const;

/** Stand-ins for the node fields a spec requires when no file is given (verify reads the nodes from the cluster). */
const PLACEHOLDER_NODE = { advertiseAddress: '192.0.2.1', nodeName: 'knit-verify' } as const;

function seconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a number of seconds (a whole number ≥ 1)`);
  return n;
}

function hostPort(value: string, flag: string): HostPort {
  const t = parseHostPort(value);
  if (!t) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not HOST:PORT (an IPv4 address or DNS name, and a port 1-65535)`);
  return t;
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** --kubeconfig, else $KUBECONFIG (kubectl reads a list itself), ~/.kube/config, admin.conf. */
async function findKubeconfig(opts: VerifyOptions, ctx: CommandContext): Promise<string | undefined> {
  if (opts.kubeconfig) return opts.kubeconfig;
  const env = ctx.env.KUBECONFIG;
  if (env) return env.includes(':') ? undefined : env;
  if (ctx.env.HOME && (await exists(join(ctx.env.HOME, '.kube', 'config')))) return join(ctx.env.HOME, '.kube', 'config');
  if (await ctx.files.exists(PATHS.adminConf)) return ctx.files.path(PATHS.adminConf);
  throw new UsageError(`--kubeconfig: no kubeconfig found ($KUBECONFIG, ~/.kube/config, ${PATHS.adminConf})`);
}

/** The spec: from -f and flags; without a file, flags alone (verify reads the nodes from the cluster). */
async function loadVerifySpec(opts: VerifyOptions, ctx: CommandContext): Promise<{ spec: Spec; fromFile: boolean }> {
  const { timeout: _t, checkTimeout: _c, internet: _i, external: _e, junitFile: _j, keep: _k, kubeconfig: _kc, ...specOpts } = opts;
  const fromFile = opts.config !== undefined;
  const sources = fromFile
    ? specOpts
    : { ...specOpts, advertiseAddress: opts.advertiseAddress ?? PLACEHOLDER_NODE.advertiseAddress, nodeName: opts.nodeName ?? PLACEHOLDER_NODE.nodeName };
  return { spec: (await specFromOptions(sources, ctx)).spec, fromFile };
}

/** The CNI workloads: the spec's plugins when -f or --cni names them, else every plugin's, to be detected. */
function cniCandidates(spec: Spec, named: boolean): { cni: CniCandidate[]; detect: boolean } {
  if (named) return { cni: pluginsOf(spec).map(({ def }) => ({ plugin: def.name, rollouts: def.rollouts(spec) })), detect: false };
  return { cni: CNI_PLUGINS.map((p) => ({ plugin: p, rollouts: PLUGINS[p].rollouts(spec) })), detect: true };
}

function causeContext(spec: Spec, fromFile: boolean, outcome: VerifyOutcome, dnsName: string): CauseContext {
  const specNode = (name: string) => (fromFile ? spec.nodes.find((n) => n.name === name) : undefined);
  const needs = outcome.plugins.length > 0 && outcome.plugins.every((p) => p === spec.network.plugin || p === spec.network.hybrid?.externalPlugin)
    ? cniNeeds(spec)
    : outcome.plugins.flatMap((p) => PLUGINS[p as keyof typeof PLUGINS]?.needs(spec.network) ?? []);
  return {
    plugins: outcome.plugins,
    datapathNeeds: [...new Set(needs.map(formatNeed))],
    nodes: outcome.nodes,
    crossVpc: (a, b) => {
      const [sa, sb] = [specNode(a), specNode(b)];
      if (sa && sb) return !sameVpc(sa, sb);
      const [ia, ib] = [outcome.nodes.find((n) => n.name === a)?.internalIP, outcome.nodes.find((n) => n.name === b)?.internalIP];
      return ia !== undefined && ib !== undefined && !sameSubnet(ia, ib, 24);
    },
    ...(outcome.serviceIP ? { serviceIP: outcome.serviceIP } : {}),
    dnsName,
    probeImage: outcome.image,
  };
}

/** Progress on stderr: a spinner at a terminal, a line per change elsewhere (CI logs). */
async function progressReporter(ctx: CommandContext): Promise<{ say(text: string, transient?: boolean): void; stop(): void }> {
  if (!ctx.interactive || ctx.out.format !== 'text') return { say: (t, transient) => void (transient || ctx.out.note(t)), stop: () => {} };
  const spinner = (await createSpinner()).start('knit verify');
  return { say: (t) => void (spinner.text = t), stop: () => void spinner.stop() };
}

export async function verify(opts: VerifyOptions, ctx: CommandContext, deps: VerifyDeps = {}): Promise<number> {
  const timeoutS = seconds(opts.timeout, '--timeout', VERIFY_DEFAULTS.timeoutS);
  const checkTimeoutS = seconds(opts.checkTimeout, '--check-timeout', VERIFY_DEFAULTS.checkTimeoutS);
  const internet = hostPort(opts.internet ?? DEFAULT_INTERNET, '--internet');
  const externals = (opts.external ?? []).map((e) => hostPort(e, '--external'));
  const { spec, fromFile } = await loadVerifySpec(opts, ctx);
  const kubeconfig = await findKubeconfig(opts, ctx);
  const { cni, detect } = cniCandidates(spec, fromFile || opts.cni !== undefined);
  const dnsName = `kubernetes.default.svc.${spec.kubernetes.dnsDomain}`;

  const controller = new AbortController();
  const signals = deps.signals ?? process;
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) return (deps.forceExit ?? (() => process.exit(130)))();
    ctx.out.note('cancelling: deleting the probe namespace first (Ctrl-C again to quit at once)');
    controller.abort();
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  const progress = await progressReporter(ctx);
  const started = Date.now();
  let outcome: VerifyOutcome;
  try {
    outcome = await runVerification({
      kube: new VerifyKubectl(ctx.exec, kubeconfig),
      cni,
      detect,
      suffix: deps.suffix ?? randomBytes(3).toString('hex'),
      imageSource: { mirror: spec.mirror, ...(spec.imageRegistry !== undefined ? { registry: spec.imageRegistry } : {}) },
      dnsName,
      internet,
      externals,
      timeoutS,
      checkTimeoutS,
      pollMs: deps.pollMs ?? VERIFY_DEFAULTS.pollMs,
      keep: opts.keep === true,
      signal: controller.signal,
      progress: progress.say,
      note: (t) => ctx.out.note(t),
    });
  } catch (e) {
    if (e instanceof CancelledError) throw new CancelledError('cancelled; the probe namespace was cleaned up');
    throw e;
  } finally {
    progress.stop();
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }

  const causes = causeContext(spec, fromFile, outcome, dnsName);
  const meta: ReportMeta = { namespace: outcome.namespace, cleanup: outcome.cleanup, plugins: outcome.plugins, durationMs: Date.now() - started };
  if (opts.junitFile) {
    await mkdir(dirname(opts.junitFile), { recursive: true });
    await writeFile(opts.junitFile, junitXml(outcome.results, causes, meta));
  }
  ctx.out.json(reportJson(outcome.results, causes, meta));
  for (const line of formatReport(outcome.results, causes, meta)) ctx.out.line(line);
  return exitCodeOf(outcome.results);
}

export const run = (opts: VerifyOptions, ctx: CommandContext): Promise<number> => verify(opts, ctx);
