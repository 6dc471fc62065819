/** Reads `--config` and applies the flags: the one way a command gets its Spec. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { loadSpec, type DetectedHost, type LoadedSpec } from '../spec/load.js';
import type { CommandContext } from './context.js';
import type { SpecOptions } from './options.js';

export async function specFromOptions(opts: SpecOptions, ctx: CommandContext, detected?: DetectedHost): Promise<LoadedSpec> {
  let file: { name: string; text: string } | undefined;
  if (opts.config !== undefined) {
    try {
      file = { name: opts.config, text: await readFile(opts.config, 'utf8') };
    } catch (e) {
      throw new UsageError(`--config: cannot read ${opts.config}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const { config: _config, ...flags } = opts;
  return loadSpec({ file, flags, hostname: ctx.hostname, ...(detected ? { detected } : {}) });
}
