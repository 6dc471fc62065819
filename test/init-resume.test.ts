/**
 * Issue 8, end to end: `knit init` and `knit join` survive a failure in every step of their plans and a
 * SIGKILL at every tool call, and a re-run reaches the end state of a clean, uninterrupted run; a second
 * successful run changes nothing; `--skip` works for every step id and group.
 *
 * The steps come from `knit <command> --dry-run -o json`, which prints the planner's steps with their
 * effects as data, so a step added to a plan is covered here without an edit. EFFECT_KINDS says, per
 * kind of effect, how to make it fail and how to tell that it left no trace; a plan with a kind it does
 * not know fails here until it does.
 *
 * Runs outside a network namespace skip the cross-VPC phase (it would change this machine's nftables);
 * the block at the end runs every cross-VPC step inside a namespace of its own, with real nftables.
 *
 * Kill points: the fakes number their calls, and FAKE_HANG_AT=N[:after] (test/fakes/fake-call.mjs)
 * makes call N hang before or after its work while the test SIGKILLs knit's process group. Of the 2 ×
 * calls points of a clean run, those that leave different machines behind (killPointsOf; knit keeps no
 * state but the machine's, so a re-run cannot tell the others apart), for init and join outside a
 * namespace, and inside one for join's cross-VPC phase (init's makes the same calls through the same
 * code). Not covered: a kill between two of knit's own writes with no tool call between them (each
 * write is an atomic rename).
 */
import { execa } from 'execa';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isSkipped } from '../src/runner/skip.js';
import type { Effect } from '../src/runner/types.js';
import { MASK } from '../src/ui/redact.js';
import { createFakeHost, type FakeHost } from './helpers/fake-host.js';
import { KNIT_BIN } from './helpers/knit.js';
import { describeLab, Lab, probeLabSupport } from './lab/netns.js';

const CONFIG = fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url));
const TOKEN = 'abcdef.0123456789abcdef';
const CA_HASH = `sha256:${'c0ffee'.repeat(10)}c0ff`;
/** Where the fake kubectl keeps the apiserver's objects and node annotations. */
const APISERVER_STATE = 'var/lib/fake-kube/state.json';
/** The group that changes the machine's nftables: skipped outside a network namespace. */
const CROSSVPC = 'crossvpc';

interface Command {
  args: string[];
  /** The kubeadm call that must succeed exactly once, however many runs it takes. */
  kubeadm: string;
  /** What knit masks when it prints the command line back. */
  secret?: string;
}

const INIT: Command = { args: ['init', '-f', CONFIG, '--yes'], kubeadm: 'kubeadm init' };
const JOIN: Command = {
  args: ['join', '-f', CONFIG, '--node-name', 'worker-1', '--endpoint', '203.0.113.10:6443', '--token', TOKEN, '--ca-cert-hash', CA_HASH],
  kubeadm: 'kubeadm join',
  secret: TOKEN.split('.')[1],
};

// --- machines and runs ------------------------------------------------------------------------------

/** A fake host (temporary root, fakes on PATH), optionally inside a network namespace of its own. */
interface Machine {
  host: FakeHost;
  ns?: string;
}

type OnFinished = (fn: () => Promise<void>) => void;

async function newMachine(onFinished: OnFinished, ns?: string): Promise<Machine> {
  const host = await createFakeHost();
  onFinished(() => host.cleanup());
  return { host, ns };
}

/** The temporary host root is an empty machine, whose preflight fails; outside a namespace, nftables is this machine's. */
const baseSkips = (m: Machine): string[] => (m.ns ? ['preflight'] : ['preflight', CROSSVPC]);

interface RunOptions {
  /** Replaces the machine's base skips. */
  skips?: string[];
  /** More arguments before --skip. */
  args?: string[];
  env?: Record<string, string>;
}

interface Run {
  args: string[];
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

const knitArgs = (m: Machine, command: Command, o: RunOptions = {}): string[] => {
  const skips = o.skips ?? baseSkips(m);
  return ['-o', 'json', ...command.args, ...(o.args ?? []), ...(skips.length ? ['--skip', ...skips] : [])];
};

/** knit as its own process group (so that a kill reaches the fakes it runs), inside the machine's namespace. */
function spawnKnit(m: Machine, args: string[], env: Record<string, string> = {}, stderrFile?: string) {
  const vars = Object.entries({ NO_COLOR: '1', ...m.host.env, ...env }).map(([k, v]) => `${k}=${v}`);
  const argv = [...(m.ns ? ['ip', 'netns', 'exec', m.ns] : []), 'env', ...vars, 'node', KNIT_BIN, ...args];
  return execa(argv[0]!, argv.slice(1), { reject: false, detached: true, input: '', stderr: stderrFile ? { file: stderrFile, append: true } : 'pipe' });
}

type Spawned = ReturnType<typeof spawnKnit>;

const finished = async (args: string[], knit: Spawned): Promise<Run> => {
  const r = await knit;
  return { args, code: r.exitCode ?? -1, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr ?? '') };
};

const run = (m: Machine, command: Command, o: RunOptions = {}): Promise<Run> => {
  const args = knitArgs(m, command, o);
  return finished(args, spawnKnit(m, args, o.env));
};

/** Next to the host root, outside it. */
const besideRoot = (m: Machine, name: string) => join(dirname(m.host.root), name);

/** Calls as the clean run on another machine made them: the host root's path left out. */
const callsOf = async (m: Machine): Promise<string[]> => (await m.host.calls()).map((c) => c.replaceAll(m.host.root, '<root>'));

/** How many calls starting with `prefix` did their work and exited 0. */
const succeeded = async (m: Machine, prefix: string): Promise<number> =>
  (await m.host.results()).filter((r) => 'exitCode' in r && r.exitCode === 0 && r.call.startsWith(prefix)).length;

// --- the plan, as knit prints it ----------------------------------------------------------------------

interface PlannedStep {
  id: string;
  title: string;
  effects: Effect[];
}

async function dryRun(command: Command): Promise<PlannedStep[]> {
  const host = await createFakeHost();
  try {
    const r = await run({ host }, command, { args: ['--dry-run'], skips: [] });
    if (r.code !== 0) throw new Error(`knit ${r.args.join(' ')} exited with ${r.code}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { steps: PlannedStep[] }).steps;
  } finally {
    await host.cleanup();
  }
}

const stepsSkippedBy = (steps: PlannedStep[], skips: string[]): PlannedStep[] => steps.filter((s) => isSkipped(s.id, new Set(skips)));

/**
 * Step ids and the groups above them (`kubeadm` for kubeadm/*): everything --skip takes, but for a group
 * that skips the same steps as an id before it (`wait` = `wait/node-ready`).
 */
const skipTargets = (steps: PlannedStep[]): string[] => {
  const ids = steps.map((s) => s.id);
  const groups = ids.filter((id) => id.includes('/')).map((id) => id.slice(0, id.indexOf('/')));
  const bySkippedSteps = new Map<string, string>();
  for (const target of [...ids, ...groups]) {
    const key = stepsSkippedBy(steps, [target]).map((s) => s.id).join(' ');
    if (!bySkippedSteps.has(key)) bySkippedSteps.set(key, target);
  }
  return [...bySkippedSteps.values()];
};

const jsonStatuses = (r: Run): string[] => (JSON.parse(r.stdout) as { steps: { id: string; status: string }[] }).steps.map((s) => `${s.id}:${s.status}`);

/** What the progress line on stderr says about a step ("done", "skipped (--skip)", "failed (…)"); there also when a later step failed. */
const progressOf = (r: Run, steps: PlannedStep[], id: string): string | undefined => {
  const i = steps.findIndex((s) => s.id === id);
  const prefix = `[${i + 1}/${steps.length}] ${steps[i]!.title}: `;
  return r.stderr.split('\n').find((l) => l.startsWith(prefix))?.slice(prefix.length);
};

/** The step named in `error: step <id> failed`. */
const failedStep = (r: Run): string | undefined => /^error: step (\S+) failed/m.exec(r.stderr)?.[1];

/** The command knit says to re-run, as a shell would split it (no globbing: masked secrets are stars). */
async function resumeCommandOf(r: Run): Promise<string[] | undefined> {
  const line = /fix the cause and run `(.*)` again/.exec(r.stderr)?.[1];
  if (line === undefined) return undefined;
  const words = await execa('sh', ['-f', '-c', `printf '%s\\n' ${line}`]);
  return words.stdout.split('\n');
}

const masked = (args: string[], secret?: string): string[] => (secret ? args.map((a) => a.split(secret).join(MASK)) : args);

// --- the end state ------------------------------------------------------------------------------------

interface EndState {
  /** Every path under the host root but the logs and the apiserver's state: a directory's mode, a file's mode and content. */
  files: Record<string, string>;
  /** kubeadm's logs: mode, and the text with kubeadm's random bootstrap tokens and certificate keys masked. */
  logs: Record<string, { mode: string; text: string }>;
  apiserver: unknown;
  /** The live nftables ruleset, inside a namespace. */
  nft?: string;
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
const maskRandom = (log: string) =>
  log.replace(/\b[a-z0-9]{6}\.([a-z0-9]{16}\b|\*{8})/g, '<token>').replace(/\b[a-f0-9]{64}\b/g, '<key>'); // knit masks the token's secret half
/** The logs kubeadm's output goes to, from the plan's exec effects. */
const logFilesOf = (steps: PlannedStep[]): string[] =>
  steps.flatMap((s) => s.effects.flatMap((e) => (e.kind === 'exec' && e.logFile ? [e.logFile.replace(/^\//, '')] : [])));

async function nftRuleset(m: Machine): Promise<string | undefined> {
  if (!m.ns) return undefined;
  return (await execa('ip', ['netns', 'exec', m.ns, 'nft', 'list', 'ruleset'])).stdout;
}

async function endState(m: Machine, logFiles: string[]): Promise<EndState> {
  const state: EndState = { files: {}, logs: {}, apiserver: undefined, nft: await nftRuleset(m) };
  for (const path of (await readdir(m.host.root, { recursive: true })).sort()) {
    const real = join(m.host.root, path);
    const st = await lstat(real);
    if (path === APISERVER_STATE) state.apiserver = JSON.parse(await readFile(real, 'utf8'));
    else if (logFiles.includes(path)) state.logs[path] = { mode: octal(st.mode), text: maskRandom(await readFile(real, 'utf8')) };
    else state.files[path] = st.isDirectory() ? `directory ${octal(st.mode)}` : `file ${octal(st.mode)}\n${await readFile(real, 'utf8')}`;
  }
  return state;
}

/**
 * `logs: 'ends-with-clean'`: a log holds every attempt (a failed one's output is kept for diagnosis),
 * so it ends with the clean run's. `logs: 'exist'`: a SIGKILL also loses whatever kubeadm output knit
 * had not written yet, so only the files and their modes are compared.
 */
function expectSameEndState(expect: ExpectStatic, actual: EndState, clean: EndState, logs: 'ends-with-clean' | 'exist'): void {
  expect(actual.files).toEqual(clean.files);
  expect(actual.apiserver).toEqual(clean.apiserver);
  expect(actual.nft).toEqual(clean.nft);
  expect(Object.fromEntries(Object.entries(actual.logs).map(([p, l]) => [p, l.mode]))).toEqual(Object.fromEntries(Object.entries(clean.logs).map(([p, l]) => [p, l.mode])));
  if (logs === 'ends-with-clean') for (const [path, { text }] of Object.entries(clean.logs)) expect(actual.logs[path]!.text.slice(-text.length)).toBe(text);
}

interface Reference {
  machine: Machine;
  /** Its stderr is the transcript: knit's progress lines and the fakes' calls, in the order they happened. */
  run: Run;
  state: EndState;
  calls: string[];
}

async function cleanRun(m: Machine, command: Command, steps: PlannedStep[]): Promise<Reference> {
  const transcript = besideRoot(m, 'transcript.log');
  const args = knitArgs(m, command);
  // appended to by knit (its stderr) and the fakes alike
  const r = await finished(args, spawnKnit(m, args, { FAKE_TRANSCRIPT: transcript }, transcript));
  r.stderr = await readFile(transcript, 'utf8'); // (the fakes' lines included)
  if (r.code !== 0) throw new Error(`the clean run failed: knit ${r.args.join(' ')}\n${r.stderr}`);
  return { machine: m, run: r, state: await endState(m, logFilesOf(steps)), calls: await callsOf(m) };
}

/** How many tool calls the clean run made before it started `step`. */
function callsBefore(clean: Reference, steps: PlannedStep[], step: PlannedStep): number {
  const lines = clean.run.stderr.split('\n');
  const start = lines.indexOf(`[${steps.indexOf(step) + 1}/${steps.length}] ${step.title} …`);
  if (start < 0) throw new Error(`the clean run never started ${step.id}`);
  return lines.slice(0, start).filter((l) => l.startsWith('fake call: ')).length;
}

// --- how to break each kind of effect, and how to tell it left no trace ------------------------------

/** What the failing run gets, and what it is expected to say. */
interface Breakage {
  env?: Record<string, string>;
  /** A base skip the failing run and the re-run leave out. */
  unskip?: string;
  /** Changes the host root just before the step starts (knit held at the tool call before it); returns the repair. */
  block?: () => Promise<() => Promise<void>>;
  /** More arguments for the re-run "without the failure". */
  resumeArgs?: string[];
  /** How knit fails, when not the usual exit 1 with `error: step <id> failed` and how to resume. */
  outcome?: { exitCode: number; error: string; advice: string };
}

interface EffectKind<E extends Effect> {
  break(effect: E, m: Machine): Promise<Breakage>;
  absent(effect: E, m: Machine, r: Run): Promise<boolean>;
  /** The fake tool call that carries out an effect that changes the machine (a pattern over the fakes' log). */
  changingCall?(effect: E): string;
  /** Changes the machine without a fake tool call (knit's own writes, the real nft). */
  changesUnseen?: true;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A kubectl call as the fakes log it: `kubectl --kubeconfig <path> <verb …>`. */
const kubectlCall = (verb: string) => String.raw`^kubectl --kubeconfig \S+ ${escapeRegExp(verb)}`;
const waitCall = (e: Extract<Effect, { kind: 'wait' }>): string => {
  const t = e.target;
  if (t.kind === 'node-ready') return kubectlCall(`wait --for=condition=Ready node/${t.node} `);
  if (t.kind === 'rollout') return kubectlCall(`rollout status ${t.resource}/${t.name} `);
  return kubectlCall('wait --for=condition=Established ');
};

const execCall = (e: Extract<Effect, { kind: 'exec' }>) => `^${escapeRegExp(e.argv.join(' '))}$`;
const annotateCall = (e: Extract<Effect, { kind: 'kube-annotate' }>) => kubectlCall(`annotate --overwrite node ${e.node} `);

const failCall = async (pattern: string): Promise<Breakage> => ({ env: { FAKE_FAIL: pattern } });
const noCall = async (m: Machine, pattern: string) => !(await m.host.calls()).some((c) => new RegExp(pattern).test(c));
const missing = (m: Machine, hostPath: string) => lstat(join(m.host.root, hostPath)).then(() => false, () => true);

/**
 * Makes writing `hostPath` fail by adding one inode and creating no directory knit would create (it
 * records those in its backups): a directory at the path when its parent exists, else a plain file at
 * its first missing ancestor.
 */
const blockWrites = async (m: Machine, hostPath: string): Promise<Breakage> => ({
  block: async () => {
    let blocker = hostPath;
    for (let dir = dirname(hostPath); dir !== '/' && (await missing(m, dir)); dir = dirname(dir)) blocker = dir;
    const real = join(m.host.root, blocker);
    await (blocker === hostPath ? mkdir(real) : writeFile(real, ''));
    return () => rm(real, { recursive: true });
  },
});

async function apiserverState(m: Machine): Promise<{ objects: Record<string, unknown>; annotations: Record<string, Record<string, string>> }> {
  const text = await readFile(join(m.host.root, APISERVER_STATE), 'utf8').catch(() => '{}');
  return { objects: {}, annotations: {}, ...(JSON.parse(text) as object) };
}

const objectKeys = (yaml: string): string[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
    .filter((o) => o !== null)
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);

/** nft that refuses every transaction (`-f`) and reads as the real one does, first on PATH: a payload the kernel rejects. */
let failingNftDir: Promise<string> | undefined;
const failingNftTransactions = (): Promise<string> =>
  (failingNftDir ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knit-failing-'));
    const real = (await execa('sh', ['-c', 'command -v nft'])).stdout.trim();
    await writeFile(join(dir, 'nft'),
      `#!/bin/sh\nif [ "$1" = "-f" ]; then echo "nft: Error: Could not process rule (failure injected by the test)" >&2; exit 1; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
    return dir;
  })());
afterAll(async () => void (failingNftDir && (await rm(await failingNftDir, { recursive: true }))));

const EFFECT_KINDS: { [K in Effect['kind']]?: EffectKind<Extract<Effect, { kind: K }>> } = {
  preflight: {
    // the temporary host root has no container runtime, no kubelet binary…: the checks fail
    break: async () => ({
      unskip: 'preflight',
      resumeArgs: ['--ignore-preflight-errors', 'all'],
      outcome: { exitCode: 3, error: 'error: preflight: ', advice: 'add --ignore-preflight-errors' },
    }),
    absent: async (_e, _m, r) => !/^\d+ checks: /m.test(r.stderr),
  },
  file: { break: (e, m) => blockWrites(m, e.path), absent: (e, m) => missing(m, e.path), changesUnseen: true },
  copy: { break: (e, m) => blockWrites(m, e.to), absent: (e, m) => missing(m, e.to), changesUnseen: true },
  exec: {
    break: (e) => failCall(execCall(e)),
    absent: (e, m) => noCall(m, execCall(e)),
    changingCall: execCall,
  },
  // (a plan with two kube-apply steps, Calico's, would fail its first one: the fakes cannot tell them apart)
  'kube-apply': {
    break: () => failCall(kubectlCall('apply ')),
    changingCall: () => kubectlCall('apply '),
    absent: async (e, m) => {
      const { objects } = await apiserverState(m);
      return objectKeys(e.yaml).every((key) => !(key in objects));
    },
  },
  'kube-annotate': {
    break: (e) => failCall(annotateCall(e)),
    changingCall: annotateCall,
    absent: async (e, m) => {
      const on = (await apiserverState(m)).annotations[e.node] ?? {};
      return Object.entries(e.annotations).every(([k, v]) => on[k] !== v);
    },
  },
  wait: { break: (e) => failCall(waitCall(e)), absent: (e, m) => noCall(m, waitCall(e)) },
  nft: {
    break: async (_e, m) => ({ env: { PATH: `${await failingNftTransactions()}:${m.host.env.PATH}` } }),
    absent: async (_e, m) => !(await nftRuleset(m))?.includes('table ip knit'),
    changesUnseen: true,
  },
};

function kindOf<E extends Effect>(effect: E): EffectKind<E> {
  const kind = EFFECT_KINDS[effect.kind] as EffectKind<E> | undefined;
  if (!kind) throw new Error(`the plan has a ${effect.kind} effect: say in EFFECT_KINDS how to break it and how to tell it is absent`);
  return kind;
}

/** A step fails at its first effect. */
const breakStep = (step: PlannedStep, m: Machine): Promise<Breakage> => kindOf(step.effects[0]!).break(step.effects[0]!, m);

async function stepLeftNoTrace(step: PlannedStep, m: Machine, r: Run): Promise<boolean> {
  for (const e of step.effects) if (!(await kindOf(e).absent(e, m, r))) return false;
  return true;
}

// --- the scenarios, shared by the blocks below -------------------------------------------------------

interface Scenario {
  command: Command;
  steps: PlannedStep[];
  clean: () => Reference;
}

type Ctx = { expect: ExpectStatic; onTestFinished: OnFinished };

/** The run that fails; a block goes in while knit is held after the last tool call before the step (or before the run). */
async function failingRun(m: Machine, s: Scenario, step: PlannedStep, breakage: Breakage, skips: string[]): Promise<{ failed: Run; repair?: () => Promise<void> }> {
  const args = knitArgs(m, s.command, { skips });
  if (!breakage.block) return { failed: await finished(args, spawnKnit(m, args, breakage.env)) };
  const n = callsBefore(s.clean(), s.steps, step);
  if (n === 0) {
    const repair = await breakage.block();
    return { failed: await finished(args, spawnKnit(m, args, breakage.env)), repair };
  }
  const release = besideRoot(m, 'release');
  const knit = spawnKnit(m, args, { ...breakage.env, FAKE_HANG_AT: `${n}:after`, FAKE_HANG_RELEASE: release });
  if ((await whenCallHangs(m, knit)) === undefined) throw new Error(`knit ended before call ${n}: ${(await knit).stderr}`);
  const repair = await breakage.block();
  await writeFile(release, '');
  return { failed: await finished(args, knit), repair };
}

/** Fail `step`, check what knit says, repair, re-run: the clean end state, kubeadm succeeded once. */
async function failThenResume({ expect }: Ctx, m: Machine, s: Scenario, step: PlannedStep): Promise<void> {
  const breakage = await breakStep(step, m);
  const skips = baseSkips(m).filter((id) => id !== breakage.unskip);
  const { failed, repair } = await failingRun(m, s, step, breakage, skips);
  const outcome = breakage.outcome ?? { exitCode: 1, error: `error: step ${step.id} failed: `, advice: 'fix the cause and run `knit ' };
  expect(failed.code, failed.stderr).toBe(outcome.exitCode);
  expect(failed.stderr).toContain(outcome.error);
  expect(failed.stderr).toContain(outcome.advice);
  if (!breakage.outcome) {
    expect(await resumeCommandOf(failed)).toEqual(['knit', ...masked(failed.args, s.command.secret)]);
    expect(failed.stderr).toContain(`(or add --skip ${step.id} to go on without this step)`);
  }

  await repair?.();
  const resumed = await run(m, s.command, { skips, args: breakage.resumeArgs });
  expect(resumed.code, resumed.stderr).toBe(0);
  expectSameEndState(expect, await endState(m, logFilesOf(s.steps)), s.clean().state, 'ends-with-clean');
  expect(await succeeded(m, s.command.kubeadm)).toBe(1);
}

/** Resolves when a fake call hangs (its result entry), or undefined when knit ended first. */
async function whenCallHangs(m: Machine, knit: Promise<unknown>): Promise<string | undefined> {
  let ended = false;
  void knit.finally(() => (ended = true));
  for (;;) {
    const hanging = (await m.host.results()).find((r) => 'hanging' in r);
    if (hanging) return hanging.call.replaceAll(m.host.root, '<root>');
    if (ended) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface KillPoint {
  n: number;
  when: 'before' | 'after';
  call: string;
  /** The call for a test's name: its first words, without the kubeconfig. */
  label: string;
}

const labelOf = (call: string) => call.replace(/ --kubeconfig \S+/, '').split(' ').slice(0, 3).join(' ');

/**
 * The kill points that leave different machines behind: knit keeps no state but the machine's, so
 * these are all a re-run can tell apart. After a call that carries out a changing effect; before the
 * first call, and before a call when, since the one before it, a step that changes the machine
 * without a fake call (a file, a copy, an nft transaction) reported "done". A kill anywhere else
 * leaves the machine of one of these.
 */
function killPointsOf(clean: Reference, steps: PlannedStep[]): KillPoint[] {
  const changing = steps.flatMap((s) => s.effects.flatMap((e) => kindOf(e).changingCall?.(e) ?? [])).map((p) => new RegExp(p));
  const changesUnseen = new Set(steps.filter((s) => s.effects.some((e) => kindOf(e).changesUnseen)));
  const points: KillPoint[] = [];
  let calls = 0;
  let changedSinceCall = true; // before the first call
  for (const line of clean.run.stderr.split('\n')) {
    const done = /^\[(\d+)\/\d+\] .*: done$/.exec(line);
    if (done && changesUnseen.has(steps[Number(done[1]) - 1]!)) changedSinceCall = true;
    if (!line.startsWith('fake call: ')) continue;
    const call = clean.calls[calls++]!;
    const point = (when: KillPoint['when']): KillPoint => ({ n: calls, when, call, label: labelOf(call) });
    if (changedSinceCall) points.push(point('before'));
    if (changing.some((p) => p.test(call))) points.push(point('after'));
    changedSinceCall = false;
  }
  return points;
}

/** SIGKILL knit's process group while call N hangs, re-run: the clean end state, kubeadm succeeded once. */
async function killThenResume({ expect, onTestFinished }: Ctx, m: Machine, s: Scenario, point: KillPoint): Promise<void> {
  const knit = spawnKnit(m, knitArgs(m, s.command), { FAKE_HANG_AT: `${point.n}:${point.when}` });
  onTestFinished(async () => void (knit.exitCode === undefined && knit.pid && process.kill(-knit.pid, 'SIGKILL')));
  // the Nth call of this run is the Nth of the clean one
  expect(await whenCallHangs(m, knit)).toBe(point.call);
  process.kill(-knit.pid!, 'SIGKILL');
  expect((await knit).signal).toBe('SIGKILL');

  const resumed = await run(m, s.command);
  expect(resumed.code, resumed.stderr).toBe(0);
  expectSameEndState(expect, await endState(m, logFilesOf(s.steps)), s.clean().state, 'exist');
  expect(await succeeded(m, s.command.kubeadm)).toBe(1);
}

/** A second run on the clean machine: every step unchanged, already done or skipped; files byte-identical; kubeadm not called. */
async function secondRunChangesNothing({ expect }: Ctx, s: Scenario): Promise<void> {
  const { machine } = s.clean();
  const earlierCalls = (await callsOf(machine)).length;
  const bytesBefore = await endState(machine, []);
  const again = await run(machine, s.command);
  expect(again.code, again.stderr).toBe(0);
  const statuses = jsonStatuses(again);
  expect(statuses.map((st) => st.split(':')[0])).toEqual(s.steps.map((st) => st.id));
  expect(statuses.filter((st) => !/:(unchanged|already-done|skipped)$/.test(st))).toEqual([]);
  expect(await endState(machine, [])).toEqual(bytesBefore);
  expect((await callsOf(machine)).slice(earlierCalls).filter((c) => c.startsWith(s.command.kubeadm))).toEqual([]);
}

/** `--skip target` on a fresh machine: its steps reported skipped and without a trace; a failure, if any, comes later and from their absence. */
async function skipLeavesNoTrace({ expect }: Ctx, m: Machine, s: Scenario, target: string): Promise<void> {
  const r = await run(m, s.command, { skips: [...baseSkips(m), target] });
  const skipped = stepsSkippedBy(s.steps, [target]);
  expect(skipped.length).toBeGreaterThan(0);
  for (const step of skipped) {
    expect(progressOf(r, s.steps, step.id), step.id).toBe('skipped (--skip)');
    expect(await stepLeftNoTrace(step, m, r), `${step.id} left a trace`).toBe(true);
  }
  if (r.code === 0) expect(jsonStatuses(r).filter((st) => st.endsWith(':skipped'))).toEqual(expect.arrayContaining(skipped.map((st) => `${st.id}:skipped`)));
  else {
    expect(r.code, r.stderr).toBe(1);
    const failedAt = s.steps.findIndex((st) => st.id === failedStep(r));
    expect(failedAt, r.stderr).toBeGreaterThan(s.steps.indexOf(skipped[0]!));
  }
}

/** The tests of one command on one kind of machine; `steps` are the ones these machines can run. */
function scenarioTests(s: Scenario, newMachineHere: (onFinished: OnFinished) => Promise<Machine>, steps: PlannedStep[], killPoints: KillPoint[]): void {
  // the clean run shows what the base skips do
  const baseSkipsHere = baseSkips(s.clean().machine);
  it.for(steps)('a failure in $id exits non-zero naming it and how to resume; a re-run reaches the clean end state', async (step, ctx) =>
    failThenResume(ctx, await newMachineHere(ctx.onTestFinished), s, step));

  it.for(killPoints)('SIGKILL while call $n ($label) hangs $when its work: a re-run reaches the clean end state', async (point, ctx) =>
    killThenResume(ctx, await newMachineHere(ctx.onTestFinished), s, point));

  it.for(skipTargets(steps).filter((t) => !baseSkipsHere.includes(t)))('--skip %s: reported skipped, its effects absent', async (target, ctx) =>
    skipLeavesNoTrace(ctx, await newMachineHere(ctx.onTestFinished), s, target));

  it('a second run changes nothing', (ctx) => secondRunChangesNothing(ctx, s));
}

// --- the clean runs every test compares with, made once (in parallel) --------------------------------

const cleanups: (() => Promise<void>)[] = [];
afterAll(() => Promise.all(cleanups.map((f) => f())));
const support = await probeLabSupport(['nft']); // knit's cross-VPC address map
const lab = new Lab();
afterAll(() => lab.destroy());
let namespaces = 0;
const inNamespace = async (onFinished: OnFinished) => newMachine(onFinished, await lab.addNamespace(`m${++namespaces}`));
const onMachine = (onFinished: OnFinished) => newMachine(onFinished);

async function scenario(command: Command, steps: PlannedStep[], newMachineHere: typeof onMachine): Promise<Scenario> {
  const clean = await cleanRun(await newMachineHere((f) => void cleanups.push(f)), command, steps);
  return { command, steps, clean: () => clean };
}

const [initSteps, joinSteps] = await Promise.all([dryRun(INIT), dryRun(JOIN)]);
const [plainInit, plainJoin, namespaceInit, namespaceJoin] = await Promise.all([
  scenario(INIT, initSteps, onMachine),
  scenario(JOIN, joinSteps, onMachine),
  support.ok ? scenario(INIT, initSteps, inNamespace) : undefined,
  support.ok ? scenario(JOIN, joinSteps, inNamespace) : undefined,
]);

const crossVpcSteps = (steps: PlannedStep[]) => steps.filter((st) => isSkipped(st.id, new Set([CROSSVPC])));
const otherSteps = (steps: PlannedStep[]) => steps.filter((st) => !isSkipped(st.id, new Set([CROSSVPC])));

// --- outside a network namespace: every phase but the cross-VPC one -------------------------------

for (const [name, s] of [['init', plainInit], ['join', plainJoin]] as const) {
  describe.concurrent(`knit ${name}, cross-VPC phase skipped`, () => {
    it('the clean run reports the base skips (preflight, cross-VPC) skipped, and they left no trace', async ({ expect }) => {
      const { machine, run: clean } = s.clean();
      const skipped = stepsSkippedBy(s.steps, baseSkips(machine));
      expect(skipped.map((st) => st.id)).toEqual(expect.arrayContaining(['preflight', ...crossVpcSteps(s.steps).map((st) => st.id)]));
      for (const step of skipped) {
        expect(jsonStatuses(clean)).toContain(`${step.id}:skipped`);
        expect(await stepLeftNoTrace(step, machine, clean), `${step.id} left a trace`).toBe(true);
      }
    });

    scenarioTests(s, onMachine, otherSteps(s.steps), killPointsOf(s.clean(), s.steps));

    it('--skip with an unknown id exits 2 naming it and changes nothing', async ({ expect, onTestFinished }) => {
      const m = await newMachine(onTestFinished);
      const r = await run(m, s.command, { skips: [...baseSkips(m), 'no-such-step'] });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error: --skip: unknown step no-such-step /m);
      expect(await m.host.calls()).toEqual([]);
      expect(await readdir(m.host.root)).toEqual([]);
    });

    // the resume line is quoted only where a shell needs it (formatArgv), so the lines checked above stay plain
    it('the resume command survives a shell when the config path holds a space', async ({ expect, onTestFinished }) => {
      const m = await newMachine(onTestFinished);
      const config = join(besideRoot(m, 'my cluster'), 'cluster.yaml');
      await mkdir(dirname(config));
      await copyFile(CONFIG, config);
      const spaced: Command = { ...s.command, args: s.command.args.map((a) => (a === CONFIG ? config : a)) };
      const step = s.steps.find((st) => !isSkipped(st.id, new Set(baseSkips(m))) && st.effects[0]?.kind === 'exec')!;
      const failed = await run(m, spaced, { env: (await breakStep(step, m)).env });
      expect(await resumeCommandOf(failed)).toEqual(['knit', ...masked(failed.args, s.command.secret)]);
    });
  });
}

// --- inside network namespaces: the cross-VPC phase with real nftables, one namespace per machine -----

/**
 * Kill points inside a namespace: the calls a run outside does not make (the cross-VPC phase's), for
 * join only; init's cross-VPC phase makes the same calls through the same code.
 */
const namespaceKillPoints = (s: Scenario, outside: Scenario): KillPoint[] =>
  killPointsOf(s.clean(), s.steps).filter((p) => !outside.clean().calls.includes(p.call));

for (const [name, s, outside] of [['init', namespaceInit, undefined], ['join', namespaceJoin, plainJoin]] as const)
  describeLab(`knit ${name} inside a network namespace, cross-VPC phase included`, support, () => {
    if (!s) return;
    describe.concurrent('one namespace per machine', () => {
      it('the clean run applies every cross-VPC step', ({ expect }) => {
        const crossVpc = crossVpcSteps(s.steps).map((st) => st.id);
        expect(crossVpc.length).toBeGreaterThan(0);
        expect(jsonStatuses(s.clean().run).filter((st) => crossVpc.includes(st.split(':')[0]!))).toEqual(crossVpc.map((id) => `${id}:applied`));
        expect(s.clean().state.nft).toMatch(/elements = \{ \S+ : \S+/);
      });
      scenarioTests(s, inNamespace, crossVpcSteps(s.steps), outside ? namespaceKillPoints(s, outside) : []);
    });
  });
