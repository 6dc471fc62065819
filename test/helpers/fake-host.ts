/**
 * A machine for end-to-end tests: a temporary host root, the fake kubeadm/kubectl/systemctl first on
 * PATH, and the log of every call they received. The logs live next to the root, not in it, so that
 * the root holds only what knit and the fakes changed on the "machine". The fakes' failure knobs
 * (FAKE_FAIL, FAKE_HANG_AT) are described in test/fakes/fake-call.mjs.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FAKES = fileURLToPath(new URL('../fakes', import.meta.url));

/** How a fake call ended: its work done with an exit code, or hanging (before or after its work) until killed. */
export type FakeResult = { call: string; exitCode: number } | { call: string; hanging: 'before' | 'after' };

export interface FakeHost {
  root: string;
  env: Record<string, string>;
  /** The fakes' argv, one space-joined line per call, in order. */
  calls(): Promise<string[]>;
  /** How each call ended, in order (a call killed while it worked has no entry). */
  results(): Promise<FakeResult[]>;
  /** `env K=V …` arguments, for running knit through `ip netns exec`. */
  envArgs(): string[];
  cleanup(): Promise<void>;
}

/** Complete lines only: a test may read while a fake is still appending one. */
const readJsonLines = async <T>(path: string): Promise<T[]> =>
  (await readFile(path, 'utf8').catch(() => '')).split('\n').slice(0, -1).filter(Boolean).map((l) => JSON.parse(l) as T);

export async function createFakeHost(): Promise<FakeHost> {
  const dir = await mkdtemp(join(tmpdir(), 'knit-host-'));
  const root = join(dir, 'root');
  await mkdir(root);
  const env = {
    PATH: `${FAKES}:${process.env.PATH}`,
    KNIT_HOST_ROOT: root,
    HOME: '/root',
    FAKE_LOG: join(dir, 'calls.jsonl'),
    FAKE_RESULTS: join(dir, 'results.jsonl'),
  };
  return {
    root,
    env,
    calls: async () => (await readJsonLines<string[]>(env.FAKE_LOG)).map((argv) => argv.join(' ')),
    results: async () =>
      (await readJsonLines<{ call: string[] } & ({ exitCode: number } | { hanging: 'before' | 'after' })>(env.FAKE_RESULTS)).map((r) => ({
        ...r,
        call: r.call.join(' '),
      })),
    envArgs: () => ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
