import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StepError } from '../src/errors.js';
import { HostApplier } from '../src/host/apply.js';
import { HostFiles } from '../src/host/files.js';
import { formatPlan } from '../src/runner/describe.js';
import { runPlan } from '../src/runner/run.js';
import { checkSkipIds, isSkipped } from '../src/runner/skip.js';
import type { Effect, EffectApplier, Step } from '../src/runner/types.js';
import { fakeExec } from './helpers/fake-exec.js';

const steps: Step[] = [
  { id: 'host/file', title: 'Write a file', effects: [{ kind: 'file', path: '/etc/knit/a.conf', content: 'a=1\n', mode: 0o600 }] },
  { id: 'kubeadm/init', title: 'Init', doneWhen: { kind: 'file-exists', path: '/etc/kubernetes/admin.conf' }, effects: [{ kind: 'exec', argv: ['kubeadm', 'init'] }] },
  { id: 'kubeadm/token', title: 'Token', effects: [{ kind: 'exec', argv: ['kubeadm', 'token', 'create', '--print-join-command'] }] },
];

/** Records effects; fails the ones whose argv starts with `failOn`. */
const recorder = (failOn?: string, done = false): EffectApplier & { applied: Effect[] } => {
  const applied: Effect[] = [];
  return {
    applied,
    async apply(e) {
      if (e.kind === 'exec' && e.argv.join(' ').startsWith(failOn ?? '\0')) throw Object.assign(new Error('exit 1'), { output: 'line 1\nline 2\n[preflight] boom' });
      applied.push(e);
      return { changed: true };
    },
    probe: async () => done,
  };
};

describe('runPlan', () => {
  it('applies steps in order and honours --skip for a step or a whole group', async () => {
    const applier = recorder();
    const results = await runPlan(steps, { applier, skip: new Set(['kubeadm']) });
    expect(results.map((r) => [r.id, r.status])).toEqual([['host/file', 'applied'], ['kubeadm/init', 'skipped'], ['kubeadm/token', 'skipped']]);
    expect(applied(applier)).toEqual(['file']);
  });

  it('does not repeat a step whose done-probe holds', async () => {
    const applier = recorder(undefined, true);
    const results = await runPlan(steps.slice(1, 2), { applier });
    expect(results[0]!.status).toBe('already-done');
    expect(applier.applied).toEqual([]);
  });

  it('stops at the first failure with the step, the output tail and how to resume', async () => {
    const applier = recorder('kubeadm init');
    const err = await runPlan(steps, { applier, resumeCommand: 'knit init -f c.yaml' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const e = err as StepError;
    expect(e.stepId).toBe('kubeadm/init');
    expect(e.message).toBe('step kubeadm/init failed: run kubeadm init: exit 1');
    expect(e.details).toContain('  [preflight] boom');
    expect(e.details.join('\n')).toMatch(/run `knit init -f c.yaml` again.*\n.*--skip kubeadm\/init/);
    expect(applier.applied.map((x) => x.kind)).toEqual(['file']); // token step never ran
  });

  it('rejects --skip ids that name no step, listing the steps and the groups', () => {
    expect(checkSkipIds(steps, new Set(['kubeadm', 'host/file']))).toBeUndefined();
    expect(checkSkipIds(steps, new Set(['kubeadm/int']))).toBe('--skip: unknown step kubeadm/int (steps: host/file, kubeadm/init, kubeadm/token; groups: host, kubeadm)');
  });

  it('prints the plan from the same effect data', () => {
    expect(formatPlan('plan', steps, new Set(['kubeadm/token']))).toBe(
      [
        'plan',
        '',
        '[1/3] host/file — Write a file',
        '      write /etc/knit/a.conf (4 bytes, mode 0600)',
        '[2/3] kubeadm/init — Init',
        '      already done when /etc/kubernetes/admin.conf exists',
        '      run kubeadm init',
        '[3/3] kubeadm/token — Token (skipped: --skip)',
        '',
      ].join('\n'),
    );
  });
});

const applied = (a: { applied: Effect[] }) => a.applied.map((e) => e.kind);

describe('HostApplier on a temporary host root', () => {
  let root: string;
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** Every directory, and every file with its mode and content: equal snapshots mean identical trees. */
  const snapshot = async (dir: string, prefix = ''): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
      const rel = join(prefix, entry.name);
      if (entry.isDirectory()) Object.assign(out, { [`${rel}/`]: 'dir' }, await snapshot(dir, rel));
      else out[rel] = `${((await stat(join(dir, rel))).mode & 0o777).toString(8)} ${await readFile(join(dir, rel), 'utf8')}`;
    }
    return out;
  };

  it('writes atomically, is a no-op the second time, and undo restores the root byte for byte', async () => {
    root = await mkdtemp(join(tmpdir(), 'knit-root-'));
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/fstab'), 'UUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n', { mode: 0o644 });
    const before = await snapshot(root);
    const files = new HostFiles(root);
    const applier = new HostApplier({ files, exec: fakeExec([]).exec, owner: 'preflight' });
    const effects: Effect[] = [
      { kind: 'file', path: '/etc/fstab', content: 'UUID=1 / ext4 defaults 0 1\n# /swap.img none swap sw 0 0\n' },
      { kind: 'file', path: '/etc/sysctl.d/90-knit.conf', content: 'net.ipv4.ip_forward = 1\n', mode: 0o644 },
    ];
    expect(await Promise.all(effects.map((e) => applier.apply(e).then((o) => o.changed)))).toEqual([true, true]);
    expect(await files.read('/etc/fstab')).toContain('# /swap.img');
    expect((await stat(join(root, 'etc/fstab'))).mode & 0o777).toBe(0o644);
    for (const e of effects) expect((await applier.apply(e)).changed).toBe(false);

    // a second owner's change survives the first owner's undo
    await new HostApplier({ files, exec: fakeExec([]).exec, owner: 'crossvpc' }).apply({ kind: 'file', path: '/etc/knit/crossvpc.rules', content: 'x\n' });
    const undone = await files.undo('preflight');
    expect(undone.restored.sort()).toEqual(['/etc/fstab', '/etc/sysctl.d/90-knit.conf']);
    expect(await files.read('/etc/knit/crossvpc.rules')).toBe('x\n');
    await files.undo('crossvpc');
    expect(await snapshot(root)).toEqual({ ...before });
  });

  it('keeps the first original when knit writes a file twice', async () => {
    root = await mkdtemp(join(tmpdir(), 'knit-root-'));
    const files = new HostFiles(root);
    await files.write('/etc/selinux/config', 'SELINUX=enforcing\n');
    const applier = new HostApplier({ files, exec: fakeExec([]).exec, owner: 'preflight' });
    await applier.apply({ kind: 'file', path: '/etc/selinux/config', content: 'SELINUX=permissive\n' });
    await applier.apply({ kind: 'file', path: '/etc/selinux/config', content: 'SELINUX=disabled\n' });
    await files.undo('preflight');
    expect(await files.read('/etc/selinux/config')).toBe('SELINUX=enforcing\n');
  });

  it('runs exec effects by argv and reports a failing one with its output', async () => {
    root = await mkdtemp(join(tmpdir(), 'knit-root-'));
    const fake = fakeExec([{ argv: ['modprobe', 'br_netfilter'], result: { exitCode: 1, stderr: 'modprobe: FATAL: Module br_netfilter not found' } }]);
    const applier = new HostApplier({ files: new HostFiles(root), exec: fake.exec, owner: 't' });
    await expect(applier.apply({ kind: 'exec', argv: ['modprobe', 'br_netfilter'] })).rejects.toMatchObject({
      message: '`modprobe br_netfilter` exited with 1',
      output: 'modprobe: FATAL: Module br_netfilter not found',
    });
    fake.assertAllUsed();
  });
});

describe('--skip matching', () => {
  const one = (s: string) => new Set([s]);

  it('a group is a whole first segment: kubeadm skips kubeadm/*, never kubeadmx/* (nor does kube skip kubeadm/*)', () => {
    expect(isSkipped('kubeadm/init', one('kubeadm'))).toBe(true);
    expect(isSkipped('kubeadmx/init', one('kubeadm'))).toBe(false);
    expect(isSkipped('kubeadm/init', one('kube'))).toBe(false);
    expect(isSkipped('kubeadm', one('kubeadm'))).toBe(true);
    expect(isSkipped('kubeadm/init', one('kubeadm/in'))).toBe(false);
    const only = [{ id: 'kubeadmx/init', title: 'x', effects: [] }];
    expect(checkSkipIds(only, one('kubeadm'))).toMatch(/^--skip: unknown step kubeadm /);
  });

  it('wait covers every wait step; the rollout wait keeps its old id cni/rollout and stays in cni', () => {
    expect(isSkipped('wait/node-ready', one('wait'))).toBe(true);
    expect(isSkipped('wait/cni-rollout', one('wait'))).toBe(true);
    expect(isSkipped('wait/cni-rollout', one('cni/rollout'))).toBe(true);
    expect(isSkipped('wait/cni-rollout', one('cni'))).toBe(true);
    expect(isSkipped('wait/node-ready', one('cni'))).toBe(false);
    expect(isSkipped('wait/cni-rollout', one('cni/roll'))).toBe(false);
    expect(isSkipped('wait/cni-rollout', one('waits'))).toBe(false);
    const planned = [{ id: 'wait/cni-rollout', title: 'x', effects: [] }];
    expect(checkSkipIds(planned, new Set(['cni/rollout', 'cni', 'wait']))).toBeUndefined();
  });
});
