/** The shared tail of every changing command: check --skip, then print the plan or apply it. */
import { PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';
import { KubectlApplier } from '../cluster/kubectl.js';
import { HostApplier } from '../host/apply.js';
import { formatArgv, formatPlan } from '../runner/describe.js';
import { runPlan } from '../runner/run.js';
import { checkSkipIds, isSkipped } from '../runner/skip.js';
import type { Effect, EffectApplier, EffectOutcome, Probe, Step, StepResult } from '../runner/types.js';
import { confirmOrCancel } from '../ui/confirm.js';
import { createProgress } from '../ui/progress.js';
import type { CommandContext } from './context.js';

export interface ExecutePlanOptions {
  title: string;
  steps: Step[];
  skip?: string[];
  dryRun?: boolean;
  /** Tags the backups this run makes (what `undo` restores). */
  owner: string;
  /** Real path of the kubeconfig for kube-* and wait effects (default: the host's admin.conf). */
  kubeconfig?: string;
  /** What to run again after a failure (default: this command line, shell-quoted). */
  resumeCommand?: string;
  /** Show the plan and ask this before changing anything (a person at a terminal, without --yes). */
  confirm?: string;
  /** Runs the host checks of a `preflight` effect; throws PreflightError when one fails. */
  preflight?: (role: 'control-plane' | 'worker') => Promise<void>;
}

/** Interprets `preflight` effects with the command's checks; passes everything else on. */
class PreflightApplier implements EffectApplier {
  constructor(
    private readonly gate: ExecutePlanOptions['preflight'],
    private readonly next: EffectApplier,
  ) {}
  async apply(effect: Effect): Promise<EffectOutcome> {
    if (effect.kind !== 'preflight') return this.next.apply(effect);
    if (!this.gate) throw new Error('this command has no preflight checks');
    await this.gate(effect.role);
    return { changed: false };
  }
  probe(probe: Probe): Promise<boolean> {
    return this.next.probe(probe);
  }
}

/** A command that changes the host says so before it reads or changes anything (exit 2). */
export function requireRoot(ctx: Pick<CommandContext, 'files'>): void {
  if (ctx.files.root === '/' && process.getuid?.() !== 0)
    throw new UsageError('this changes the host and must run as root (use --dry-run to see the plan)');
}

/** Returns the step results, or undefined after a dry run (the plan was printed, nothing changed). */
export async function executePlan(ctx: CommandContext, o: ExecutePlanOptions): Promise<StepResult[] | undefined> {
  const skip = new Set(o.skip ?? []);
  const badSkip = checkSkipIds(o.steps, skip);
  if (badSkip) throw new UsageError(badSkip);
  if (o.dryRun) {
    if (ctx.out.format === 'json')
      ctx.out.json({ dryRun: true, title: o.title, steps: o.steps.map((s) => ({ id: s.id, title: s.title, skipped: isSkipped(s.id, skip), effects: s.effects })) });
    else ctx.out.raw(formatPlan(o.title, o.steps, skip));
    return undefined;
  }
  requireRoot(ctx);
  if (o.confirm) {
    ctx.out.note(formatPlan(o.title, o.steps, skip));
    await confirmOrCancel(o.confirm, true);
  }
  // the wizard's run takes the host lock here, after its questions (every other run took it at dispatch)
  await ctx.lockHost?.();
  const progress = await createProgress(ctx.out, ctx.interactive);
  const applier = new HostApplier({
    files: ctx.files,
    exec: ctx.exec,
    owner: o.owner,
    onLine: (l) => progress.line(l),
    next: new PreflightApplier(o.preflight, new KubectlApplier(ctx.exec, o.kubeconfig ?? ctx.files.path(PATHS.adminConf))),
  });
  return runPlan(o.steps, { applier, skip, progress, resumeCommand: o.resumeCommand ?? `knit ${formatArgv(process.argv.slice(2))}` }).finally(() => progress.stop());
}

/** How a run went, in a few words: `8 applied, 2 already done, 1 skipped`. */
export function summarizeResults(results: StepResult[]): string {
  const count = (s: StepResult['status']) => results.filter((r) => r.status === s).length;
  const parts = [[count('applied'), 'applied'], [count('unchanged') + count('already-done'), 'already done'], [count('skipped'), 'skipped']] as const;
  return parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ');
}

/** The files a plan writes on the host, in plan order (for `-o json`). */
export const writtenFiles = (steps: Step[]): string[] =>
  [...new Set(steps.flatMap((s) => s.effects.flatMap((e) => (e.kind === 'file' ? [e.path] : e.kind === 'copy' ? [e.to] : []))))];
