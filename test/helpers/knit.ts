/** Runs the built CLI (bin/knit.js → dist/) as a child process, the way a user does. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const KNIT_BIN = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));

export async function knit(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const r = await execa('node', [KNIT_BIN, ...args], {
    reject: false,
    env: { NO_COLOR: '1', ...opts.env },
    input: opts.input ?? '',
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
