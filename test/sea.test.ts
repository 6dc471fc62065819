/**
 * The single executables (`npm run build:sea` → dist/knit-linux-x64, dist/knit-linux-arm64) where no
 * Node.js is: each smoke command runs in a mount namespace where `node` cannot start and the repository
 * (node_modules, templates/, dist/knit.cjs) is hidden (test/helpers/sea.ts), and its stdout, stderr
 * and exit code equal those of `node bin/knit.js` with the same arguments, directory and environment.
 * arm64's runs under qemu-user. Skipped, with the reason, where an executable is not built (or older
 * than the sources) or no namespace can be made; CI builds both.
 */
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StandIn } from './fakes/alicloud/server.js';
import { KNIT_BIN } from './helpers/knit.js';
import { REPO, runSea, seaBinary, seaSupport, unshare, withoutNode, type Arch, type Run } from './helpers/sea.js';
import { skipUnless } from './helpers/skip.js';

const CASES = ['calico-ipip.yaml', 'terway-eni-policy.yaml'];

/** One directory for the runs (the spec files copied in, the mount target for the executable), one HOME. */
let work: string | undefined;
function workDir(): string {
  if (work) return work;
  work = mkdtempSync(join(tmpdir(), 'knit-sea-'));
  for (const c of CASES) copyFileSync(join(REPO, 'test', 'cases', c), join(work, c));
  writeFileSync(join(work, 'knit'), ''); // the bind mount's target
  return work;
}

/** A host root with what `knit crossvpc apply` leaves for the agent: its settings and the kubelet's kubeconfig. */
function hostRoot(): string {
  const root = join(workDir(), 'hostroot');
  mkdirSync(join(root, 'etc/knit'), { recursive: true });
  mkdirSync(join(root, 'etc/kubernetes'), { recursive: true });
  writeFileSync(join(root, 'etc/knit/crossvpc-agent.json'), JSON.stringify({ node: 'cp', mss: 1400, overlay: [{ proto: 'udp', port: 8472 }], kubeconfig: '/etc/kubernetes/kubelet.conf' }));
  const kubeconfig = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'insecure-skip-tls-verify': true } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c', users: [{ name: 'u', user: { token: 'knit-test-token' } }] };
  writeFileSync(join(root, 'etc/kubernetes/kubelet.conf'), JSON.stringify(kubeconfig));
  return root;
}

// the Alibaba Cloud stand-in and its keys, loaded only where the executables are tested
let standIn: Promise<StandIn> | undefined;
const cloud = () =>
  (standIn ??= Promise.all([import('./fakes/alicloud/server.js'), import('./fakes/alicloud/world.js')]).then(([s, w]) => s.startAlicloudStandIn(w.defaultWorld())));
const key = async () => {
  const { KEYS } = await import('./fakes/alicloud/world.js');
  return { ALIBABA_CLOUD_ACCESS_KEY_ID: KEYS.full.id, ALIBABA_CLOUD_ACCESS_KEY_SECRET: KEYS.full.secret };
};
afterAll(async () => {
  if (standIn) await (await standIn).close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Smoke {
  name: string;
  args: string[];
  env?: () => Promise<Record<string, string>>;
  /** The directory the run writes, compared file by file and removed after it. */
  out?: string;
  /** What may differ under emulation only, made equal in both outputs before they are compared. */
  emulated?: (text: string) => string;
  /** What may differ from run to run (times), made equal in both outputs before they are compared. */
  normalize?: (text: string) => string;
  /** Both runs in a network namespace of their own (nothing is reachable; what the command changes stays there). */
  netns?: boolean;
}

const SMOKE: Smoke[] = [
  { name: '--help', args: ['--help'] },
  { name: '--version', args: ['--version'] },
  { name: 'render (text)', args: ['render', '--advertise-address', '10.0.0.10', '--node-name', 'cp'] },
  { name: 'render -o json', args: ['render', '--advertise-address', '10.0.0.10', '--public-ip', '203.0.113.10', '--node-name', 'cp', '-o', 'json'] },
  { name: 'render --out (files written)', args: ['render', '--advertise-address', '10.0.0.10', '--node-name', 'cp', '--out', 'bundle'], out: 'bundle' },
  { name: 'render --validate (calico: templates as assets, kubernetes-models)', args: ['render', '-f', 'calico-ipip.yaml', '--validate'] },
  { name: 'render --validate (terway)', args: ['render', '-f', 'terway-eni-policy.yaml', '--validate'] },
  { name: 'alicloud ram-policy', args: ['alicloud', 'ram-policy'] },
  {
    name: 'alicloud max-pods (the SDK signs and reads a real answer from the stand-in)',
    args: ['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large', '-o', 'json'],
    env: async () => ({ ...(await key()), KNIT_ALICLOUD_ENDPOINT: (await cloud()).url, KNIT_ALICLOUD_TIMEOUT_MS: '60000' }),
  },
  {
    name: 'alicloud max-pods (the SDK reaches nothing: a clean error, exit 1)',
    args: ['alicloud', 'max-pods', '--region', 'cn-hangzhou', '--instance-type', 'ecs.g7.large'],
    env: async () => ({ ...(await key()), KNIT_ALICLOUD_ENDPOINT: 'http://127.0.0.1:9', KNIT_ALICLOUD_TIMEOUT_MS: '60000' }),
  },
  {
    // the Kubernetes client chunk: the agent list-watches Nodes through it, from the kubelet's kubeconfig
    name: 'crossvpc agent (the Kubernetes client reaches for an API server that is not there)',
    args: ['crossvpc', 'agent', '--duration', '2'],
    env: async () => ({ KNIT_HOST_ROOT: hostRoot() }),
    netns: true,
    // one line per retry, as many as fit in the duration: their times and count vary
    normalize: (t) => [...new Set(t.replace(/^\d{4}-\S+Z /gm, '').replace(/retrying in \d+s/g, 'retrying').split('\n'))].join('\n'),
  },
  { name: 'a bad flag (usage error, exit 2)', args: ['render', '--no-such-flag'] },
  {
    name: 'preflight -o json',
    args: ['preflight', '-o', 'json'],
    // the CRI socket's probe gives up after 1000 ms; under qemu, the spawns of the other checks (each
    // blocking the loop while it starts) can outlast that before the loop sees the socket's ENOENT
    emulated: (t) => t.replace(/(nothing answers on \S+) \((no answer within \d+ ms|\S+ does not exist)\)/g, '$1 (…)'),
  },
];

/** The same environment for both runs: no colour, an empty HOME, no credentials of the machine's. */
async function envFor(s: Smoke): Promise<Record<string, string>> {
  const dir = workDir();
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    NO_COLOR: '1',
    KNIT_ECS_METADATA_URL: 'http://127.0.0.1:9/latest/meta-data/',
    ALIBABA_CLOUD_ACCESS_KEY_ID: '',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    ALIBABA_CLOUD_SECURITY_TOKEN: '',
    ALIBABA_CLOUD_CREDENTIALS_URI: '',
    ...(s.env ? await s.env() : {}),
  };
}

/** The files a run wrote into `out`, read and removed (the next run writes its own). */
function takeFiles(out: string | undefined): Record<string, string> | undefined {
  if (!out) return undefined;
  const dir = join(workDir(), out);
  const files = Object.fromEntries(readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  rmSync(dir, { recursive: true, force: true });
  return files;
}

/** `node bin/knit.js` (the plain build, on the machine's Node): each smoke command once, for both arches. */
const reference = new Map<string, Promise<Run & { files?: Record<string, string> }>>();
function nodeRun(s: Smoke) {
  let run = reference.get(s.name);
  if (!run) {
    run = (async () => {
      // in namespaces as the executable's run is (as root of a user namespace where the tests are not root)
      const [cmd, ...args] = [...unshare({ netns: s.netns }), '--mount', 'node', KNIT_BIN, ...s.args];
      const r = await execa(cmd!, args, { cwd: workDir(), env: await envFor(s), extendEnv: false, reject: false, input: '' });
      return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), files: takeFiles(s.out) };
    })();
    reference.set(s.name, run);
  }
  return run;
}

/** At most `n` of the callers at a time, the others queued in order. */
function limit(n: number) {
  const queue: (() => void)[] = [];
  let running = 0;
  const next = () => {
    if (running < n && queue.length > 0) {
      running++;
      queue.shift()!();
    }
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    await new Promise<void>((start) => {
      queue.push(start);
      next();
    });
    try {
      return await task();
    } finally {
      running--;
      next();
    }
  };
}
/** Emulated runs, as many at a time as there are cores (each run is one busy qemu process). */
const emulation = limit(Math.max(1, availableParallelism()));

function smokeTests(arch: Arch) {
  it('runs where node cannot start and the repository (node_modules, templates/, dist/knit.cjs) is not there', async () => {
    const [cmd, ...args] = withoutNode(arch, workDir(), ['sh', '-c', `node -e 0; echo "node exit $?"; ls -A '${REPO}' | wc -l`]);
    const r = await execa(cmd!, args, { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const [node, repoEntries] = r.stdout.trim().split('\n');
    expect(node).toMatch(/^node exit (126|127)$/);
    expect(repoEntries).toBe('0');
  });

  it.each(SMOKE)('$name: the same stdout, stderr and exit code as node bin/knit.js', async (s) => {
    const emulated = arch !== process.arch && s.emulated ? s.emulated : (t: string) => t;
    const normalize = (t: string) => emulated(s.normalize ? s.normalize(t) : t);
    const same = (r: Run & { files?: Record<string, string> }) => ({ ...r, stdout: normalize(r.stdout), stderr: normalize(r.stderr) });
    const expected = await nodeRun(s);
    const env = await envFor(s);
    const run = () => runSea(arch, workDir(), s.args, env, { netns: s.netns });
    const r = arch === process.arch ? await run() : await emulation(run);
    expect(same({ ...r, files: takeFiles(s.out) })).toEqual(same(expected));
  });

  it('its .sha256 file is `sha256sum -c`’s and matches', async () => {
    const r = await execa('sha256sum', ['-c', `${seaBinary(arch).split('/').pop()}.sha256`], { cwd: join(REPO, 'dist'), reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`knit-linux-${arch}: OK`);
  });
}

// the tests are declared only where they can run: elsewhere each suite is one skip, with its reason
const x64 = seaSupport('x64');
describe('single executable dist/knit-linux-x64, no Node on the host', skipUnless(x64), () => {
  if (x64.ok) smokeTests('x64');
});
// under emulation each run takes seconds: they run concurrently, one for each core (emulation above)
const arm64 = seaSupport('arm64');
describe('single executable dist/knit-linux-arm64 under qemu-user, no Node on the host', { ...skipUnless(arm64), timeout: 180_000, concurrent: true }, () => {
  if (arm64.ok) smokeTests('arm64');
});
