/**
 * Runs the built knit (bin/knit.js; `npm test` builds it first) inside lab namespaces with
 * `ip netns exec NS node`, exactly as an operator runs it on a node.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Lab } from './netns.js';

export interface NetcheckRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `knit netcheck ARGS` in `ns` to the end. */
export function runNetcheck(ns: string, bundle: string, args: string[]): Promise<NetcheckRun> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'node', bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - start }));
  });
}

export interface RunningListener {
  child: ChildProcess;
  /** Every line so far, stdout and stderr. */
  lines: string[];
  stdout(): string;
  /** Sends SIGINT (Ctrl-C) and waits for the exit. */
  interrupt(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `knit netcheck --listen ARGS` in `ns` (lab.destroy() kills it) and waits until it listens. */
export async function startNetcheckListener(lab: Lab, ns: string, bundle: string, args: string[] = []): Promise<RunningListener> {
  const child = lab.spawn(ns, ['node', bundle, 'netcheck', '--listen', ...args]);
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null }>((resolve) => child.once('exit', (code) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    const watch = (stream: NodeJS.ReadableStream) =>
      createInterface({ input: stream }).on('line', (l) => {
        lines.push(l);
        if (l.startsWith('Listening for netcheck probes')) resolve();
      });
    watch(child.stdout!);
    watch(child.stderr!);
    void exited.then(({ code }) => reject(new Error(`netcheck --listen in ${ns} exited with ${code}:\n${lines.join('\n')}`)));
  });
  return {
    child,
    lines,
    stdout: () => stdout,
    interrupt: async () => {
      child.kill('SIGINT');
      const { code } = await exited;
      return { code, stdout, stderr };
    },
  };
}
