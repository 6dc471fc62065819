/**
 * `knit render`: the bundle, offline, without root. To stdout, or files in --out DIR. The per-node
 * files only for the nodes asked for (--node-name, default the local node; --all-nodes), each written
 * as it is rendered. `--cloud-init`: instead, user-data that joins new instances by themselves.
 */
import { once } from 'node:events';
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ManifestCheck } from '../cni/validate.js';
import { refuseNonRegular, writeFileAtomic } from '../host/files.js';
import { readTemplate } from '../host/templates.js';
import { bundleFiles } from '../render/bundle.js';
import { renderCloudInit, type CloudInitRole } from '../render/cloud-init.js';
import { BUNDLE, CLOUD_INIT } from '../defaults.js';
import { StepError, UsageError } from '../errors.js';
import { terwayAccessKey } from '../command-support/cni-source.js';
import type { CommandContext } from '../command-support/context.js';
import type { SpecOptions } from '../command-support/options.js';
import { specFromOptions } from '../command-support/spec-source.js';

export interface RenderOptions extends Omit<SpecOptions, 'nodeName'> {
  out?: string;
  validate?: boolean;
  /** `--node-name`, repeatable: the first is the local node (as for every command), each gets its files. */
  nodeName?: string | string[];
  allNodes?: boolean;
  cloudInit?: boolean;
  binaryUrl?: string;
  sha256?: string[];
  token?: string;
  caCertHash?: string;
  certificateKey?: string;
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

/** The --out directory, made when missing; a file there is bad input, said before anything is written. */
async function outDir(out: string): Promise<string> {
  const dir = resolve(out);
  const s = await stat(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (s && !s.isDirectory()) throw new UsageError(`--out: ${out} is a file, not a directory`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new UsageError(`--out: ${out} is below a file, not a directory`);
    throw e;
  }
  return dir;
}

/** stdout is a pipe or a file: wait for it to take what was written before rendering more. */
const drained = async (): Promise<void> => {
  if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
};

/** `-o json`: {"files": {...}} as JSON.stringify(…, null, 2) would print it, one file at a time. */
async function streamJson(ctx: CommandContext, files: Iterable<[string, string]>, extra: Record<string, unknown>): Promise<void> {
  ctx.out.raw('{\n  "files": {');
  let first = true;
  for (const [name, content] of files) {
    ctx.out.raw(`${first ? '' : ','}\n    ${JSON.stringify(name)}: ${JSON.stringify(content)}`);
    first = false;
    await drained();
  }
  ctx.out.raw(first ? '}' : '\n  }');
  for (const [key, value] of Object.entries(extra)) ctx.out.raw(`,\n  ${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replace(/\n/g, '\n  ')}`);
  ctx.out.raw('\n}\n');
}

async function runCloudInit(opts: RenderOptions, ctx: CommandContext): Promise<number> {
  if (opts.allNodes) throw new UsageError('--all-nodes: not with --cloud-init (the user-data serves every new instance)');
  if (opts.validate) throw new UsageError('--validate: not with --cloud-init');
  const role = (opts.role ?? 'worker') as CloudInitRole;
  // --role is the role of the instances, not of a node of the spec: the spec is loaded without it
  const { role: _role, nodeName, ...specOpts } = opts;
  const names = [nodeName ?? []].flat();
  if (names.length > 1) throw new UsageError('--node-name: once with --cloud-init (instances name themselves after their hostname)');
  const { spec, notes } = await specFromOptions({ ...specOpts, ...(names[0] !== undefined ? { nodeName: names[0] } : {}) }, ctx);
  for (const note of notes) ctx.out.note(note);
  if (!opts.binaryUrl) throw new UsageError('--binary-url: required with --cloud-init (where instances download knit-linux-x64 or knit-linux-arm64: your OSS bucket or mirror)');
  const rendered = renderCloudInit(spec, {
    role,
    binaryUrl: opts.binaryUrl,
    sha256: opts.sha256 ?? [],
    token: opts.token ?? '',
    caCertHash: opts.caCertHash ?? '',
    ...(opts.certificateKey !== undefined ? { certificateKey: opts.certificateKey } : {}),
  });
  const name = `cloud-init-${role}.yaml`;
  const size = `user-data: ${rendered.bytes} bytes of ECS's ${CLOUD_INIT.maxUserDataBytes}${rendered.specCompressed ? ' (the spec gzip+base64 to fit)' : ''}; it holds the join token: keep it like one`;
  if (opts.out === undefined) {
    if (ctx.out.format === 'json') ctx.out.json({ files: { [name]: rendered.text }, bytes: rendered.bytes });
    else ctx.out.raw(rendered.text); // as it is, for `| base64 -w0` into the console or the CLI
    ctx.out.note(size);
    return 0;
  }
  const path = join(await outDir(opts.out), name);
  await writeFileAtomic(path, rendered.text, 0o600);
  ctx.out.json({ files: [path], bytes: rendered.bytes });
  ctx.out.line(`wrote ${path}`);
  ctx.out.line(size);
  return 0;
}

export async function run(opts: RenderOptions, ctx: CommandContext): Promise<number> {
  if (opts.cloudInit) return runCloudInit(opts, ctx);
  // (--token and --certificate-key may come from the environment: not refused here)
  for (const flag of ['binaryUrl', 'sha256', 'caCertHash', 'role'] as const)
    if (opts[flag] !== undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: only with --cloud-init`);
  const names = [opts.nodeName ?? []].flat();
  if (opts.allNodes && names.length > 1) throw new UsageError('--all-nodes: renders every node; give at most one --node-name (the local node) with it');
  // the first --node-name is the local node, as for every command; the others are only rendered
  const { nodeName: _names, allNodes: _all, ...rest } = opts;
  const { spec, localNode, notes } = await specFromOptions({ ...rest, ...(names[0] !== undefined ? { nodeName: names[0] } : {}) }, ctx);
  for (const note of notes) ctx.out.note(note);
  const bundle = bundleFiles(spec, localNode, {
    template: readTemplate,
    home: ctx.env.HOME,
    accessKey: terwayAccessKey(spec, ctx.env),
    nodes: opts.allNodes ? 'all' : names.length > 0 ? names : [localNode],
  });
  const check = opts.validate ? await validateCni(bundle.cni) : undefined;
  const validation = check ? { validation: { objects: check.checked, customResources: check.customResources, kubernetesVersion: check.kubernetesVersion } } : {};
  if (opts.out === undefined) {
    if (ctx.out.format === 'json') await streamJson(ctx, bundle.files(), validation);
    else {
      // stdout carries the bundle: the summary goes beside it, on stderr
      if (check) ctx.out.note(validationSummary(check));
      for (const [name, content] of bundle.files()) {
        ctx.out.raw(`# ==> ${name} <==\n${content}`);
        await drained();
      }
    }
    return 0;
  }
  const dir = await outDir(opts.out);
  // a link or a directory where a file goes stops the render before its first file
  for (const name of bundle.names()) await refuseNonRegular(join(dir, name));
  const paths: string[] = [];
  for (const [name, content] of bundle.files()) {
    const path = join(dir, name);
    // 0600 even over an older 0644 file: join configs will hold tokens once filled
    await writeFileAtomic(path, content, 0o600);
    paths.push(path);
    ctx.out.line(`wrote ${path}`);
  }
  ctx.out.json({ files: paths, ...validation });
  if (check) ctx.out.line(validationSummary(check));
  return 0;
}
