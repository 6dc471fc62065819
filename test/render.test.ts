/**
 * `knit render` at scale: per-node files only for the nodes asked for (--node-name, --all-nodes), the
 * 5,000-node limit, and --out writing through writeFileAtomic (no links followed, mode 0600, a file
 * named as the directory refused).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knit } from './helpers/knit.js';

const CASE = 'test/cases/cross-vpc-flannel.yaml';
const HA = 'test/cases/calico-ha-v1beta3.yaml';
const COMMON = ['cni.yaml', 'kubeadm-config.yaml', 'plan.txt'];

let dir: string;
beforeAll(async () => void (dir = await mkdtemp(join(tmpdir(), 'knit-render-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

const files = async (args: string[]) => {
  const r = await knit(['render', '-o', 'json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return Object.keys((JSON.parse(r.stdout) as { files: Record<string, string> }).files).sort();
};

/** A spec of `n` nodes in one VPC, addresses in 198.18.0.0/15 (the benchmarking range), as JSON. */
async function bigSpec(n: number): Promise<string> {
  const ip = (k: number) => `198.${18 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
  const nodes = Array.from({ length: n }, (_, k) => ({ name: `node-${k + 1}`, role: k === 0 ? 'control-plane' : 'worker', privateIP: ip(k + 1), vpc: 'vpc-a' }));
  const file = join(dir, `spec-${n}.json`);
  await writeFile(file, JSON.stringify({ kubernetes: { controlPlaneEndpoint: ip(1) }, nodes }));
  return file;
}

describe('which per-node files render writes', () => {
  it('by default the local node\'s only (here the first control plane: its cross-VPC ruleset)', async () => {
    expect(await files(['-f', CASE])).toEqual([...COMMON, 'crossvpc-master-1.nft'].sort());
  });

  it('--node-name N: that node\'s join config and ruleset', async () => {
    expect(await files(['-f', CASE, '--node-name', 'worker-1'])).toEqual([...COMMON, 'crossvpc-worker-1.nft', 'kubeadm-join-worker-1.yaml'].sort());
  });

  it('--node-name repeated: each named node\'s files (the first is the local node, as for every command)', async () => {
    // the local node is a worker: the first control plane, cp-1, runs kubeadm init and the others join
    expect(await files(['-f', HA, '--node-name', 'worker-bj-1', '--node-name', 'cp-2'])).toEqual(
      [...COMMON, 'crossvpc-cp-2.nft', 'crossvpc-worker-bj-1.nft', 'kubeadm-join-cp-2.yaml', 'kubeadm-join-worker-bj-1.yaml'].sort(),
    );
  });

  it('--all-nodes: every node\'s, the golden bundle\'s files', async () => {
    expect(await files(['-f', HA, '--all-nodes'])).toEqual(readdirSync('test/golden/calico-ha-v1beta3').sort());
    expect(await files(['-f', CASE, '--all-nodes'])).toEqual(readdirSync('test/golden/cross-vpc-flannel').sort());
  });

  it('the same content as the goldens, streamed to stdout', async () => {
    const r = await knit(['render', '-f', CASE, '--all-nodes']);
    expect(r.code).toBe(0);
    const golden = 'test/golden/cross-vpc-flannel';
    const expected = await Promise.all(['kubeadm-config.yaml', 'kubeadm-join-worker-1.yaml', 'crossvpc-master-1.nft', 'crossvpc-worker-1.nft', 'cni.yaml', 'plan.txt']
      .map(async (n) => `# ==> ${n} <==\n${await readFile(join(golden, n), 'utf8')}`));
    expect(`${r.stdout}\n`).toBe(expected.join(''));
  });

  it('a second --node-name not in the spec is bad input naming it', async () => {
    const r = await knit(['render', '-f', CASE, '--node-name', 'worker-1', '--node-name', 'nobody']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('error: --node-name: nobody is not in nodes');
  });
});

describe('the node limit', () => {
  it('5,000 nodes render (the local node\'s files only); 5,001 are refused naming nodes', async () => {
    const ok = await knit(['render', '-f', await bigSpec(5000), '-o', 'json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(Object.keys(JSON.parse(ok.stdout).files).sort()).toEqual(COMMON);
    const over = await knit(['render', '-f', await bigSpec(5001)]);
    expect(over).toMatchObject({ code: 2, stdout: '' });
    expect(over.stderr).toBe('error: nodes: 5001 nodes; Kubernetes supports at most 5000');
  });
});

describe('--out DIR', () => {
  it('a symlinked plan.txt: exit 2 before any file is written, the link\'s target untouched', async () => {
    const out = join(dir, 'linked');
    await mkdir(out);
    const target = join(dir, 'precious.txt');
    await writeFile(target, 'precious\n', { mode: 0o644 });
    await symlink(target, join(out, 'plan.txt'));
    const r = await knit(['render', '-f', CASE, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*\/linked\/plan\.txt: is a symbolic link; knit writes only regular files and never follows links$/);
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect((await lstat(join(out, 'plan.txt'))).isSymbolicLink()).toBe(true);
    expect(await readdir(out)).toEqual(['plan.txt']);
  });

  it('an existing 0644 cni.yaml becomes 0600, with the new content', async () => {
    const out = join(dir, 'modes');
    await mkdir(out);
    await writeFile(join(out, 'cni.yaml'), 'old\n', { mode: 0o644 });
    const r = await knit(['render', '-f', CASE, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(out, 'cni.yaml'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(out, 'cni.yaml'), 'utf8')).toMatch(/^---\n|^apiVersion|^kind/);
    expect((await readdir(out)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('--out naming a file: exit 2, the file untouched', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await knit(['render', '-f', CASE, '--out', file]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(`error: --out: ${file} is a file, not a directory`);
    expect(await readFile(file, 'utf8')).toBe('x');
  });
});
