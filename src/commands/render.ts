/** `knit render`: the whole bundle, offline, without root. To stdout, or files in --out DIR. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ManifestCheck } from '../cni/validate.js';
import { readTemplate } from '../host/templates.js';
import { renderBundle } from '../render/bundle.js';
import { BUNDLE } from '../defaults.js';
import { StepError } from '../errors.js';
import { terwayAccessKey } from '../command-support/cni-source.js';
import type { CommandContext } from '../command-support/context.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';

export interface RenderOptions extends SpecOptions {
  out?: string;
  validate?: boolean;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * `--validate`: every object of cni.yaml against the Kubernetes API schemas (kubernetes-models, loaded
 * only here). Returns what was checked; throws naming each failing object and field.
 */
export async function validateCni(yaml: string): Promise<ManifestCheck> {
  const { checkManifest } = await import('../cni/validate.js');
  const check = await checkManifest(yaml);
  if (check.problems.length > 0) {
    const failing = new Set(check.problems.map((p) => p.object)).size;
    throw new StepError(
      'cni/validate',
      `${BUNDLE.cni} fails the Kubernetes ${check.kubernetesVersion} API schemas: ${failing} of ${plural(check.checked, 'object')}`,
      [...check.problems.map((p) => `  ${p.object}: ${p.message}`), 'nothing was written'],
    );
  }
  return check;
}

/** What `--validate` says when every object passes. */
export const validationSummary = (c: ManifestCheck): string =>
  `validated ${BUNDLE.cni}: ${plural(c.checked, 'object')} checked against the Kubernetes ${c.kubernetesVersion} API schemas, all valid` +
  (c.customResources === 0 ? ''
  : c.customResources === 1 ? '; 1 Calico custom resource left to its CRD, which checks it when applied'
  : `; ${c.customResources} Calico custom resources left to their CRDs, which check them when applied`);

export async function run(opts: RenderOptions, ctx: CommandContext): Promise<number> {
  const { spec, localNode, notes } = await specFromOptions(opts, ctx);
  for (const note of notes) ctx.out.note(note);
  const bundle = renderBundle(spec, localNode, { template: readTemplate, home: ctx.env.HOME, accessKey: terwayAccessKey(spec, ctx.env) });
  const check = opts.validate ? await validateCni(bundle[BUNDLE.cni]!) : undefined;
  const validation = check ? { validation: { objects: check.checked, customResources: check.customResources, kubernetesVersion: check.kubernetesVersion } } : {};
  if (opts.out === undefined) {
    if (ctx.out.format === 'json') ctx.out.json({ files: bundle, ...validation });
    else {
      // stdout carries the bundle: the summary goes beside it, on stderr
      if (check) ctx.out.note(validationSummary(check));
      for (const [name, content] of Object.entries(bundle)) ctx.out.raw(`# ==> ${name} <==\n${content}`);
    }
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
  ctx.out.json({ files: paths, ...validation });
  for (const p of paths) ctx.out.line(`wrote ${p}`);
  if (check) ctx.out.line(validationSummary(check));
  return 0;
}
