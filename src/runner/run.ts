/** The runner: applies a plan's steps in order with progress; knows nothing about Kubernetes. */
import { KnitError, StepError } from '../errors.js';
import { describeEffect } from './describe.js';
import { isSkipped } from './skip.js';
import type { EffectApplier, Step, StepResult } from './types.js';

export interface Progress {
  start(step: Step, index: number, total: number): void;
  finish(result: StepResult): void;
  fail(step: Step, error: Error): void;
}

export interface RunOptions {
  applier: EffectApplier;
  skip?: ReadonlySet<string>;
  progress?: Progress;
  /** The command line a user re-runs to resume (named in the failure hint). */
  resumeCommand?: string;
}

const OUTPUT_TAIL_LINES = 15;
export const tail = (text: string, n = OUTPUT_TAIL_LINES): string[] => text.trimEnd().split('\n').slice(-n);

export async function runPlan(steps: readonly Step[], opts: RunOptions): Promise<StepResult[]> {
  const skip = opts.skip ?? new Set<string>();
  const results: StepResult[] = [];
  for (const [index, step] of steps.entries()) {
    opts.progress?.start(step, index, steps.length);
    const result: StepResult = { id: step.id, title: step.title, status: 'unchanged', changed: 0 };
    if (isSkipped(step.id, skip)) result.status = 'skipped';
    else if (step.doneWhen && (await opts.applier.probe(step.doneWhen))) result.status = 'already-done';
    else {
      for (const effect of step.effects) {
        try {
          const outcome = await opts.applier.apply(effect);
          if (outcome.changed) result.changed++;
        } catch (err) {
          const e = err as Error & { output?: string };
          opts.progress?.fail(step, e);
          if (err instanceof KnitError) throw err; // already says what to do (a failed preflight exits 3)
          const resume = opts.resumeCommand
            ? [`fix the cause and run \`${opts.resumeCommand}\` again: finished steps are detected and not repeated`,
               `(or add --skip ${step.id} to go on without this step)`]
            : [];
          throw new StepError(step.id, `step ${step.id} failed: ${describeEffect(effect)}: ${e.message}`, [
            ...(e.output ? ['last output:', ...tail(e.output).map((l) => `  ${l}`)] : []),
            ...resume,
            ...(step.onFailure ? [step.onFailure] : []),
          ]);
        }
      }
      result.status = result.changed > 0 ? 'applied' : 'unchanged';
    }
    results.push(result);
    opts.progress?.finish(result);
  }
  return results;
}
