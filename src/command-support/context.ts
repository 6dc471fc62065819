/** What every command gets: output, the process runner, the host root. Built once by the CLI. */
import { hostname } from 'node:os';
import { UsageError } from '../errors.js';
import { createExec, type Exec } from '../host/exec.js';
import { HostFiles } from '../host/files.js';
import { createOutput, type Output, type OutputFormat } from '../ui/output.js';

export interface GlobalOptions {
  output?: string;
  debug?: boolean;
}

export interface CommandContext {
  out: Output;
  exec: Exec;
  /** Host files under the host root: `/`, or $KNIT_HOST_ROOT (tests point it at a temporary directory). */
  files: HostFiles;
  env: NodeJS.ProcessEnv;
  hostname: string;
  /** Whether a person is at a terminal (prompts and confirmations are allowed). */
  interactive: boolean;
  /**
   * Takes the host lock (src/host/lock.ts) if this run has not yet; set by the CLI for commands that
   * change the host, which take it at dispatch, except the wizard: after its questions, before changes.
   */
  lockHost?: () => Promise<void>;
}

/** Where Ctrl-C comes from: the process, or a test's emitter (long-running commands clean up on it). */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError(`--output: unknown format ${JSON.stringify(value)} (use text or json)`);
}

export function createContext(global: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CommandContext {
  return {
    out: createOutput({ format: parseOutputFormat(global.output), env }),
    exec: createExec(),
    files: new HostFiles(env.KNIT_HOST_ROOT || '/'),
    env,
    hostname: hostname(),
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true && env.CI !== 'true',
  };
}
