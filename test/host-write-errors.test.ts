/**
 * Host failures said plainly: a host root knit cannot write is one line naming the path and why, not
 * Node's raw errno (a recursive mkdir on a read-only file system reports ENOENT); a missing iptables
 * names the package to install.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandNotFoundError, type Exec } from '../src/host/exec.js';
import { ensureDir } from '../src/host/files.js';
import { iptablesSave } from '../src/host/iptables.js';
import { knit } from './helpers/knit.js';
import { skipUnless, type Support } from './helpers/skip.js';

/** A read-only bind mount of an empty directory: needs root and mount(2) in this namespace. */
function probeReadOnlyMount(): Support {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (a read-only bind mount)' };
  return { ok: true };
}

const support = probeReadOnlyMount();
let dir: string;
let ro: string;
let mounted = false;

beforeAll(async () => {
  if (!support.ok) return;
  dir = await mkdtemp(join(tmpdir(), 'knit-ro-'));
  ro = join(dir, 'root');
  await mkdir(join(dir, 'src'));
  await mkdir(ro);
  try {
    execFileSync('mount', ['--bind', join(dir, 'src'), ro], { stdio: 'pipe' });
    mounted = true;
    execFileSync('mount', ['-o', 'remount,bind,ro', ro], { stdio: 'pipe' });
  } catch {
    // no mount(2) here (a container without CAP_SYS_ADMIN): the tests below say so
  }
});

afterAll(async () => {
  if (mounted) execFileSync('umount', [ro], { stdio: 'pipe' });
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a read-only host root', skipUnless(support), () => {
  it('ensureDir names the path and says "read-only file system" (Node alone says ENOENT)', async (ctx) => {
    if (!mounted) return ctx.skip('mount --bind is not permitted here');
    await expect(mkdir(join(ro, 'var/lib/knit'), { recursive: true })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(ensureDir(join(ro, 'var/lib/knit'))).rejects.toThrow(`cannot write ${join(ro, 'var/lib/knit')}: read-only file system`);
  });

  it('knit init exits 1, its error line naming the path and "read-only file system"', async (ctx) => {
    if (!mounted) return ctx.skip('mount --bind is not permitted here');
    const r = await knit(['init', '--skip', 'preflight', '--advertise-address', '172.16.0.10', '--yes'], { env: { KNIT_HOST_ROOT: ro } });
    expect(r.code).toBe(1);
    const error = r.stderr.split('\n').find((l) => l.startsWith('error: '));
    expect(error).toMatch(new RegExp(`^error: step kubeadm/config failed: .*: cannot write ${ro.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/\\S+: read-only file system$`));
    expect(r.stderr).not.toContain('ENOENT');
  });
});

describe('a host without iptables', () => {
  it('iptables-save missing: the error names the package to install', async () => {
    const tried: string[] = [];
    const exec: Exec = async (argv) => {
      tried.push(argv[0]);
      throw new CommandNotFoundError(`${argv[0]}: command not found`);
    };
    await expect(iptablesSave(exec, 'nat')).rejects.toThrow(/^iptables-save: command not found; install iptables \(apt-get install iptables, or dnf\/yum install iptables\)$/);
    expect(tried).toContain('iptables-nft-save');
  });
});
