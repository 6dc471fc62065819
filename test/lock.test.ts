/**
 * The host lock (src/host/lock.ts): commands that change the host hold /run/lock/knit.lock (under the
 * host root) while they run. Two real knit processes contend, the second exits 1 naming the first; a
 * SIGKILLed holder frees the lock at once; read-only commands never take it. And the property the
 * design rests on: `flock` locking an inherited descriptor leaves the lock held by knit's descriptor
 * after flock has exited, on this kernel.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireHostLock, LOCK_PATH, lockCommandLine } from '../src/host/lock.js';
import { UsageError } from '../src/errors.js';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { knit, KNIT_BIN } from './helpers/knit.js';
import { needTools, skipUnless } from './helpers/skip.js';

const config = fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let host: FakeHost;
let lockFile: string;
const started: ResultPromise[] = [];
beforeEach(async () => {
  host = await createFakeHost();
  // off ECS at once (a refused port), whatever this machine's network does with the metadata address
  host.env.KNIT_ECS_METADATA_URL = 'http://127.0.0.1:9/latest/meta-data/';
  lockFile = join(host.root, LOCK_PATH);
  // a temporary root takes part in locking once it has /run/lock, as every systemd host has
  await mkdir(join(lockFile, '..'), { recursive: true });
});
afterEach(async () => {
  for (const p of started.splice(0)) p.kill('SIGKILL');
  await writeFile(join(host.root, '..', 'release'), '').catch(() => undefined); // frees a hanging fake
  await host.cleanup();
});

/** Whether another open of the lock file can lock it now (util-linux flock, non-blocking). */
const lockIsFree = async () => (await execa('flock', ['--exclusive', '--nonblock', lockFile, 'true'], { reject: false })).exitCode === 0;

/** Polls `check` every 50 ms, up to 15 s (a failure guard, not a timing). */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`never happened: ${what}`);
}

describe('the host lock', skipUnless(needTools(['flock'])), () => {
  const opts = (env: NodeJS.ProcessEnv = {}) => ({ root: host.root, command: 'knit test', env, note: () => undefined });

  it('stays held through knit\'s descriptor after flock has exited, and is free once released', async () => {
    const lock = await acquireHostLock(opts());
    expect(await lockIsFree()).toBe(false);
    expect((await stat(lockFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(lockFile, 'utf8')).toBe(`${process.pid}\nknit test\n`);
    await lock.release();
    expect(await lockIsFree()).toBe(true);
    expect(await readFile(lockFile, 'utf8')).toBe('');
  });

  it('makes an existing 0644 lock file 0600, and refuses a symbolic link there (exit 2, naming the path)', async () => {
    await mkdir(join(lockFile, '..'), { recursive: true });
    await writeFile(lockFile, '');
    await chmod(lockFile, 0o644);
    await (await acquireHostLock(opts())).release();
    expect((await stat(lockFile)).mode & 0o777).toBe(0o600);
    const target = join(host.root, 'target');
    await writeFile(target, 'keep');
    await import('node:fs/promises').then((fs) => fs.rm(lockFile));
    await symlink(target, lockFile);
    const e = await acquireHostLock(opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/knit\.lock: is a symbolic link/);
    expect(await readFile(target, 'utf8')).toBe('keep');
  });

  it('with KNIT_LOCK_TIMEOUT=0 a second taker fails at once, naming the holder', async () => {
    const lock = await acquireHostLock(opts());
    try {
      const e = await acquireHostLock({ ...opts({ KNIT_LOCK_TIMEOUT: '0' }), command: 'knit other' }).catch((x: unknown) => x);
      expect((e as Error).message).toBe(`another knit is changing this host: knit (pid ${process.pid}: knit test) holds ${lockFile}; run again when it has finished`);
    } finally {
      await lock.release();
    }
  });

  it('masks the values of secret flags in the recorded command line', () => {
    expect(lockCommandLine(['join', '--token', 'abcdef.0123456789abcdef', '--certificate-key=00ff', '--endpoint', '203.0.113.10:6443'])).toBe(
      'knit join --token ******** --certificate-key=******** --endpoint 203.0.113.10:6443',
    );
  });
});

// every test runs several knit processes: generous failure guards for a loaded machine
describe('two knit processes', { ...skipUnless(needTools(['flock'])), timeout: 120_000 }, () => {
  /** `knit init` whose kubeadm init (its first fake call) hangs until released or killed. */
  async function startHolder(): Promise<{ first: ResultPromise }> {
    const n = (await host.calls()).length + 1;
    const p = execa('node', [KNIT_BIN, 'init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc'], {
      reject: false,
      env: { ...host.env, NO_COLOR: '1', KNIT_NO_CODE_CACHE: '1', FAKE_HANG_AT: String(n), FAKE_HANG_RELEASE: join(host.root, '..', 'release') },
    });
    started.push(p);
    return { first: p }; // not the subprocess itself: awaiting a returned thenable would wait for its end
  }
  const holding = async () => (await host.results()).some((r) => 'hanging' in r);

  it('the second waits, says for whom once, then exits 1 naming the first one\'s pid and command', async () => {
    const { first } = await startHolder();
    await until(holding, 'the first knit reached kubeadm init');
    const second = await knit(['init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc'], { env: { ...host.env, KNIT_LOCK_TIMEOUT: '1' } });
    const holder = `knit (pid ${first.pid}: knit init -f ${config} --yes --skip preflight crossvpc)`;
    expect(second.code).toBe(1);
    expect(second.stderr.split('\n').filter((l) => l.startsWith('waiting for'))).toEqual([`waiting for ${holder} holding ${lockFile} (up to 1 s)`]);
    expect(second.stderr).toContain(`error: another knit is changing this host: ${holder} holds ${lockFile}`);
    // the second never reached kubeadm: only the first one's call is logged
    expect(await host.calls()).toEqual(['kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs']);
  });

  it('SIGKILL of the holder frees the lock at once (its hanging kubeadm holds nothing)', async () => {
    const { first } = await startHolder();
    await until(holding, 'the first knit reached kubeadm init');
    expect(await lockIsFree()).toBe(false);
    first.kill('SIGKILL');
    await first;
    // the kernel released the lock with the process: free with no wait, though the fake kubeadm it
    // started still runs (knit's descriptors are close-on-exec)
    expect(await lockIsFree()).toBe(true);
    const again = await knit(['init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc', 'kubeadm', 'wait'], { env: { ...host.env, KNIT_LOCK_TIMEOUT: '0' } });
    expect(again.stderr).not.toContain('another knit');
  });

  it('read-only commands take no lock: they never create the lock file, and run while another knit holds it', async () => {
    const readOnly = [
      ['render', '-f', config],
      ['init', '--dry-run', '-f', config, '--yes'],
      ['crossvpc', 'apply', '--dry-run', '-f', config, '--node-name', 'master-1'],
      ['preflight', '-f', config, '--node-name', 'master-1'],
    ];
    const runAll = () => Promise.all(readOnly.map((args) => knit(args, { env: { ...host.env, KNIT_LOCK_TIMEOUT: '0' } })));
    for (const r of await runAll()) expect(r.stderr).not.toMatch(/another knit|waiting for/);
    expect(existsSync(lockFile)).toBe(false);

    const { first } = await startHolder();
    await until(holding, 'the first knit reached kubeadm init');
    for (const r of await runAll()) expect(r.stderr).not.toMatch(/another knit|waiting for/);
    // while a command that changes the host does not run
    // (init, with fakes: were the lock ever free here, it would change nothing outside the host root)
    const init = await knit(['init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc'], { env: { ...host.env, KNIT_LOCK_TIMEOUT: '0' } });
    expect(init.code).toBe(1);
    expect(init.stderr).toContain(`knit (pid ${first.pid}: knit init -f ${config} --yes --skip preflight crossvpc) holds ${lockFile}`);
  });
});
