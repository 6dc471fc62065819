/**
 * containerd's sandbox ("pause") image. containerd, not kubeadm, picks the image every pod's sandbox
 * runs from: its own `sandbox_image` (default registry.k8s.io/pause). With a mirror or a private
 * registry, kubeadm pulls its images from there but only warns that containerd's sandbox image differs,
 * and where registry.k8s.io is unreachable no static pod starts and `kubeadm init` waits until it
 * times out. This check compares containerd's setting with `<imageRepository>/pause:<kubeadm's tag>`
 * and fixes it: a drop-in where containerd 2.x's config imports /etc/containerd/conf.d, else a
 * targeted edit of config.toml (backed up; `knit preflight --undo` restores it), then a restart.
 *
 * Where the key lives (containerd docs/cri/config.md):
 * - config version 3 (containerd 2.x): plugins."io.containerd.cri.v1.images".pinned_images.sandbox
 * - config version 2 (containerd 1.x): plugins."io.containerd.grpc.v1.cri".sandbox_image
 * - config version 1 (no `version`):   plugins.cri.sandbox_image
 * Imported files (`imports`, globs) are merged over the main file, later ones winning. containerd 1.x
 * replaces a whole plugin section with an imported one (so a drop-in holding only the sandbox image
 * would reset the rest of the CRI settings, e.g. SystemdCgroup); 2.x merges sections key by key
 * (containerd#9982), so knit writes a drop-in only for a version 3 config.
 */
import { CONTAINERD, IMAGE_REPOSITORIES, KUBERNETES, PAUSE_VERSION_BY_MINOR } from '../defaults.js';
import type { Effect } from '../runner/types.js';
import { minorOf } from './requirements.js';
import { fail, pass, warn } from './result.js';
import { formatKeyPath, getIn, parseToml, setTomlString } from './toml-edit.js';
import type { CheckResult, ContainerdFile, HostFacts, PreflightTarget } from './types.js';

const ID = 'runtime/sandbox-image';

/** The pause image kubeadm uses for this Kubernetes version, from this image repository. */
export function expectedSandboxImage(version: string, imageRepository: string): string {
  const minor = minorOf(version) ?? KUBERNETES.maxMinor;
  const tag = PAUSE_VERSION_BY_MINOR[Math.min(Math.max(minor, KUBERNETES.minMinor), KUBERNETES.maxMinor)]!;
  return `${imageRepository}/pause:${tag}`;
}

/** The path of the sandbox image key in a config of this version. */
export function sandboxKeyPath(configVersion: number): string[] {
  if (configVersion >= 3) return ['plugins', 'io.containerd.cri.v1.images', 'pinned_images', 'sandbox'];
  if (configVersion === 2) return ['plugins', 'io.containerd.grpc.v1.cri', 'sandbox_image'];
  return ['plugins', 'cri', 'sandbox_image'];
}

/** The `imports` of a config, as written (absolute or relative to the config's directory; globs allowed). */
export function containerdImportPatterns(config: string): string[] {
  const parsed = parseToml(config);
  if ('error' in parsed || !Array.isArray(parsed.doc.imports)) return [];
  return parsed.doc.imports.filter((p): p is string => typeof p === 'string');
}

/** `filepath.Glob` semantics for one pattern: `*` and `?` never cross a `/`. */
export const globRegExp = (pattern: string): RegExp =>
  new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);

/** An import as an absolute host path (relative ones are relative to the config's directory). */
export const resolveImport = (pattern: string): string => (pattern.startsWith('/') ? pattern : `${CONTAINERD.config.replace(/[^/]*$/, '')}${pattern}`);

/** Whether the main config's `imports` take in this path. */
export const importsPath = (config: string, path: string): boolean =>
  containerdImportPatterns(config).some((p) => globRegExp(resolveImport(p)).test(path));

/** Where the CRI plugin's sandbox image is set, file by file; the last one wins. */
interface Setting {
  file: ContainerdFile;
  version: number;
  image?: string;
}

/** A file's sandbox image setting; an unparsable file is reported by name. */
function readSetting(file: ContainerdFile, fallbackVersion: number): Setting | { error: string } {
  const parsed = parseToml(file.content);
  if ('error' in parsed) return { error: `${file.path} is not valid TOML (${parsed.error})` };
  const version = typeof parsed.doc.version === 'number' ? parsed.doc.version : fallbackVersion;
  const image = getIn(parsed.doc, sandboxKeyPath(version));
  return typeof image === 'string' ? { file, version, image } : { file, version };
}

/** Everything before the tag (and digest): `registry.k8s.io/pause:3.10` → `registry.k8s.io/pause`. */
const repositoryOf = (image: string): string => {
  const name = image.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
};

const restart: Effect = { kind: 'exec', argv: ['systemctl', 'restart', CONTAINERD.unit] };

/** A minimal config for a host without one: version 2 is read by containerd 1.x and migrated by 2.x. */
const minimalConfig = (image: string): string =>
  `# written by knit preflight --fix: the sandbox (pause) image kubeadm's images come with\nversion = 2\n\n[${formatKeyPath(sandboxKeyPath(2).slice(0, -1))}]\n  sandbox_image = ${JSON.stringify(image)}\n`;

const dropIn = (image: string): string =>
  `# written by knit preflight --fix: the sandbox (pause) image kubeadm's images come with\nversion = 3\n\n[${formatKeyPath(sandboxKeyPath(3).slice(0, -1))}]\n  sandbox = ${JSON.stringify(image)}\n`;

/**
 * The file write that makes `image` containerd's sandbox image, or undefined when knit cannot make it
 * safely (then the operator edits the file by hand).
 */
function planWrite(main: string | undefined, settings: Setting[], image: string): Effect | undefined {
  if (main === undefined) return { kind: 'file', path: CONTAINERD.config, content: minimalConfig(image) };
  // containerd 2.x importing conf.d: a drop-in of knit's own, unless a drop-in after it sets the image too
  const laterSets = settings.some((s) => s.file.path !== CONTAINERD.config && s.file.path > CONTAINERD.dropIn && s.image !== undefined);
  if (settings[0]!.version >= 3 && importsPath(main, CONTAINERD.dropIn) && !laterSets)
    return { kind: 'file', path: CONTAINERD.dropIn, content: dropIn(image) };
  // otherwise a targeted edit of the file whose setting wins (the main config when none sets it)
  const target = settings.findLast((s) => s.image !== undefined) ?? settings[0]!;
  const content = setTomlString(target.file.content, sandboxKeyPath(target.version), image);
  return content === undefined ? undefined : { kind: 'file', path: target.file.path, content };
}

export function sandboxImageCheck(f: HostFacts, t: PreflightTarget): CheckResult[] {
  const k = t.spec.kubernetes;
  if (!k.criSocket.includes('containerd')) return [];
  const expected = expectedSandboxImage(k.version, k.imageRepository ?? IMAGE_REPOSITORIES.default);
  const main = f.containerdConfig;
  const imports = f.containerdImports ?? [];
  const files: ContainerdFile[] = [...(main !== undefined ? [{ path: CONTAINERD.config, content: main }] : []), ...imports];
  const read: (Setting | { error: string })[] = [];
  // an imported file without `version` is read like the main one
  for (const file of files) read.push(readSetting(file, read[0] && 'version' in read[0] ? read[0].version : 1));
  const broken = read.find((s): s is { error: string } => 'error' in s);
  if (broken) return [warn(ID, `cannot read containerd's sandbox image: ${broken.error}`)];
  const settings = read as Setting[];
  const winner = settings.findLast((s) => s.image !== undefined);
  const where = winner ? (winner.file.path === CONTAINERD.config ? CONTAINERD.config : `${winner.file.path} (imported by ${CONTAINERD.config})`) : undefined;

  if (winner?.image === expected) return [pass(ID, `containerd runs pods on ${expected}, the pause image kubeadm uses`)];
  // not set: containerd's built-in default, registry.k8s.io/pause at the tag of containerd's release
  const configured = winner?.image ?? `${IMAGE_REPOSITORIES.default}/pause`;
  const sameRepository = repositoryOf(configured) === repositoryOf(expected);
  if (!winner && sameRepository) return [pass(ID, `containerd's built-in sandbox image comes from ${IMAGE_REPOSITORIES.default}, like kubeadm's images`)];

  const found = winner ? `containerd's sandbox image is ${configured} (${where})` : `containerd uses its built-in sandbox image ${configured}`;
  const write = planWrite(main, settings, expected);
  const fix = write && {
    title: `Set containerd's sandbox image to ${expected} and restart containerd`,
    effects: [write, restart],
    note: 'restarting containerd leaves running containers running',
  };
  const manual = write ? '' : `; set ${formatKeyPath(sandboxKeyPath(winner?.version ?? settings[0]?.version ?? 2))} = "${expected}" in ${winner?.file.path ?? CONTAINERD.config} and restart containerd`;
  if (sameRepository)
    return [warn(ID, `${found}; kubeadm for Kubernetes ${k.version} uses ${expected} (kubeadm warns about the difference)${manual}`, fix)];
  return [fail(ID, `${found}, but kubeadm pulls from ${repositoryOf(expected).replace(/\/pause$/, '')}: where ${repositoryOf(configured).split('/')[0]} is unreachable no pod (not even the static control plane) starts; needs ${expected}${manual}`, fix)];
}
