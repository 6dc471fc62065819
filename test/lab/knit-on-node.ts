/**
 * `knit crossvpc ACTION` as the CLI runs it, in-process, on a lab node: its processes run in the node's
 * namespace and its files live under the node's own host root. Returns the exit code and the -o json
 * document.
 */
import { Writable } from 'node:stream';
import { run as crossvpc, type CrossVpcAction } from '../../src/commands/crossvpc.js';
import type { CommandContext } from '../../src/command-support/context.js';
import { HostFiles } from '../../src/host/files.js';
import { createOutput } from '../../src/ui/output.js';
import type { Lab } from './netns.js';

export type CrossVpcRunOptions = Parameters<typeof crossvpc>[1];

export async function knitCrossvpc(lab: Lab, on: { ns: string; root: string; hostname: string }, action: CrossVpcAction, opts: CrossVpcRunOptions) {
  let stdout = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((stdout += String(chunk)), cb()) });
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const ctx: CommandContext = {
    out: createOutput({ format: 'json', stdout: sink, stderr: quiet, env: {} }),
    exec: lab.exec(on.ns),
    files: new HostFiles(on.root),
    env: {},
    hostname: on.hostname,
    interactive: false,
  };
  const code = await crossvpc(action, opts, ctx);
  return { code, json: (stdout ? JSON.parse(stdout) : {}) as Record<string, unknown> };
}
