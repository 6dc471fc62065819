/** `knit render`: the whole bundle, offline, without root. To stdout, or files in --out DIR. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readTemplate } from '../host/templates.js';
import { renderBundle } from '../render/bundle.js';
import { BUNDLE } from '../defaults.js';
import { assertValidCni, terwayAccessKey } from './cni-source.js';
import type { CommandContext } from './context.js';
import type { SpecOptions } from './options.js';
import { specFromOptions } from './spec-source.js';

export interface RenderOptions extends SpecOptions {
  out?: string;
  validate?: boolean;
}

export async function run(opts: RenderOptions, ctx: CommandContext): Promise<number> {
  const { spec, localNode } = await specFromOptions(opts, ctx);
  const bundle = renderBundle(spec, localNode, { template: readTemplate, home: ctx.env.HOME, accessKey: terwayAccessKey(spec, ctx.env) });
  if (opts.validate) await assertValidCni(bundle[BUNDLE.cni]!);
  if (opts.out === undefined) {
    if (ctx.out.format === 'json') ctx.out.json({ files: bundle });
    else for (const [name, content] of Object.entries(bundle)) ctx.out.raw(`# ==> ${name} <==\n${content}`);
    return 0;
  }
  const dir = resolve(opts.out);
  await mkdir(dir, { recursive: true });
  const paths = await Promise.all(
    Object.entries(bundle).map(async ([name, content]) => {
      const path = join(dir, name);
      await writeFile(path, content, { mode: 0o600 }); // join configs will hold tokens once filled
      return path;
    }),
  );
  ctx.out.json({ files: paths });
  for (const p of paths) ctx.out.line(`wrote ${p}`);
  return 0;
}
