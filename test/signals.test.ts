/**
 * Signals, at a real terminal (tmux) and without one: every command ends on SIGTERM (exit 143) or
 * Ctrl-C/SIGINT (exit 130) at once, its spinner stopped, the cursor shown again, and the processes it
 * started ended with it. And `knit verify` against an apiserver that never answers ends within its
 * --timeout at a terminal too (its reads are given what is left of the wait).
 *
 * The silent apiserver is a kubectl stand-in that records its argv and pid, then sleeps until killed.
 */
import { execa } from 'execa';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { KNIT_BIN } from './helpers/knit.js';
import { needTools, onPath, skipUnless } from './helpers/skip.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const config = fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url));
const socket = `knit-signals-${process.pid}`;
const tmux = (...args: string[]) => run(onPath('tmux')!, ['-L', socket, ...args]);

let dir: string;
let host: FakeHost;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knit-signals-'));
  host = await createFakeHost();
  await writeFile(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\ncurrent-context: ""\n');
  // a kubectl that never answers: records its argv and pid, then sleeps (exec keeps the pid)
  await writeFile(join(dir, 'kubectl'), `#!/bin/sh\necho "$$ $*" >> "${join(dir, 'kubectl.log')}"\nexec sleep 120\n`);
  await chmod(join(dir, 'kubectl'), 0o755);
});
afterEach(async () => {
  await tmux('kill-server').catch(() => undefined);
  await writeFile(join(host.root, '..', 'release'), '').catch(() => undefined);
  for (const pid of await kubectlPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await host.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const kubectlCalls = async () => (await readFile(join(dir, 'kubectl.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
const kubectlPids = async () => (await kubectlCalls()).map((l) => Number(l.split(' ')[0]));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls every 50 ms up to `tries` times (a failure guard, not a timing). */
async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await sleep(50);
  }
  throw new Error(`never happened: ${what}`);
}

const verifyEnv = () => ({ PATH: `${dir}:${process.env.PATH}`, KNIT_NO_CODE_CACHE: '1', NO_COLOR: '1', CI: '' });
const initEnv = () => ({ ...host.env, KNIT_NO_CODE_CACHE: '1', NO_COLOR: '1', CI: '', FAKE_HANG_AT: '1', FAKE_HANG_RELEASE: join(host.root, '..', 'release'), KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/' });

describe('at a terminal (tmux)', skipUnless(needTools(['tmux'])), () => {
  /** Starts knit in a fresh terminal; the shell prints its exit code once knit ends, and knit's pid first. */
  async function startInTerminal(args: string[], env: Record<string, string>): Promise<void> {
    const vars = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
    await tmux('new-session', '-d', '-s', 's', '-x', '160', '-y', '50', `env ${vars} node ${KNIT_BIN} ${args.join(' ')}; echo "KNIT-EXIT=$?"; sleep 600`);
  }
  const screen = async () => (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 's')).stdout;
  const exitCode = async () => {
    const m = /KNIT-EXIT=(\d+)/.exec(await screen());
    return m ? Number(m[1]) : undefined;
  };
  /** The pid of knit's node process: the terminal's shell's child. */
  const knitPid = async () => {
    const shell = (await tmux('display', '-p', '-t', 's', '#{pane_pid}')).stdout.trim();
    const r = await execa('pgrep', ['-P', shell, '-f', KNIT_BIN], { reject: false });
    return r.exitCode === 0 ? Number(String(r.stdout).trim().split('\n')[0]) : undefined;
  };
  const cursorShown = async () => (await tmux('display', '-p', '-t', 's', '#{cursor_flag}')).stdout.trim() === '1';

  it('verify --timeout 1 against an apiserver that never answers ends with exit 1, its reads bounded by the timeout', async () => {
    await startInTerminal(['verify', '--timeout', '1', '--kubeconfig', join(dir, 'kubeconfig')], verifyEnv());
    // failure guard only (10 s): before the fix the first read alone was given 15 s + 5 s
    const code = await until(exitCode, 'knit verify ended', 200);
    expect(code).toBe(1);
    expect(await screen()).toContain('error: cannot read the cluster:');
    const calls = await kubectlCalls();
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c).toContain('--request-timeout=1s');
    // the kubectl it gave up on does not outlive it
    for (const pid of await kubectlPids()) await until(() => !alive(pid), `kubectl ${pid} ended`);
  });

  it('SIGTERM to a waiting verify ends it at once with exit 143, its kubectl ended and the cursor shown', async () => {
    await startInTerminal(['verify', '--timeout', '300', '--kubeconfig', join(dir, 'kubeconfig')], verifyEnv());
    const [first] = await until(async () => ((await kubectlPids()).length ? kubectlPids() : undefined), 'kubectl started');
    const pid = await until(knitPid, 'knit is running');
    process.kill(pid, 'SIGTERM');
    // failure guard only: before the fix knit stayed until its kubectl gave up (20 s)
    expect(await until(exitCode, 'knit verify ended after SIGTERM', 100)).toBe(143);
    expect(await cursorShown()).toBe(true);
    await until(() => !alive(first!), 'its kubectl ended', 60);
  });

  it('Ctrl-C during init\'s spinner (kubeadm running) ends it with exit 130, the spinner stopped and the cursor shown', async () => {
    await startInTerminal(['init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc'], initEnv());
    await until(async () => (await host.results()).some((r) => 'hanging' in r) || undefined, 'kubeadm init is running');
    await until(async () => (await screen()).includes('Initialize the control plane') || undefined, 'the spinner shows the step');
    await tmux('send-keys', '-t', 's', 'C-c');
    expect(await until(exitCode, 'knit init ended after Ctrl-C', 100)).toBe(130);
    const s = await screen();
    expect(s).toContain('cancelled (Ctrl-C)');
    expect(await cursorShown()).toBe(true);
    // no spinner frame redrawn after the exit line
    const after = s.slice(s.indexOf('KNIT-EXIT=130'));
    await sleep(300);
    expect((await screen()).slice((await screen()).indexOf('KNIT-EXIT=130'))).toBe(after);
  });
});

describe('without a terminal', () => {
  it('SIGTERM to init while kubeadm runs: exit 143 at once, and kubeadm is ended with it', async () => {
    const knit = execa('node', [KNIT_BIN, 'init', '-f', config, '--yes', '--skip', 'preflight', 'crossvpc'], { reject: false, env: initEnv() });
    try {
      await until(async () => (await host.results()).some((r) => 'hanging' in r) || undefined, 'kubeadm init is running');
      const kubeadm = await execa('pgrep', ['-P', String(knit.pid), '-f', 'kubeadm'], { reject: false });
      const kubeadmPid = Number(String(kubeadm.stdout).trim());
      knit.kill('SIGTERM');
      // failure guard only: the fake kubeadm would hang 60 s
      const r = await Promise.race([knit, sleep(10_000).then(() => undefined)]);
      expect(r?.exitCode).toBe(143);
      expect(String(r?.stderr)).toContain('cancelled (SIGTERM)');
      await until(() => !alive(kubeadmPid), 'kubeadm ended');
    } finally {
      knit.kill('SIGKILL');
    }
  });

  it('verify --timeout 1 against an apiserver that never answers gives its reads 1 s and exits 1', async () => {
    const r = await execa('node', [KNIT_BIN, 'verify', '--timeout', '1', '--kubeconfig', join(dir, 'kubeconfig')], { reject: false, env: verifyEnv(), timeout: 15_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    for (const c of await kubectlCalls()) expect(c).toContain('--request-timeout=1s');
  });
});
