/**
 * The host lock: every knit command that changes the host holds /run/lock/knit.lock (under the host
 * root) while it runs, so that two `knit init` never both reach kubeadm and two `crossvpc apply` never
 * race. Read-only commands take none.
 *
 * No native module: knit opens the file (created 0600, never through a symbolic link) and util-linux
 * `flock` locks that very open file description, inherited as its fd 3, then exits. A flock(2) lock
 * belongs to the open file description, not to the process that asked for it, so it stays held through
 * knit's descriptor until knit closes it or dies: the kernel releases it then, SIGKILL included, and a
 * stale lock cannot be left behind. Node opens files close-on-exec, so the processes knit starts
 * (kubeadm, a systemd unit's daemon) never inherit the lock.
 *
 * The holder writes its PID and command line into the file; a second run waits a short while, says
 * once who it waits for, and exits 1 naming the holder.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ensureDir } from './files.js';
import { dirname, join } from 'node:path';
import { StepError, UsageError } from '../errors.js';

export const LOCK_PATH = '/run/lock/knit.lock';
/** How long a second run waits for the holder (seconds); $KNIT_LOCK_TIMEOUT changes it. */
export const LOCK_WAIT_S = 10;
/** Set in the holder's environment: a knit it starts (its direct child) runs under the parent's lock. */
const HELD_ENV = 'KNIT_HOST_LOCK_HELD_BY';

export interface HostLock {
  /** The real path of the lock file. */
  path: string;
  /** Closes the descriptor: the lock is free again. */
  release(): Promise<void>;
}

export interface LockOptions {
  /** The host root (`/`, or $KNIT_HOST_ROOT in tests). */
  root: string;
  /** The command line to record, e.g. `knit init --config c.yaml`. */
  command: string;
  env: NodeJS.ProcessEnv;
  /** Said once when another knit holds the lock. */
  note(text: string): void;
}

/** The command line to record in the lock file, with the values of secret flags masked. */
export function lockCommandLine(args: readonly string[]): string {
  const secret = new Set(['--token', '--certificate-key']);
  const shown = args.map((a, i) => {
    const eq = /^(--[a-z-]+)=/.exec(a);
    if (eq && secret.has(eq[1]!)) return `${eq[1]}=********`;
    return i > 0 && secret.has(args[i - 1]!) ? '********' : a;
  });
  return ['knit', ...shown].join(' ');
}

/** Seconds to wait: $KNIT_LOCK_TIMEOUT (a whole number ≥ 0) or LOCK_WAIT_S. */
export function lockWaitSeconds(env: NodeJS.ProcessEnv): number {
  const v = env.KNIT_LOCK_TIMEOUT;
  if (v === undefined || v === '') return LOCK_WAIT_S;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`KNIT_LOCK_TIMEOUT: ${JSON.stringify(v)} is not a number of seconds (a whole number ≥ 0)`);
  return Number(v);
}

/** `flock` on the inherited descriptor: 0 locked, 1 held by someone else (after `waitS`). */
async function flockFd(fd: number, waitS: number | 'nonblock'): Promise<number> {
  const { execa } = await import('execa');
  const args = waitS === 'nonblock' ? ['--exclusive', '--nonblock', '3'] : ['--exclusive', '--wait', String(waitS), '3'];
  // execa passes a number in stdio as that descriptor (its types list numbers only for fd 0-2)
  const stdio = ['ignore', 'pipe', 'pipe', fd] as unknown as ['ignore', 'pipe', 'pipe', 'pipe'];
  const r = await execa('flock', args, { stdio, reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new StepError('host/lock', 'flock: command not found (apt-get install util-linux)');
  if (r.exitCode === 0 || r.exitCode === 1) return r.exitCode;
  throw new StepError('host/lock', `flock exited with ${r.exitCode ?? r.signal}: ${String(r.stderr).trim()}`);
}

async function holderOf(handle: FileHandle): Promise<string> {
  const buf = Buffer.alloc(4096);
  const { bytesRead } = await handle.read(buf, 0, buf.length, 0).catch(() => ({ bytesRead: 0 }));
  const [pid, ...command] = buf.subarray(0, bytesRead).toString('utf8').trim().split('\n');
  if (!pid || !/^\d+$/.test(pid)) return 'a knit whose pid is not recorded yet';
  return `knit (pid ${pid}${command.length ? `: ${command.join(' ')}` : ''})`;
}

/** Opens the lock file: created 0600 if missing, refused when it is a link or not a regular file. */
async function openLockFile(path: string): Promise<FileHandle> {
  await ensureDir(dirname(path)).catch((e: Error) => Promise.reject(new StepError('host/lock', e.message)));
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UsageError(`${path}: is a symbolic link; knit locks only a regular file it owns and never follows links (remove it)`);
    throw new StepError('host/lock', `cannot open the host lock ${path}: ${code ?? (e as Error).message}`);
  }
  const s = await handle.stat();
  const uid = process.getuid?.();
  if (!s.isFile() || (uid !== undefined && s.uid !== uid)) {
    await handle.close();
    throw new UsageError(`${path}: is ${s.isFile() ? `owned by uid ${s.uid}, not by this user` : 'not a regular file'}; remove it and run again`);
  }
  if ((s.mode & 0o777) !== 0o600) await handle.chmod(0o600);
  return handle;
}

/**
 * Takes the host lock, waiting up to $KNIT_LOCK_TIMEOUT (default 10) seconds for another knit to
 * finish; throws StepError (exit 1) naming the holder when it does not. A knit started by the holder
 * itself (its direct child) returns a no-op lock instead of waiting for its parent.
 */
export async function acquireHostLock(o: LockOptions): Promise<HostLock> {
  const path = join(o.root, LOCK_PATH);
  if (o.env[HELD_ENV] !== undefined && o.env[HELD_ENV] === String(process.ppid)) return { path, release: async () => undefined };
  // A temporary host root (tests) is a machine only as far as it was set up: without its /run/lock
  // there is nothing to lock, and a run that changes nothing (bad input) leaves it empty.
  if (o.root !== '/' && !(await stat(dirname(path)).then((s) => s.isDirectory(), () => false))) return { path, release: async () => undefined };
  const waitS = lockWaitSeconds(o.env);
  const handle = await openLockFile(path);
  try {
    if ((await flockFd(handle.fd, 'nonblock')) !== 0) {
      const holder = await holderOf(handle);
      if (waitS > 0) o.note(`waiting for ${holder} holding ${path} (up to ${waitS} s)`);
      if (waitS === 0 || (await flockFd(handle.fd, waitS)) !== 0) {
        throw new StepError('host/lock', `another knit is changing this host: ${await holderOf(handle)} holds ${path}; run again when it has finished`);
      }
    }
    await handle.truncate(0);
    await handle.write(`${process.pid}\n${o.command}\n`, 0);
  } catch (e) {
    await handle.close();
    throw e;
  }
  process.env[HELD_ENV] = String(process.pid);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      delete process.env[HELD_ENV];
      await handle.truncate(0).catch(() => undefined);
      await handle.close();
    },
  };
}
