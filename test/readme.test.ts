/**
 * The README's examples run as written: every `node bin/knit.js …` line of its sh blocks, from the
 * repository root, except those that say what they need (`# needs: …`: a peer, a cluster, credentials)
 * and those run with sudo (they change the host). A line passes when it exits 0, or with the code its
 * comment announces (`exit 3 on a failure`), and prints no stack trace.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The sh blocks' commands, continuation lines joined. */
const commands = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].flatMap(([, body]) => body!.replace(/\\\n\s*/g, '').split('\n').filter(Boolean));
const examples = commands.filter((c) => c.startsWith('node bin/knit.js') && !/# needs: /.test(c));

describe('README examples', () => {
  it('has examples to run, and none of them uses npx (it would install the clone into its cache first)', () => {
    expect(examples.length).toBeGreaterThan(15);
    expect(commands.filter((c) => /(^|\s)npx knit/.test(c))).toEqual([]);
  });

  it.each(examples)('%s', async (line) => {
    const announced = /# .*\bexit (\d+)/.exec(line)?.[1];
    const r = await execa('bash', ['-c', line], { cwd: repo, reject: false, env: { NO_COLOR: '1' } });
    expect([0, ...(announced ? [Number(announced)] : [])], `${line}\n${r.stderr}`).toContain(r.exitCode);
    expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  }, 60_000);
});
