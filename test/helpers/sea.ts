/**
 * The single executables (bin/build-sea.mjs → dist/knit-linux-<arch>), run the way a host without
 * Node.js runs them: in a mount namespace of their own (unshare) where every `node` on PATH is /dev/null
 * (exec fails with EACCES) and the repository is an empty tmpfs (no node_modules, no templates/, no
 * dist/knit.cjs), the executable bind-mounted into the test's own directory first. arm64's runs under
 * qemu-user, as bin/build-sea.mjs writes its code cache.
 */
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onPath, type Support } from './skip.js';

export type Arch = 'x64' | 'arm64';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const seaBinary = (arch: Arch): string => join(REPO, 'dist', `knit-linux-${arch}`);
/** Where bin/build-sea.mjs finds the arm64 loader and libraries (Debian's libc6-arm64-cross). */
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

/** What a change of makes an executable built before it stale. */
const SOURCES = ['src', 'templates', 'package.json', 'package-lock.json', 'bin/build-sea.mjs'];

function newestSource(): { file: string; mtimeMs: number } {
  let newest = { file: '', mtimeMs: 0 };
  const visit = (path: string) => {
    const s = statSync(path);
    if (s.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else if (s.mtimeMs > newest.mtimeMs) newest = { file: path, mtimeMs: s.mtimeMs };
  };
  for (const p of SOURCES) if (existsSync(join(REPO, p))) visit(join(REPO, p));
  return newest;
}

/** Every `node` a spawn could find, as the files to hide (their real paths: a bind mount follows no link). */
function nodeFiles(): string[] {
  const files = new Set<string>([realpathSync(process.execPath)]);
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const found = onPath('node', dir);
    if (found) files.add(realpathSync(found));
  }
  return [...files];
}

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * The command line that runs `argv` in a mount namespace without node and without the repository; the
 * executable for `arch` appears as `${dir}/knit` there (the file must exist: the bind mount's target).
 */
export function withoutNode(arch: Arch, dir: string, argv: string[], { netns = false } = {}): string[] {
  const mounts = [
    `mount --bind ${quote(seaBinary(arch))} ${quote(join(dir, 'knit'))}`,
    ...nodeFiles().map((f) => `mount --bind /dev/null ${quote(f)}`),
    `mount -t tmpfs -o size=64k,mode=0755 knit-sea-test ${quote(REPO)}`,
  ];
  return [...unshare({ netns }), '--mount', '--propagation', 'private', 'sh', '-c', `set -e; ${mounts.join('; ')}; exec "$@"`, 'sh', ...argv];
}

/** unshare as root, or as root of a user namespace; with `netns`, in a network namespace of its own (no route anywhere). */
export function unshare({ netns = false } = {}): string[] {
  return ['unshare', ...(process.getuid?.() === 0 ? [] : ['--map-root-user']), ...(netns ? ['--net'] : [])];
}

/** How `knit` is started in that namespace: the executable itself, or arm64's under qemu-user. */
export const knitArgv = (arch: Arch, dir: string, args: string[]): string[] =>
  arch === process.arch ? [join(dir, 'knit'), ...args] : [onPath('qemu-aarch64-static') ?? 'qemu-aarch64-static', '-L', ARM64_SYSROOT, join(dir, 'knit'), ...args];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The executable for `arch` with `args`, cwd `dir`, where no node is. */
export async function runSea(arch: Arch, dir: string, args: string[], env: Record<string, string>, { netns = false } = {}): Promise<Run> {
  const [cmd, ...rest] = withoutNode(arch, dir, knitArgv(arch, dir, args), { netns });
  const r = await execa(cmd!, rest, { cwd: dir, env, reject: false, input: '' });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

let namespaces: Support | undefined;
/** Whether this machine lets the tests make a mount namespace and hide node in it (asked once). */
function canHideNode(): Support {
  if (namespaces) return namespaces;
  if (!onPath('unshare')) return (namespaces = { ok: false, reason: 'needs unshare: not on PATH (apt-get install util-linux)' });
  try {
    const unshare = process.getuid?.() === 0 ? ['--mount'] : ['--map-root-user', '--mount'];
    execFileSync('unshare', [...unshare, '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null ${quote(nodeFiles()[0]!)}`], { stdio: 'pipe' });
    return (namespaces = { ok: true });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0];
    return (namespaces = { ok: false, reason: `cannot hide node in a mount namespace (needs root or user namespaces): ${why}` });
  }
}

/**
 * Whether the executable for `arch` can be tested here: built, not older than the sources, a mount
 * namespace to hide node in, and for arm64, qemu-user with the arm64 libraries.
 */
export function seaSupport(arch: Arch): Support {
  const exe = seaBinary(arch);
  const rel = relative(REPO, exe);
  if (!existsSync(exe)) return { ok: false, reason: `${rel} is not built (npm run build:sea)` };
  const newest = newestSource();
  if (statSync(exe).mtimeMs < newest.mtimeMs) return { ok: false, reason: `${rel} is older than ${relative(REPO, newest.file)} (npm run build:sea)` };
  if (arch !== process.arch) {
    if (!onPath('qemu-aarch64-static')) return { ok: false, reason: `${rel} needs qemu-aarch64-static: not on PATH (apt-get install qemu-user-static)` };
    if (!existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1')) || !existsSync(join(ARM64_SYSROOT, 'lib', 'libstdc++.so.6')))
      return { ok: false, reason: `${rel} needs the arm64 libraries in ${ARM64_SYSROOT} (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)` };
  }
  return canHideNode();
}
