/**
 * writeFileAtomic: what knit writes as root never goes through a link, always has the asked mode, and is
 * either the old file or the new one, never half of either.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, KnitError } from '../src/errors.js';
import { HostFiles, writeFileAtomic } from '../src/host/files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knit-write-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exitCodeOf = (e: unknown) => (e instanceof KnitError ? e.exitCode : `not a KnitError: ${String(e)}`);

describe('writeFileAtomic', () => {
  it('refuses a symbolic link with exit 2 naming the path, and leaves the link and its target as they were', async () => {
    const target = join(dir, 'victim');
    await writeFile(target, 'precious\n', { mode: 0o644 });
    const link = join(dir, 'plan.txt');
    await symlink(target, link);
    const error = await writeFileAtomic(link, 'overwritten', 0o600).catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(ExitCode.badInput);
    expect((error as Error).message).toContain(link);
    expect((error as Error).message).toContain('symbolic link');
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect(await readlink(link)).toBe(target);
    expect(await readdir(dir)).toEqual(['plan.txt', 'victim']); // no temporary file left behind
  });

  it('refuses a directory in the target’s place with exit 2', async () => {
    await mkdir(join(dir, 'cni.yaml'));
    const error = await writeFileAtomic(join(dir, 'cni.yaml'), 'x', 0o600).catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(ExitCode.badInput);
    expect((error as Error).message).toContain('a directory');
  });

  it('enforces the mode over an existing, more open file (a secret-bearing file stays 0600)', async () => {
    const path = join(dir, 'cni.yaml');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeFileAtomic(path, 'new', 0o600);
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
  });

  it('gives a new file the asked mode whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'unit.service'), 'x', 0o644);
    } finally {
      process.umask(old);
    }
    expect((await stat(join(dir, 'unit.service'))).mode & 0o777).toBe(0o644);
  });
});

describe('HostFiles.write', () => {
  it('goes through the same refusal: a host file that is a link is not written through', async () => {
    const files = new HostFiles(dir);
    await mkdir(join(dir, 'etc/knit'), { recursive: true });
    await writeFile(join(dir, 'elsewhere'), 'keep');
    await symlink(join(dir, 'elsewhere'), join(dir, 'etc/knit/crossvpc.nft'));
    const error = await files.write('/etc/knit/crossvpc.nft', 'table ip knit {}', 0o600).catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(ExitCode.badInput);
    expect(await readFile(join(dir, 'elsewhere'), 'utf8')).toBe('keep');
  });
});
