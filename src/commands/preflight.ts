/**
 * `knit preflight`: probe this host, check it against the spec (or knit's defaults: a flannel control
 * plane), and report. `--fix` remediates failing checks, `--fix all` warnings too, as a plan whose file
 * changes are backed up under the owner `preflight`; `--undo` restores those files and live sysctls.
 */
import type { NodeSpec, Spec } from '../spec/schema.js';
import { hasPeersOutsideVpc } from '../crossvpc/peers.js';
import { CONTAINERD } from '../defaults.js';
import { PreflightError, StepError, UsageError } from '../errors.js';
import { HostApplier } from '../host/apply.js';
import type { Exec } from '../host/exec.js';
import type { HostFiles } from '../host/files.js';
import { probeHost } from '../host/probe.js';
import { checkHost } from '../preflight/check.js';
import { planFixes, type FixScope } from '../preflight/fix.js';
import { applyIgnores, blockingFailures, fixHints, summarize, unknownIgnores } from '../preflight/outcome.js';
import { formatResults } from '../preflight/table.js';
import type { CheckResult, PreflightTarget, Role } from '../preflight/types.js';
import { formatPlan } from '../runner/describe.js';
import type { Step, StepResult } from '../runner/types.js';
import type { CommandContext } from '../command-support/context.js';
import { securityGroupChecksForHost, terwayChecksForHost } from '../command-support/alicloud-facts.js';
import { executePlan } from '../command-support/execute-plan.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';

export interface PreflightOptions extends SpecOptions {
  /** `true` (bare --fix) or `failures`: fix failing checks; `all`: warnings too. */
  fix?: boolean | string;
  undo?: boolean;
  dryRun?: boolean;
  /** Check ids or groups whose failure does not fail the run; `all` for every check. */
  ignore?: string[];
}

/** The backup owner of every change preflight makes: `--undo` restores exactly these. */
export const PREFLIGHT_OWNER = 'preflight';

/**
 * Stand-ins for the node fields a spec requires but preflight never looks at (it checks the host, not
 * the node's addresses), so that `knit preflight` works without --advertise-address. 192.0.2.1 is an
 * RFC 5737 documentation address.
 */
const PLACEHOLDER_NODE = { advertiseAddress: '192.0.2.1', nodeName: 'knit-preflight' } as const;

const ROLES: readonly Role[] = ['control-plane', 'worker'];

export function parseFixScope(value: boolean | string | undefined): FixScope | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true || value === 'failures') return 'failures';
  if (value === 'all') return 'all';
  throw new UsageError(`--fix: unknown scope ${JSON.stringify(value)} (use --fix for failures, --fix all to include warnings)`);
}

/** What to check against: the spec's version, runtime, CNI and this node's role, from --config and flags. */
export async function preflightTarget(opts: SpecOptions, ctx: CommandContext): Promise<PreflightTarget> {
  return (await hostSpec(opts, ctx)).target;
}

/** The spec for a command about this host (preflight, doctor): a placeholder node when no file names one. */
export async function hostSpec(opts: SpecOptions, ctx: CommandContext): Promise<{ spec: Spec; localNode: string; target: PreflightTarget }> {
  // --role overrides the node's role here rather than in the spec: a spec whose only node is a worker
  // is invalid (no control plane), yet checking a worker needs no control plane at all
  const { role, ...specOpts } = opts;
  if (role !== undefined && !ROLES.includes(role)) throw new UsageError(`--role: unknown role ${JSON.stringify(role)} (use ${ROLES.join(' or ')})`);
  const fromFile = opts.config !== undefined;
  const sources = fromFile
    ? specOpts
    : { ...specOpts, advertiseAddress: opts.advertiseAddress ?? PLACEHOLDER_NODE.advertiseAddress, nodeName: opts.nodeName ?? PLACEHOLDER_NODE.nodeName };
  const { spec, localNode } = await specFromOptions(sources, ctx);
  const node = spec.nodes.find((n) => n.name === localNode)!;
  const nodeName = fromFile ? localNode : opts.nodeName;
  return { spec, localNode, target: { ...preflightTargetFor(spec, node), role: role ?? node.role, ...(nodeName !== undefined ? { nodeName } : {}) } };
}

/** The checks' target for a node of the spec. */
export function preflightTargetFor(spec: Spec, node: NodeSpec): PreflightTarget {
  return { spec, role: node.role, cni: spec.network.plugin, ...(hasPeersOutsideVpc(spec, node) ? { crossVpc: true } : {}) };
}

export type HostAccess = Pick<CommandContext, 'files' | 'exec' | 'env' | 'hostname'>;

/** Probes and checks: one full read of the host (what the benchmark times). */
export async function inspectHost(host: HostAccess, target: PreflightTarget): Promise<CheckResult[]> {
  const facts = await probeHost({
    files: host.files,
    exec: host.exec,
    hostname: host.hostname,
    criSocket: target.spec.kubernetes.criSocket,
    path: host.env.PATH,
    forwardPolicy: target.cni === 'terway',
    nft: target.crossVpc === true,
  });
  return checkHost(facts, target);
}

/**
 * Restores what preflight changed: live sysctls to their recorded values, then every file exactly.
 * Sysctls go first so that, should one fail, the backup index still holds everything for another try.
 */
export async function undoFixes(files: HostFiles, exec: Exec): Promise<{ files: string[]; sysctls: { key: string; value: string }[] }> {
  const applier = new HostApplier({ files, exec, owner: PREFLIGHT_OWNER });
  const sysctls = (await files.backups())
    .filter((e) => e.owner === PREFLIGHT_OWNER && e.kind === 'sysctl')
    .map((e) => ({ key: e.target, value: e.saved ?? '' }));
  for (const s of sysctls) {
    await applier.run(['sysctl', '-w', `${s.key}=${s.value}`]).catch((e: Error & { output?: string }) => {
      throw new StepError('preflight/undo', `restoring sysctl ${s.key}=${s.value} failed: ${e.message}`, e.output ? [e.output.trim()] : []);
    });
  }
  const { restored } = await files.undo(PREFLIGHT_OWNER);
  // containerd reads its config only when it starts: run it on the restored one
  if (restored.some((p) => p === CONTAINERD.config || p.startsWith(`${CONTAINERD.dropInDir}/`)))
    await applier.run(['systemctl', 'restart', CONTAINERD.unit]).catch((e: Error & { output?: string }) => {
      throw new StepError('preflight/undo', `restarting containerd on its restored config failed: ${e.message}`, e.output ? [e.output.trim()] : []);
    });
  return { files: restored, sysctls };
}

export async function run(opts: PreflightOptions, ctx: CommandContext): Promise<number> {
  const scope = parseFixScope(opts.fix);
  if (opts.undo) {
    if (scope) throw new UsageError('--fix and --undo: choose one');
    return undo(opts, ctx);
  }
  const { spec, localNode, target } = await hostSpec(opts, ctx);
  const ignore = opts.ignore ?? [];
  // the cloud side is read once: --fix changes only the host
  const cloudChecks = [
    ...(target.cni === 'terway' ? await terwayChecksForHost(spec, localNode, ctx) : []),
    ...(await securityGroupChecksForHost(spec, localNode, ctx)),
  ];
  const check = async () => applyIgnores([...(await inspectHost(ctx, target)), ...cloudChecks], ignore);
  const results = await check();
  const unknown = unknownIgnores(results, ignore);
  if (unknown.length) throw new UsageError(`--ignore: no check ${unknown.join(', ')} here (checks: ${results.map((r) => r.id).join(', ')})`);
  if (!scope) return report(ctx, target, results);

  const steps = planFixes(results, scope);
  if (opts.dryRun) return report(ctx, target, results, { plan: steps, scope });
  if (steps.length === 0) return report(ctx, target, results, { fixes: [] });
  const fixes = (await executePlan(ctx, { title: 'knit preflight --fix', steps, owner: PREFLIGHT_OWNER }))!;
  return report(ctx, target, await check(), { fixes });
}

/** Prints the results (and the fix plan or what was fixed); throws PreflightError when a check fails. */
function report(
  ctx: CommandContext,
  target: PreflightTarget,
  results: CheckResult[],
  extra: { plan?: Step[]; scope?: FixScope; fixes?: StepResult[] } = {},
): number {
  const { plan, fixes } = extra;
  if (ctx.out.format === 'json') {
    ctx.out.json({
      role: target.role,
      cni: target.cni,
      kubernetesVersion: target.spec.kubernetes.version,
      checks: results.map(({ fix, ...r }) => ({ ...r, fixable: fix !== undefined })),
      summary: summarize(results),
      ...(plan ? { dryRun: true, plan: plan.map((s) => ({ id: s.id, title: s.title, effects: s.effects })) } : {}),
      ...(fixes ? { fixes } : {}),
    });
  } else {
    if (fixes)
      ctx.out.line(fixes.length === 0
        ? 'Nothing to fix.\n'
        : `Applied ${fixes.length} fix${fixes.length > 1 ? 'es' : ''} (\`knit preflight --undo\` restores the files and sysctls they changed). Checking again:\n`);
    ctx.out.raw(formatResults(target, results, ctx.out.color));
    if (!plan && !fixes) for (const hint of fixHints(results)) ctx.out.line(hint);
    const fixFlag = extra.scope === 'all' ? '--fix all' : '--fix';
    if (plan) ctx.out.raw(`\n${plan.length ? formatPlan(`What ${fixFlag} would change (dry run: nothing was changed)`, plan) : 'Nothing to fix.\n'}`);
  }
  const failures = blockingFailures(results);
  // a dry run of --fix only shows what it would do: the failures it would fix are its subject, not an error
  if (failures.length === 0 || plan) return 0;
  throw failedChecks(failures, '--ignore');
}

const failedChecks = (failures: CheckResult[], ignoreFlag: string): PreflightError =>
  new PreflightError(`preflight: ${failures.length} check${failures.length > 1 ? 's' : ''} failed: ${failures.map((r) => r.id).join(', ')}`, [
    '`knit preflight --fix` repairs what it can (`--undo` restores)',
    `add ${ignoreFlag} CHECK (or a group such as ports, or all) to go on regardless`,
  ]);

/**
 * The preflight phase of init/join: the same checks; the table goes to stderr (stdout may be JSON)
 * and a failed check stops the plan before anything changes, with exit code 3.
 */
export async function preflightGate(ctx: CommandContext, target: PreflightTarget, ignore: string[] = [], cloudChecks: CheckResult[] = []): Promise<void> {
  const results = applyIgnores([...(await inspectHost(ctx, target)), ...cloudChecks], ignore);
  const failures = blockingFailures(results);
  if (failures.length === 0) return;
  ctx.out.note(formatResults(target, results, false));
  throw failedChecks(failures, '--ignore-preflight-errors');
}

async function undo(opts: PreflightOptions, ctx: CommandContext): Promise<number> {
  if (opts.dryRun) {
    const mine = (await ctx.files.backups()).filter((e) => e.owner === PREFLIGHT_OWNER);
    const describe = mine.map((e) =>
      e.kind === 'sysctl' ? `set sysctl ${e.target}=${e.saved}` : e.existed ? `restore ${e.target}` : `remove ${e.target}`);
    if (mine.some((e) => e.kind === 'file' && (e.target === CONTAINERD.config || e.target.startsWith(`${CONTAINERD.dropInDir}/`))))
      describe.push(`run systemctl restart ${CONTAINERD.unit}`);
    if (ctx.out.format === 'json') ctx.out.json({ dryRun: true, undo: describe });
    else ctx.out.line(describe.length ? ['knit preflight --undo (dry run):', ...describe.map((d) => `  ${d}`)].join('\n') : 'Nothing to undo.');
    return 0;
  }
  const undone = await undoFixes(ctx.files, ctx.exec);
  ctx.out.json({ undone });
  if (undone.files.length + undone.sysctls.length === 0) ctx.out.line('Nothing to undo: preflight has not changed this host.');
  else {
    for (const s of undone.sysctls) ctx.out.line(`restored sysctl ${s.key} = ${s.value}`);
    for (const f of undone.files) ctx.out.line(`restored ${f}`);
    // modprobe, swapoff, setenforce and the FORWARD policy have no backup: the next boot follows the restored files
    ctx.out.line('loaded modules, swap, the SELinux mode and the iptables FORWARD policy stay as they are until the next boot');
  }
  return 0;
}
