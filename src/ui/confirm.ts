/** The one yes/no question before a command changes the host (only asked with a person at a terminal). */
import { CancelledError } from '../errors.js';

/** Ctrl-C at any @inquirer prompt rejects with ExitPromptError: the person cancelled (exit 130). */
export const isPromptExit = (e: unknown): boolean => (e as Error | undefined)?.name === 'ExitPromptError';

export async function confirmOrCancel(message: string, defaultYes: boolean): Promise<void> {
  const { confirm } = await import('@inquirer/prompts');
  const ok = await confirm({ message, default: defaultYes }).catch((e: unknown) => {
    throw isPromptExit(e) ? new CancelledError('cancelled; nothing was changed') : e;
  });
  if (!ok) throw new CancelledError('cancelled; nothing was changed');
}
