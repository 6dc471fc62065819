/**
 * A machine for end-to-end tests: a temporary host root, the fake kubeadm/kubectl/systemctl first on
 * PATH, and the log of every call they received.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FAKES = fileURLToPath(new URL('../fakes', import.meta.url));

export interface FakeHost {
  root: string;
  env: Record<string, string>;
  /** The fakes' argv, one space-joined line per call, in order. */
  calls(): Promise<string[]>;
  /** `env K=V …` arguments, for running knit through `ip netns exec`. */
  envArgs(): string[];
  cleanup(): Promise<void>;
}

export async function createFakeHost(): Promise<FakeHost> {
  const root = await mkdtemp(join(tmpdir(), 'knit-host-'));
  const env = { PATH: `${FAKES}:${process.env.PATH}`, KNIT_HOST_ROOT: root, HOME: '/root', FAKE_LOG: join(root, 'calls.jsonl') };
  return {
    root,
    env,
    calls: async () =>
      (await readFile(env.FAKE_LOG, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as string[]).join(' ')),
    envArgs: () => ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
