/**
 * The wizard in a real terminal: `knit init --interactive` runs inside tmux, the test reads the screen
 * (capture-pane) and types answers (send-keys) as a person would. Answers in; a saved cluster spec, the
 * plan and a confirmation out; the saved spec replays with `--config … --yes`. Ctrl-C at a question
 * exits 130 with nothing saved or changed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSpec } from '../src/spec/load.js';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { knit, KNIT_BIN } from './helpers/knit.js';
import { allOf, needRoot, needTools, onPath, skipUnless } from './helpers/skip.js';

const run = promisify(execFile);
const tmuxPath = onPath('tmux');
const support = allOf(needTools(['tmux']), needRoot('knit init runs as root'));
const socket = `knit-test-${process.pid}`;
const tmux = (...args: string[]) => run(tmuxPath!, ['-L', socket, ...args]);

let host: FakeHost;
let dir: string;
beforeEach(async () => {
  host = await createFakeHost();
  dir = await mkdtemp(join(tmpdir(), 'knit-wizard-'));
});
afterEach(async () => {
  await tmux('kill-server').catch(() => undefined);
  await host.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Starts knit in a fresh 160×50 terminal; the shell line records the exit code once knit ends. */
async function startInTerminal(args: string[]): Promise<void> {
  // a person at a terminal: CI=true (as CI runs this suite) would make knit refuse to ask
  const env = { ...host.env, NO_COLOR: '1', KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/', KNIT_NO_CODE_CACHE: '1', CI: '' };
  const vars = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
  await tmux('new-session', '-d', '-s', 'w', '-x', '160', '-y', '50', `env ${vars} node ${KNIT_BIN} ${args.join(' ')}; echo "KNIT-EXIT=$?"; sleep 600`);
}

const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'w')).stdout;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the screen shows `text`, up to 10 s. */
async function waitFor(text: string | RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const s = await screen();
    if (typeof text === 'string' ? s.includes(text) : text.test(s)) return s;
    await sleep(50);
  }
  throw new Error(`the terminal never showed ${String(text)}; it shows:\n${await screen()}`);
}

/** inquirer marks the question waiting for an answer with `?`, and an answered one with `✔`. */
const questionState = (s: string, question: string): 'asked' | 'answered' | undefined => {
  const line = s.split('\n').findLast((l) => l.includes(question));
  return line === undefined ? undefined : /^\s*\?/.test(line) ? 'asked' : 'answered';
};

async function waitForQuestion(question: string, state: 'asked' | 'answered'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (questionState(await screen(), question) === state) return;
    await sleep(25);
  }
  throw new Error(`"${question}" never became ${state}; the terminal shows:\n${await screen()}`);
}

/** Answers the question on screen: waits for it, types (or just presses Enter for the default), waits for ✔. */
async function answer(question: string, keys: string[] = []): Promise<void> {
  await waitForQuestion(question, 'asked');
  if (keys.length > 0) await tmux('send-keys', '-t', 'w', '-l', keys.join(''));
  await tmux('send-keys', '-t', 'w', 'Enter');
  await waitForQuestion(question, 'answered');
}

const exitCode = async (): Promise<number> => Number(/KNIT-EXIT=(\d+)/.exec(await waitFor(/KNIT-EXIT=\d+/))![1]);

describe('the wizard in a real terminal (tmux)', skipUnless(support), () => {
  it('answers in, a saved spec and the plan out; declining the plan changes nothing; the spec replays with --yes', async () => {
    const saved = join(dir, 'cluster.yaml');
    await startInTerminal(['init', '--interactive', '--save', saved]);
    await waitFor('Not on ECS');
    await answer('This machine is'); // control plane (the default)
    await answer('Node name');
    await answer('Private IP of this node');
    await answer('Public IP', ['203.0.113.10']);
    await answer('Kubernetes version');
    await answer('Pod network'); // Flannel VXLAN, the default off ECS
    await answer('API server endpoint for the other nodes'); // 203.0.113.10:6443 from the public IP
    // a typed CIDR that overlaps the service CIDR is refused as typed, then corrected
    await waitForQuestion('Pod CIDR', 'asked');
    await tmux('send-keys', '-t', 'w', '-l', '\x7f'.repeat(20) + '10.96.0.0/16');
    await tmux('send-keys', '-t', 'w', 'Enter');
    expect(await waitFor('overlaps')).toContain('10.96.0.0/16 overlaps kubernetes.serviceSubnet 10.96.0.0/12');
    await answer('Pod CIDR', ['\x7f'.repeat(20), '10.244.0.0/16']);
    await answer('Service CIDR');
    await answer('Add another node?', ['y']);
    await answer('Its name', ['worker-1']);
    await answer('Role of worker-1');
    await answer('Private IP of worker-1', ['172.17.0.20']);
    await answer('VPC label of worker-1');
    await answer('Public IP of worker-1', ['198.51.100.20']);
    await answer('Add another node?');
    await answer('Pull images from', ['\x1b[B']); // down: cn
    // the plan, then the one question before anything changes
    const plan = await waitFor(/Initialize .* as a control plane\?/);
    expect(plan).toContain('kubeadm/init — Initialize the control plane (kubeadm init)');
    expect(plan).toContain(`saved ${saved}`);
    await answer('as a control plane?', ['n']);
    expect(await exitCode()).toBe(130);
    expect(await screen()).toContain('cancelled; nothing was changed');
    expect(await readdir(host.root)).toEqual([]);
    expect(await host.calls()).toEqual([]);

    expect((await stat(saved)).mode & 0o777).toBe(0o600);
    const text = await readFile(saved, 'utf8');
    const node = hostname().toLowerCase();
    const { spec } = loadSpec({ file: { name: saved, text }, hostname: 'unused' });
    expect(spec.kubernetes).toMatchObject({ controlPlaneEndpoint: '203.0.113.10:6443', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' });
    expect(spec.network.plugin).toBe('flannel');
    expect(spec.mirror).toBe('cn');
    expect(spec.nodes.map((n) => [n.name, n.role, n.publicIP])).toEqual([
      [node, 'control-plane', '203.0.113.10'],
      ['worker-1', 'worker', '198.51.100.20'],
    ]);

    // the saved answers replay without a question
    const replay = await knit(['init', '--config', saved, '--node-name', node, '--yes', '--dry-run'], { env: host.env });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain(`knit init: control plane ${node}`);
    expect(replay.stdout).toContain('crossvpc');
  });

  it('confirming the plan runs init (fake kubeadm/kubectl) and prints the join command', async () => {
    await startInTerminal(['init', '--interactive', '--save', join(dir, 'cluster.yaml'), '--skip', 'preflight']);
    for (const q of ['This machine is', 'Node name', 'Private IP of this node']) await answer(q);
    await answer('Public IP', ['203.0.113.10']);
    for (const q of ['Kubernetes version', 'Pod network', 'API server endpoint', 'Pod CIDR', 'Service CIDR', 'Add another node?', 'Pull images from', 'as a control plane?']) await answer(q);
    const code = await exitCode();
    const s = await screen();
    expect(code, s).toBe(0);
    expect(s).toMatch(/knit join --endpoint 203\.0\.113\.10:6443 --token [a-z0-9]{6}\.[a-z0-9]{16} --ca-cert-hash sha256:[a-f0-9]{64}/);
    expect((await host.calls())[0]).toBe('kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs');
  });

  it('a worker: the join questions (the token masked), then the join plan; the saved spec replays with the token', async () => {
    const saved = join(dir, 'worker.yaml');
    const token = 'abcdef.0123456789abcdef';
    const caHash = `sha256:${'ab'.repeat(32)}`;
    await startInTerminal(['init', '--interactive', '--save', saved, '--dry-run']);
    await answer('This machine is', ['\x1b[B']); // down: worker joining a cluster
    for (const q of ['Node name', 'Private IP of this node']) await answer(q);
    await answer('Public IP', ['198.51.100.20']);
    await answer('API server endpoint to join', ['203.0.113.10:6443']);
    await answer('Bootstrap token', [token]);
    await answer('CA certificate hash', [caHash]);
    for (const q of ['Kubernetes version', 'Pod network', 'Pod CIDR', 'Service CIDR', 'Add another node?']) await answer(q);
    expect(await exitCode()).toBe(0);
    const s = await screen();
    expect(s).toContain('kubeadm/join');
    expect(s).not.toContain('0123456789abcdef'); // the token's secret half
    const node = hostname().toLowerCase();
    const replay = await knit(['join', '--config', saved, '--node-name', node, '--endpoint', '203.0.113.10:6443', '--token', token, '--ca-cert-hash', caHash, '--yes', '--dry-run'], { env: host.env });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain('kubeadm/join');
    expect(await readdir(host.root)).toEqual([]);
  });

  it('Ctrl-C at a question exits 130: nothing saved, nothing changed', async () => {
    const saved = join(dir, 'cluster.yaml');
    await startInTerminal(['init', '--interactive', '--save', saved]);
    await answer('This machine is');
    await waitForQuestion('Node name', 'asked');
    await tmux('send-keys', '-t', 'w', 'C-c');
    expect(await exitCode()).toBe(130);
    expect(existsSync(saved)).toBe(false);
    expect(await readdir(host.root)).toEqual([]);
  });
});
