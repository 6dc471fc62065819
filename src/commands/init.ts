/**
 * `knit init`. The plan is complete and `--dry-run` prints it; applying it (running kubeadm) arrives
 * with issue 4, and until then a real run says so and changes nothing.
 */
import { NotAvailableError, UsageError } from '../errors.js';
import { initPlanTitle, planInit } from '../plan/init.js';
import { formatPlan } from '../runner/describe.js';
import { checkSkipIds, isSkipped } from '../runner/skip.js';
import type { CommandContext } from './context.js';
import type { SpecOptions } from './options.js';
import { specFromOptions } from './spec-source.js';

export interface InitOptions extends SpecOptions {
  dryRun?: boolean;
  skip?: string[];
  yes?: boolean;
}

export async function run(opts: InitOptions, ctx: CommandContext): Promise<number> {
  const { spec, localNode } = await specFromOptions(opts, ctx);
  const node = spec.nodes.find((n) => n.name === localNode)!;
  if (node.role !== 'control-plane') throw new UsageError(`nodes: ${node.name} is a worker; run \`knit join\` on it`);
  const plan = { spec, node, home: ctx.env.HOME ?? '/root' };
  const steps = planInit(plan);
  const skip = new Set(opts.skip ?? []);
  const badSkip = checkSkipIds(steps, skip);
  if (badSkip) throw new UsageError(badSkip);
  if (!opts.dryRun) throw new NotAvailableError('applying `knit init` is not available yet (issue 4); use --dry-run to see the plan; nothing was changed');
  if (ctx.out.format === 'json')
    ctx.out.json({ dryRun: true, steps: steps.map((s) => ({ id: s.id, title: s.title, skipped: isSkipped(s.id, skip), effects: s.effects })) });
  else ctx.out.raw(formatPlan(initPlanTitle(plan), steps, skip));
  return 0;
}
