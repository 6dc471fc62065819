/** Every process knit starts goes through here: execa with argv arrays, never a shell. */
import type { Argv } from '../runner/types.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Called with each line of combined output as it arrives (progress, logs). */
  onLine?: (line: string) => void;
}

export type Exec = (argv: Argv, opts?: ExecOptions) => Promise<ExecResult>;

export class CommandNotFoundError extends Error {}

/**
 * `prefix` runs every command through another one, e.g. `['ip', 'netns', 'exec', 'lab-a']` so that a
 * test drives the real tools inside a network namespace.
 */
export function createExec(options: { prefix?: string[] } = {}): Exec {
  const prefix = options.prefix ?? [];
  return async (argv, opts = {}) => {
    const [file, ...args] = [...prefix, ...argv] as Argv;
    const { execa } = await import('execa'); // ~70 ms to load: only commands that run processes pay it
    const child = execa(file, args, {
      input: opts.stdin,
      reject: false,
      all: opts.onLine !== undefined,
      timeout: opts.timeoutMs,
      env: opts.env,
      stripFinalNewline: false,
      ...(opts.onLine ? { lines: false } : {}),
    });
    if (opts.onLine) {
      let pending = '';
      child.all?.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) opts.onLine!(l);
      });
      child.all?.on('end', () => pending && opts.onLine!(pending));
    }
    const r = await child;
    if ((r as { code?: string }).code === 'ENOENT') throw new CommandNotFoundError(`${file}: command not found`);
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  };
}
