import { fileURLToPath } from 'node:url';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knit, KNIT_BIN } from './helpers/knit.js';

let out: string;
beforeAll(async () => void (out = await mkdtemp(join(tmpdir(), 'knit-cli-'))));
afterAll(() => rm(out, { recursive: true, force: true }));

describe('knit render (the issue\'s "done when" command)', () => {
  it('writes a cross-VPC kubeadm config offline, without root', async () => {
    const dir = join(out, 'b');
    const r = await knit(['render', '--control-plane-endpoint', '203.0.113.10', '--public-ip', '203.0.113.10', '--advertise-address', '172.16.0.10', '--node-name', 'master-1', '--out', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['cni.yaml', 'kubeadm-config.yaml', 'plan.txt']);
    expect((await stat(join(dir, 'kubeadm-config.yaml'))).mode & 0o777).toBe(0o600);
    const docs = parseAllDocuments(await readFile(join(dir, 'kubeadm-config.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration']);
    expect(docs[0].localAPIEndpoint.advertiseAddress).toBe('172.16.0.10');
    expect(docs[1].controlPlaneEndpoint).toBe('203.0.113.10:6443');
    expect(docs[1].apiServer.certSANs).toEqual(['203.0.113.10', '172.16.0.10', 'master-1']);
  });

  it('prints the bundle to stdout without --out, and JSON with -o json', async () => {
    const text = await knit(['render', '--advertise-address', '172.16.0.10', '--public-ip', '203.0.113.10']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^# ==> kubeadm-config.yaml <==\napiVersion: kubeadm.k8s.io\/v1beta4\n/);
    const json = await knit(['render', '-o', 'json', '--advertise-address', '172.16.0.10', '--public-ip', '203.0.113.10', '--k8s-version', '1.29.10']);
    expect(JSON.parse(json.stdout).files['kubeadm-config.yaml']).toMatch(/^apiVersion: kubeadm.k8s.io\/v1beta3$/m);
  });
});

describe('exit codes', () => {
  it('bad input: 2 and one line naming the field, nothing written', async () => {
    const dir = join(out, 'never');
    const r = await knit(['render', '--advertise-address', '172.16.0.10', '--pod-cidr', '10.96.0.0/16', '--out', dir]);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('error: kubernetes.podSubnet (--pod-cidr): 10.96.0.0/16 overlaps kubernetes.serviceSubnet 10.96.0.0/12');
    await expect(stat(dir)).rejects.toThrow();
  });

  it('an unknown flag or output format is bad input too', async () => {
    expect((await knit(['render', '--bogus'])).code).toBe(2);
    expect((await knit(['-o', 'yaml', 'render'])).code).toBe(2);
  });

  it('keeps a V8 code cache per command, and runs the same without one (unwritable or turned off)', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'knit-cache-'));
    try {
      const first = await knit(['render', '--advertise-address', '10.0.0.10'], { env: { KNIT_CACHE_DIR: cacheDir } });
      const files = await readdir(cacheDir);
      expect(files.filter((f) => f !== 'a-file')).toEqual([expect.stringMatching(/^v\d+\.\d+\.\d+-\d+-\d+-render\.v8cache$/)]);
      const cached = await knit(['render', '--advertise-address', '10.0.0.10'], { env: { KNIT_CACHE_DIR: cacheDir } });
      const notADir = join(cacheDir, 'a-file');
      await writeFile(notADir, '');
      const unwritable = await knit(['render', '--advertise-address', '10.0.0.10'], { env: { KNIT_CACHE_DIR: join(notADir, 'cache') } });
      const off = await knit(['render', '--advertise-address', '10.0.0.10'], { env: { KNIT_NO_CODE_CACHE: '1' } });
      for (const r of [first, cached, unwritable, off]) expect([r.code, r.stderr]).toEqual([0, '']);
      expect(new Set([first.stdout, cached.stdout, unwritable.stdout, off.stdout]).size).toBe(1);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('verify without a reachable cluster says so at once and exits 1', async () => {
    // the fake kubectl refuses a missing kubeconfig the way kubectl does (kubectl need not be installed)
    const fakes = fileURLToPath(new URL('./fakes', import.meta.url));
    const r = await knit(['verify', '--kubeconfig', '/nonexistent/kubeconfig', '--timeout', '5'], { env: { PATH: `${fakes}:${process.env.PATH}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot read the cluster: .*\/nonexistent\/kubeconfig/m);
  });

  it('init --dry-run prints the plan and changes nothing', async () => {
    const dry = await knit(['init', '--dry-run', '--advertise-address', '172.16.0.10', '--public-ip', '203.0.113.10', '--node-name', 'cp', '--skip', 'wait']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('run kubeadm init --config /etc/knit/kubeadm-config.yaml --upload-certs');
    expect(dry.stdout).toContain('wait/node-ready — Wait for node cp to be Ready (skipped: --skip)');
  });

  it('a reader that closes the pipe early ends knit quietly (knit render | head -1)', async () => {
    // more output than a pipe buffer holds (300 join configs), so knit is still writing when head exits
    const nodes = Array.from({ length: 300 }, (_, i) => ({ name: `w-${i}`, role: 'worker', privateIP: `172.16.${i >> 7}.${(i & 127) + 1}`, vpc: 'a' }));
    const config = join(out, 'big.yaml');
    await writeFile(config, JSON.stringify({ kubernetes: { controlPlaneEndpoint: '203.0.113.10' }, nodes: [{ name: 'cp', role: 'control-plane', privateIP: '172.16.9.9', vpc: 'a' }, ...nodes] }));
    const { execa } = await import('execa');
    const r = await execa('bash', ['-c', `node ${JSON.stringify(KNIT_BIN)} render -f ${config} | head -1; echo "knit exit \${PIPESTATUS[0]}"`], { reject: false });
    expect(r.stdout).toBe('# ==> kubeadm-config.yaml <==\nknit exit 0');
    expect(r.stderr).not.toContain('EPIPE');
  });

  it('--help and --version succeed', async () => {
    const help = await knit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('render [options]');
    expect((await knit(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('without root', () => {
  const asNobody = process.getuid?.() === 0 ? it : it.skip;
  if (process.getuid?.() !== 0) console.warn('[skipped] commands as a user that is not root: needs root to drop to one');
  asNobody.each([
    ['crossvpc', 'apply', '-f', fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url)), '--node-name', 'worker-1'],
    ['crossvpc', 'remove'],
    ['reset', '--yes'],
  ])('knit %s %s … exits 2 saying it must run as root, before reading or changing anything', async (...args) => {
    const { execa } = await import('execa');
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', KNIT_BIN, ...args],
      { reject: false, env: { HOME: tmpdir(), KNIT_NO_CODE_CACHE: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('error: this changes the host and must run as root (use --dry-run to see the plan)');
  });
});
