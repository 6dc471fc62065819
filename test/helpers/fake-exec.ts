/**
 * A stand-in for the process runner in unit tests: answers only the argv it was told to expect, fails on
 * anything else, and `assertAllUsed()` fails on a stub that was never called.
 */
import type { Exec, ExecResult } from '../../src/host/exec.js';

export interface Stub {
  argv: string[];
  result?: Partial<ExecResult>;
  /** How many calls this stub answers (default: any number). */
  times?: number;
}

export function fakeExec(stubs: Stub[]) {
  const calls: { argv: string[]; stdin?: string }[] = [];
  const used = new Map<Stub, number>();
  const exec: Exec = async (argv, opts) => {
    calls.push({ argv: [...argv], stdin: opts?.stdin });
    const stub = stubs.find((s) => s.argv.join('\0') === argv.join('\0') && (s.times === undefined || (used.get(s) ?? 0) < s.times));
    if (!stub) throw new Error(`unexpected command: ${argv.join(' ')}`);
    used.set(stub, (used.get(stub) ?? 0) + 1);
    return { exitCode: 0, stdout: '', stderr: '', ...stub.result };
  };
  const assertAllUsed = () => {
    const unused = stubs.filter((s) => !used.has(s));
    if (unused.length) throw new Error(`stubs never called: ${unused.map((s) => s.argv.join(' ')).join('; ')}`);
  };
  return { exec, calls, assertAllUsed };
}
