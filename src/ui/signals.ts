/**
 * Ctrl-C (SIGINT) and SIGTERM, handled once for the whole CLI: knit ends within a moment with exit 130
 * (SIGINT) or 143 (SIGTERM, 128 + 15 as a shell reports it), its spinners stopped and the cursor shown
 * again. The processes it started are ended with it (execa's cleanup at exit).
 *
 * A command that cancels by itself (verify deletes its probe namespace first, netcheck --listen and the
 * cross-VPC agent stop cleanly) has its own listener: the first signal is left to it, and knit ends as
 * soon as the command has returned; a second signal ends knit at once. Listeners that signal-exit
 * installs (ora's cursor restore, execa's cleanup) do not count as the command's: signal-exit counts
 * them itself on `process`, and so does this.
 */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type CancelSignal = keyof typeof SIGNAL_EXIT_CODES;

const undoers = new Set<() => void>();
let received: CancelSignal | undefined;
let installed = false;

/** Something to undo at once when knit is interrupted (a running spinner); returns its removal. */
export function onInterrupt(undo: () => void): () => void {
  undoers.add(undo);
  return () => void undoers.delete(undo);
}

/** The signal that interrupted this run, if one did. */
export const signalReceived = (): CancelSignal | undefined => received;

/** Stops every registered spinner and shows the cursor again (a spinner hides it). */
export function restoreTerminal(stream: NodeJS.WriteStream = process.stderr): void {
  for (const undo of [...undoers]) {
    try {
      undo();
    } catch {
      // the terminal may be gone; nothing else to do
    }
  }
  undoers.clear();
  if (stream.isTTY) stream.write('\u001B[?25h');
}

/**
 * signal-exit's own listeners on `process`, as signal-exit counts them (v4 keeps its shared emitter on
 * globalThis, v3 on process): they defer to any other listener, so they are not the command's.
 */
function signalExitListeners(): number {
  const count = (e: unknown) => (typeof (e as { count?: unknown } | undefined)?.count === 'number' ? (e as { count: number }).count : 0);
  return (
    count((globalThis as unknown as Record<symbol, unknown>)[Symbol.for('signal-exit emitter')]) +
    count((process as unknown as Record<string, unknown>).__signal_exit_emitter__)
  );
}

/** Installs the handlers (once). `exit` is process.exit; `write` writes to stderr. */
export function installSignalHandling(exit: (code: number) => never | void = (c) => process.exit(c), write = (t: string) => void process.stderr.write(t)): void {
  const on = (sig: CancelSignal) => {
    const handler = () => {
      const first = received === undefined;
      received = sig;
      const others = process.listenerCount(sig) - 1 - signalExitListeners();
      if (first && others > 0) return; // the command cancels by itself; main() ends knit when it returns
      restoreTerminal();
      write(`\ncancelled (${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'})\n`);
      exit(SIGNAL_EXIT_CODES[sig]);
    };
    // ora's stdin discarder, at a terminal in raw mode, turns a typed Ctrl-C into process.emit('SIGINT')
    process.on(sig, handler);
  };
  if (installed) return;
  installed = true;
  on('SIGINT');
  on('SIGTERM');
}

/** The exit code after a command returned `code`: a cancelled run says which signal cancelled it. */
export function exitCodeAfterSignal(code: number): number {
  return received && code === SIGNAL_EXIT_CODES.SIGINT ? SIGNAL_EXIT_CODES[received] : code;
}
