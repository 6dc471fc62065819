/**
 * Files on the host, under a root directory (default `/`; tests use a temporary one). Writes are atomic
 * (temp file + rename). Before knit first changes a path it records what was there (content and mode,
 * or absence) under /var/lib/knit/backup, tagged with the owner that changed it, so `undo` can put back
 * exactly the original, however many times knit wrote the file since.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { access, chmod, constants, lstat, mkdir, open, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PATHS } from '../defaults.js';
import { UsageError } from '../errors.js';

export interface BackupEntry {
  owner: string;
  kind: 'file' | 'sysctl';
  /** Host path (file) or sysctl key. */
  target: string;
  existed: boolean;
  /** File: name of the saved copy in the backup dir; sysctl: the original value. */
  saved?: string;
  mode?: number;
  /** Directories that did not exist before knit created the file, deepest first (undo removes them). */
  createdDirs?: string[];
}

interface BackupIndex {
  /** Directories the backup store itself created (removed with the last backup). */
  createdDirs: string[];
  entries: BackupEntry[];
}

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * `mkdir -p`, with a one-line reason when it fails. Node reports a read-only file system as ENOENT for
 * a recursive mkdir (the first missing parent "does not exist"): the deepest existing ancestor says why.
 */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let why = code === 'ENOTDIR' || code === 'EEXIST' ? 'a parent is not a directory' : (code ?? (e as Error).message);
    if (code === 'ENOENT' || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
      let existing = dirname(dir);
      while (existing !== dirname(existing) && !(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
      const denied = await access(existing, constants.W_OK).then(() => undefined, (err: NodeJS.ErrnoException) => err.code);
      why = denied === 'EROFS' || code === 'EROFS' ? 'read-only file system' : denied === 'EACCES' || denied === 'EPERM' || code === 'EACCES' || code === 'EPERM' ? 'permission denied' : why;
    }
    throw new Error(`cannot write ${dir}: ${why}`);
  }
}

/**
 * Refuses (exit 2, naming the path) a target that exists and is not a regular file: knit never writes
 * through a symbolic link (as root, that would overwrite whatever the link points at) nor over a directory.
 */
export async function refuseNonRegular(path: string): Promise<void> {
  const s = await lstat(path).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e)));
  if (!s || s.isFile()) return;
  const what = s.isSymbolicLink() ? 'a symbolic link' : s.isDirectory() ? 'a directory' : 'not a regular file';
  throw new UsageError(`${path}: is ${what}; knit writes only regular files and never follows links`);
}

/**
 * Writes a file as a whole, or not at all: a temporary file created exclusively in the same directory
 * (O_CREAT|O_EXCL, so no link is followed there either), given `mode` whatever the old file had, then
 * renamed over the target. The target must be absent or a regular file (see refuseNonRegular).
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode: number): Promise<void> {
  await refuseNonRegular(path);
  const tmp = join(dirname(path), `.${basename(path)}.knit-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`);
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have taken bits away
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export class HostFiles {
  constructor(readonly root = '/') {}

  /** The real path of a host path under the root. */
  path(hostPath: string): string {
    return join(this.root, hostPath);
  }

  async read(hostPath: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(hostPath), 'utf8');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async exists(hostPath: string): Promise<boolean> {
    return stat(this.path(hostPath)).then(() => true, (e) => (isMissing(e) ? false : Promise.reject(e)));
  }

  async mode(hostPath: string): Promise<number | undefined> {
    return stat(this.path(hostPath)).then((s) => s.mode & 0o7777, (e) => (isMissing(e) ? undefined : Promise.reject(e)));
  }

  /** Atomic write; returns false (and touches nothing) when content and mode are already as asked. */
  async write(hostPath: string, content: string, mode?: number): Promise<boolean> {
    const current = await this.read(hostPath);
    if (current === content && (mode === undefined || (await this.mode(hostPath)) === mode)) return false;
    const real = this.path(hostPath);
    await ensureDir(dirname(real));
    await writeFileAtomic(real, content, mode ?? (await this.mode(hostPath)) ?? 0o644);
    return true;
  }

  /**
   * A log file opened for appending (its directory created). Mode 0600 even when it existed with a wider
   * one (logs may hold what kubeadm prints); never through a symbolic link (O_NOFOLLOW) nor into
   * anything but a regular file: refused with exit 2, naming the path.
   */
  async appendStream(hostPath: string): Promise<WriteStream> {
    const real = this.path(hostPath);
    await ensureDir(dirname(real));
    let handle;
    try {
      // O_NONBLOCK: a FIFO there fails (ENXIO) instead of blocking; no effect on a regular file
      handle = await open(real, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENXIO') await refuseNonRegular(real);
      throw e;
    }
    try {
      if (!(await handle.stat()).isFile()) await refuseNonRegular(real);
      await handle.chmod(0o600); // open() keeps an existing file's mode: set it on the file itself
    } catch (e) {
      await handle.close();
      throw e;
    }
    return createWriteStream('', { fd: handle });
  }

  async remove(hostPath: string): Promise<boolean> {
    if (!(await this.exists(hostPath))) return false;
    await rm(this.path(hostPath), { recursive: true, force: true });
    return true;
  }

  // --- backups -----------------------------------------------------------------------------------

  private readonly indexPath = `${PATHS.backupDir}/index.json`;
  /** Index updates are read-modify-write: run them one at a time so concurrent changes lose nothing. */
  private indexLock: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.indexLock.then(fn, fn);
    this.indexLock = next.catch(() => undefined);
    return next;
  }

  private async readIndex(): Promise<BackupIndex> {
    const text = await this.read(this.indexPath);
    return text ? (JSON.parse(text) as BackupIndex) : { createdDirs: [], entries: [] };
  }

  async backups(): Promise<BackupEntry[]> {
    return (await this.readIndex()).entries;
  }

  /** Directories above `hostPath` that do not exist yet, deepest first. */
  private async missingDirs(hostPath: string): Promise<string[]> {
    const missing: string[] = [];
    for (let dir = dirname(hostPath); dir !== '/' && !(await this.exists(dir)); dir = dirname(dir)) missing.push(dir);
    return missing;
  }

  /** Before the store's first write: the directories it is about to create. */
  private async storeDirsToCreate(): Promise<string[] | undefined> {
    return (await this.exists(this.indexPath)) ? undefined : this.missingDirs(this.indexPath);
  }

  private async saveIndex(entries: BackupEntry[], newStoreDirs?: string[]): Promise<void> {
    const index = await this.readIndex();
    if (entries.length === 0) {
      // the last backup is gone: remove the store and the directories it created (when empty)
      await this.remove(PATHS.backupDir);
      for (const dir of index.createdDirs) await rmdir(this.path(dir)).catch(() => undefined);
      return;
    }
    const createdDirs = (await this.exists(this.indexPath)) ? index.createdDirs : (newStoreDirs ?? (await this.missingDirs(this.indexPath)));
    await this.write(this.indexPath, `${JSON.stringify({ createdDirs, entries }, null, 2)}\n`, 0o600);
  }

  /**
   * Records the original state of a file the first time `owner` (or anyone) changes it. Directories
   * are not backed up: removing one (reset clearing /etc/cni/net.d) is meant to be final.
   */
  backupFile(owner: string, hostPath: string): Promise<void> {
    return this.exclusive(async () => {
      const entries = await this.backups();
      if (entries.some((e) => e.kind === 'file' && e.target === hostPath)) return;
      if ((await stat(this.path(hostPath)).catch(() => undefined))?.isDirectory()) return;
      const content = await this.read(hostPath);
      const storeDirs = await this.storeDirsToCreate();
      const entry: BackupEntry = { owner, kind: 'file', target: hostPath, existed: content !== undefined };
      if (content === undefined) {
        const missing = await this.missingDirs(hostPath);
        if (missing.length) entry.createdDirs = missing;
      } else {
        entry.saved = `${createHash('sha256').update(hostPath).digest('hex').slice(0, 16)}.orig`;
        entry.mode = await this.mode(hostPath);
        await this.write(`${PATHS.backupDir}/${entry.saved}`, content, 0o600);
      }
      await this.saveIndex([...entries, entry], storeDirs);
    });
  }

  backupSysctl(owner: string, key: string, original: string): Promise<void> {
    return this.exclusive(async () => {
      const entries = await this.backups();
      if (entries.some((e) => e.kind === 'sysctl' && e.target === key)) return;
      await this.saveIndex([...entries, { owner, kind: 'sysctl', target: key, existed: true, saved: original }]);
    });
  }

  /**
   * Restores every file `owner` changed to its original state and returns the sysctl entries for the
   * caller to restore (live kernel values are not files under the root).
   */
  undo(owner: string): Promise<{ restored: string[]; sysctls: BackupEntry[] }> {
    return this.exclusive(async () => {
      const entries = await this.backups();
      const mine = entries.filter((e) => e.owner === owner);
      const restored: string[] = [];
      for (const e of mine.filter((x) => x.kind === 'file').reverse()) {
        if (e.existed && e.saved !== undefined) {
          const original = await this.read(`${PATHS.backupDir}/${e.saved}`);
          if (original === undefined) throw new Error(`backup of ${e.target} is missing from ${PATHS.backupDir}`);
          await this.write(e.target, original, e.mode);
          await this.remove(`${PATHS.backupDir}/${e.saved}`);
        } else {
          await this.remove(e.target);
          // only when empty: something else may have been put there since
          for (const dir of e.createdDirs ?? []) await rmdir(this.path(dir)).catch(() => undefined);
        }
        restored.push(e.target);
      }
      await this.saveIndex(entries.filter((e) => e.owner !== owner));
      return { restored, sysctls: mine.filter((e) => e.kind === 'sysctl') };
    });
  }
}
