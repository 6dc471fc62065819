/**
 * Progress for a running plan: one line per step, and the phase a long-running tool is in (kubeadm
 * prints `[certs]`, `[etcd]`, … as it goes). A spinner on a terminal; plain lines elsewhere (CI logs).
 */
import type { Progress } from '../runner/run.js';
import type { Step, StepResult } from '../runner/types.js';
import type { Output } from './output.js';
import { onInterrupt } from './signals.js';

const STATUS_WORDS: Record<StepResult['status'], string> = {
  applied: 'done',
  unchanged: 'unchanged',
  skipped: 'skipped (--skip)',
  'already-done': 'already done',
};

/** `[control-plane] Creating static Pod manifest…` → `control-plane` */
export const toolPhase = (line: string): string | undefined => /^\[([a-z][a-z-]*)\]/.exec(line)?.[1];

export interface StepProgress extends Progress {
  /** Feed a line of a tool's output; a new `[phase]` shows as progress. */
  line(text: string): void;
  stop(): void;
}

/**
 * ora is an ES module the bundle requires at run time: the bundle's interop hands over the module
 * namespace as `default`, where Node's own import hands over the function. Both are accepted.
 */
export async function loadOra(): Promise<typeof import('ora').default> {
  const mod = (await import('ora')) as { default: typeof import('ora').default | { default: typeof import('ora').default } };
  return typeof mod.default === 'function' ? mod.default : mod.default.default;
}

/**
 * A spinner on stderr that a signal stops (src/ui/signals.ts): Ctrl-C or SIGTERM never leaves one
 * redrawing, nor the cursor hidden. `stop()` also forgets it.
 */
export async function createSpinner(text?: string): Promise<import('ora').Ora> {
  const spinner = (await loadOra())({ stream: process.stderr, ...(text !== undefined ? { text } : {}) });
  const forget = onInterrupt(() => void spinner.stop());
  const stop = spinner.stop.bind(spinner);
  spinner.stop = () => (forget(), stop());
  return spinner;
}

export async function createProgress(out: Output, interactive: boolean): Promise<StepProgress> {
  let current = '';
  let phase: string | undefined;
  const spinner = interactive && out.format === 'text' ? await createSpinner() : undefined;
  const say = (text: string) => (spinner ? (spinner.text = text) : out.note(text));
  return {
    start(step, index, total) {
      current = `[${index + 1}/${total}] ${step.title}`;
      phase = undefined;
      if (spinner) spinner.start(current);
      else out.note(`${current} …`);
    },
    finish(result) {
      const text = `${current}: ${STATUS_WORDS[result.status]}`;
      if (spinner) spinner.succeed(text);
      else out.note(text);
    },
    fail(step: Step, error: Error) {
      const text = `${current}: failed`;
      if (spinner) spinner.fail(text);
      else out.note(`${text} (${step.id}: ${error.message})`);
    },
    line(text) {
      const p = toolPhase(text);
      if (p && p !== phase) {
        phase = p;
        say(`${current} [${p}]`);
      }
    },
    stop: () => void spinner?.stop(),
  };
}
