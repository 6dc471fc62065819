/** Reads `--config` and applies the flags: the one way a command gets its Spec. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { loadSpec, readSpecInput, type DetectedHost, type LoadedSpec } from '../spec/load.js';
import type { SpecInput } from '../spec/schema.js';
import type { CommandContext } from './context.js';
import type { SpecOptions } from './options.js';

async function readConfig(path: string): Promise<{ name: string; text: string }> {
  try {
    return { name: path, text: await readFile(path, 'utf8') };
  } catch (e) {
    throw new UsageError(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** `--config FILE` as written, checked: where the wizard's answers start. */
export const readSpecFile = async (path: string, hostname: string): Promise<SpecInput> => readSpecInput(await readConfig(path), hostname);

export async function specFromOptions(opts: SpecOptions, ctx: CommandContext, detected?: DetectedHost): Promise<LoadedSpec> {
  const file = opts.specText ?? (opts.config !== undefined ? await readConfig(opts.config) : undefined);
  const { config: _config, specText: _text, ...flags } = opts;
  return loadSpec({ file, flags, hostname: ctx.hostname, ...(detected ? { detected } : {}) });
}
