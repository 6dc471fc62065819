/**
 * The files containerd's config imports (`imports = ["/etc/containerd/conf.d/*.toml"]`), read under
 * the host root in containerd's order: pattern by pattern, each glob's matches sorted. A glob is
 * expanded only in its last path component (what containerd's own configs use); nested imports are
 * not followed.
 */
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { containerdImportPatterns, globRegExp, resolveImport } from '../preflight/containerd.js';
import type { ContainerdFile } from '../preflight/types.js';
import type { HostFiles } from './files.js';

const readRegular = (files: HostFiles, path: string): Promise<string | undefined> => files.read(path).catch(() => undefined); // a directory, unreadable

export async function readContainerdImports(files: HostFiles, config: string | undefined): Promise<ContainerdFile[]> {
  const out: ContainerdFile[] = [];
  for (const pattern of config === undefined ? [] : containerdImportPatterns(config)) {
    const path = resolveImport(pattern);
    const dir = posix.dirname(path);
    const paths = /[*?[]/.test(posix.basename(path)) && !/[*?[]/.test(dir)
      ? (await readdir(files.path(dir)).catch(() => [] as string[])).sort().map((n) => posix.join(dir, n)).filter((p) => globRegExp(path).test(p))
      : [path];
    for (const p of paths) {
      const content = await readRegular(files, p);
      if (content !== undefined) out.push({ path: p, content });
    }
  }
  return out;
}
