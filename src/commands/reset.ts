/** `knit reset`: destructive, so it asks on a terminal and needs --yes elsewhere. */
import { NO_LEGACY_FACTS } from '../crossvpc/plan.js';
import { UsageError } from '../errors.js';
import { planReset } from '../plan/reset.js';
import type { CommandContext } from '../command-support/context.js';
import { removeFacts } from './crossvpc.js';
import { confirmOrCancel } from '../ui/confirm.js';
import { executePlan, requireRoot } from '../command-support/execute-plan.js';

export interface ResetOptions {
  yes?: boolean;
  kubeconfig?: boolean;
  dryRun?: boolean;
  skip?: string[];
}

export async function run(opts: ResetOptions, ctx: CommandContext): Promise<number> {
  if (!opts.dryRun) requireRoot(ctx);
  const crossVpc = await removeFacts(ctx).catch((e: Error) => {
    // a dry run without root cannot read nftables: plan as if knit's table were there
    if (!opts.dryRun) throw e;
    ctx.out.note(`note: cannot read nftables here (${e.message.split('\n')[0]}); showing the full removal`);
    return { table: true, legacy: NO_LEGACY_FACTS, unitInstalled: true, agentInstalled: true };
  });
  const steps = planReset({ home: ctx.env.HOME ?? '/root', removeKubeconfig: opts.kubeconfig === true, crossVpc });
  const title = 'knit reset: remove Kubernetes from this node';
  if (!opts.dryRun && !opts.yes) {
    if (!ctx.interactive) throw new UsageError('--yes: reset removes this node from Kubernetes; pass --yes to confirm');
    ctx.out.raw(`${title}\n`);
    await confirmOrCancel('Reset this node? kubeadm reset runs and CNI configuration and devices are removed', false);
  }
  const results = await executePlan(ctx, { title, steps, skip: opts.skip, dryRun: opts.dryRun, owner: 'reset' });
  if (!results) return 0;
  ctx.out.json({ steps: results });
  ctx.out.line('this node is reset');
  return 0;
}
