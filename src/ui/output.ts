/** Everything knit prints goes through here: text or JSON (-o json), colour rules, secret redaction. */
import { redact } from './redact.js';

export type OutputFormat = 'text' | 'json';

export interface Output {
  readonly format: OutputFormat;
  readonly color: boolean;
  /** A line of human output (stdout, text mode only). */
  line(text?: string): void;
  /** Raw text to stdout in any mode (rendered files). */
  raw(text: string): void;
  /** A warning or progress note for humans (stderr, so that stdout stays parseable). */
  note(text: string): void;
  /** The one JSON document of a command (json mode only). */
  json(value: unknown): void;
  error(text: string): void;
}

export interface OutputOptions {
  format: OutputFormat;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/** Colour only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function createOutput(opts: OutputOptions): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const env = opts.env ?? process.env;
  const write = (s: NodeJS.WritableStream, text: string) => s.write(redact(text));
  return {
    format: opts.format,
    color: colorEnabled(stdout, env),
    line: (text = '') => void (opts.format === 'text' && write(stdout, `${text}\n`)),
    raw: (text) => void write(stdout, text),
    note: (text) => void write(stderr, `${text}\n`),
    json: (value) => void (opts.format === 'json' && write(stdout, `${JSON.stringify(value, null, 2)}\n`)),
    error: (text) => void write(stderr, `${text}\n`),
  };
}
