import { fileURLToPath } from 'node:url';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knit, KNIT_BIN } from './helpers/knit.js';
import { allOf, needRoot, needTools, skipUnless } from './helpers/skip.js';

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
    const RENDER = ['render', '--advertise-address', '10.0.0.10', '--public-ip', '203.0.113.10'];
    const cacheDir = await mkdtemp(join(tmpdir(), 'knit-cache-'));
    try {
      const first = await knit(RENDER, { env: { KNIT_CACHE_DIR: cacheDir } });
      const files = await readdir(cacheDir);
      expect(files.filter((f) => f !== 'a-file')).toEqual([expect.stringMatching(/^v\d+\.\d+\.\d+-\d+-\d+-render\.v8cache$/)]);
      const cached = await knit(RENDER, { env: { KNIT_CACHE_DIR: cacheDir } });
      const notADir = join(cacheDir, 'a-file');
      await writeFile(notADir, '');
      const unwritable = await knit(RENDER, { env: { KNIT_CACHE_DIR: join(notADir, 'cache') } });
      const off = await knit(RENDER, { env: { KNIT_NO_CODE_CACHE: '1' } });
      for (const r of [first, cached, unwritable, off]) expect([r.code, r.stderr]).toEqual([0, '']);
      expect(new Set([first.stdout, cached.stdout, unwritable.stdout, off.stdout]).size).toBe(1);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('runs without the cache when its directory cannot be made (HOME=/proc/1: recursive mkdir would spin forever)', { timeout: 20_000 }, async () => {
    // Node's mkdir { recursive: true } loops in C++ on /proc (ENOENT for a child of an existing dir);
    // the 15 s execa timeout is only the failure guard: the run must end by itself with exit 0
    const r = await execa('node', [KNIT_BIN, 'render', '--advertise-address', '10.0.0.10', '--public-ip', '203.0.113.10'], {
      reject: false,
      timeout: 15_000,
      env: { HOME: '/proc/1', XDG_CACHE_HOME: '', KNIT_CACHE_DIR: '', KNIT_NO_CODE_CACHE: '', NO_COLOR: '1' },
    });
    expect(r.timedOut).toBe(false);
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('kubeadm-config.yaml');
  });

  it("keeps only the current build's cache entries: a new build's first run deletes older builds' files", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'knit-cache-'));
    try {
      const stale = ['v20.1.0-1-2-render.v8cache', 'v24.0.0-3-4-init.v8cache'];
      for (const f of [...stale, 'notes.txt']) await writeFile(join(cacheDir, f), 'x');
      const r = await knit(['render', '--advertise-address', '10.0.0.10', '--public-ip', '203.0.113.10'], { env: { KNIT_CACHE_DIR: cacheDir } });
      expect(r.code).toBe(0);
      const files = (await readdir(cacheDir)).sort();
      expect(files).toEqual(['notes.txt', expect.stringMatching(/^v\d+\.\d+\.\d+-\d+-\d+-render\.v8cache$/)]);
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
    expect(dry.stdout).toContain('wait/cni-rollout — Wait for the CNI to roll out (skipped: --skip)');
  });

  it('a reader that closes the pipe early ends knit quietly (knit render | head -1)', async () => {
    // more output than a pipe buffer holds (300 join configs), so knit is still writing when head exits
    const nodes = Array.from({ length: 300 }, (_, i) => ({ name: `w-${i}`, role: 'worker', privateIP: `172.16.${i >> 7}.${(i & 127) + 1}`, vpc: 'a' }));
    const config = join(out, 'big.yaml');
    await writeFile(config, JSON.stringify({ kubernetes: { controlPlaneEndpoint: '203.0.113.10' }, nodes: [{ name: 'cp', role: 'control-plane', privateIP: '172.16.9.9', vpc: 'a' }, ...nodes] }));
    const { execa } = await import('execa');
    const r = await execa('bash', ['-c', `node ${JSON.stringify(KNIT_BIN)} render -f ${config} --all-nodes | head -1; echo "knit exit \${PIPESTATUS[0]}"`], { reject: false });
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
  const support = allOf(needRoot('to drop to another user'), needTools(['setpriv']));
  it.each([
    ['crossvpc', 'apply', '-f', fileURLToPath(new URL('./cases/cross-vpc-flannel.yaml', import.meta.url)), '--node-name', 'worker-1'],
    ['crossvpc', 'remove'],
    ['reset', '--yes'],
  ])('knit %s %s … exits 2 saying it must run as root, before reading or changing anything', skipUnless(support), async (...args) => {
    const { execa } = await import('execa');
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', KNIT_BIN, ...args],
      { reject: false, env: { HOME: tmpdir(), KNIT_NO_CODE_CACHE: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('error: this changes the host and must run as root (use --dry-run to see the plan)');
  });
});

const repo = fileURLToPath(new URL('..', import.meta.url));
const CASES = readdirSync(join(repo, 'test/cases')).filter((f) => f.endsWith('.yaml'));

describe('knit render --validate says what it checked', () => {
  it('how many objects, against which Kubernetes version\'s schemas: beside the files written, on stderr beside the printed bundle, in JSON', async () => {
    const dir = join(out, 'validated');
    const args = ['render', '--cni', 'calico', '--calico-mode', 'bgp', '--advertise-address', '172.16.0.10', '--public-ip', '203.0.113.10', '--validate'];
    const written = await knit([...args, '--out', dir]);
    expect(written.code, written.stderr).toBe(0);
    const docs = parseAllDocuments(await readFile(join(dir, 'cni.yaml'), 'utf8')).map((d) => d.toJS()).filter(Boolean);
    const crs = docs.filter((d) => String(d.apiVersion).startsWith('crd.projectcalico.org/')).length;
    expect(written.stdout.trimEnd().split('\n').at(-1)).toBe(
      `validated cni.yaml: ${docs.length - crs} objects checked against the Kubernetes 1.33 API schemas, all valid; ` +
        (crs === 1 ? '1 Calico custom resource left to its CRD, which checks it when applied' : `${crs} Calico custom resources left to their CRDs, which check them when applied`),
    );
    const printed = await knit(args);
    expect(printed.stdout).toMatch(/^# ==> kubeadm-config.yaml <==\n/);
    expect(printed.stderr).toMatch(/^validated cni\.yaml: \d+ objects checked against the Kubernetes 1\.33 API schemas, all valid/);
    const json = await knit(['-o', 'json', ...args]);
    expect(JSON.parse(json.stdout).validation).toEqual({ objects: docs.length - crs, customResources: crs, kubernetesVersion: '1.33' });
  });

  it('on failure: exit 1, each failing object and field, nothing written', async () => {
    // a copy of the package whose flannel template the Kubernetes schema refuses
    const pkg = await mkdtemp(join(tmpdir(), 'knit-pkg-'));
    try {
      for (const d of ['bin', 'dist', 'templates']) await cp(join(repo, d), join(pkg, d), { recursive: true });
      await cp(join(repo, 'package.json'), join(pkg, 'package.json'));
      await symlink(join(repo, 'node_modules'), join(pkg, 'node_modules'));
      const template = join(pkg, 'templates/flannel/v0.28.9/kube-flannel.yaml');
      const text = await readFile(template, 'utf8');
      expect(text).toContain('privileged: false');
      await writeFile(template, text.replace('privileged: false', 'privileged: "no"'));
      const dir = join(out, 'refused');
      const { execa } = await import('execa');
      const r = await execa('node', [join(pkg, 'bin/knit.js'), 'render', '--advertise-address', '172.16.0.10', '--public-ip', '203.0.113.10', '--validate', '--out', dir], { reject: false, env: { NO_COLOR: '1' } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.split('\n')).toEqual([
        'error: cni.yaml fails the Kubernetes 1.33 API schemas: 1 of 6 objects',
        '  DaemonSet kube-flannel-ds: spec.template.spec.containers[0].securityContext.privileged must be boolean',
        'nothing was written',
      ]);
      expect(existsSync(dir)).toBe(false);
    } finally {
      await rm(pkg, { recursive: true, force: true });
    }
  });
});

describe('the control-plane endpoint of a render from flags', () => {
  it('nothing given: exit 2, one line naming both missing values', async () => {
    const r = await knit(['render', '--node-name', 'cp']);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe(
      "error: nodes[0].privateIP (--advertise-address): is required (this node's private IP, the address on its NIC); " +
        "kubernetes.controlPlaneEndpoint (--control-plane-endpoint): not given, and there is no default: it would be cp's public IP (--public-ip), or its private IP when every node is in its VPC",
    );
  });

  it('the private IP alone: the endpoint is it (one node is one VPC), and render says so', async () => {
    const dir = join(out, 'private-endpoint');
    const r = await knit(['render', '--node-name', 'cp', '--advertise-address', '172.16.0.10', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      "kubernetes.controlPlaneEndpoint defaults to 172.16.0.10:6443, cp's private IP: cp has no public IP and every node is in its VPC (for nodes in other VPCs, give --public-ip or --control-plane-endpoint)",
    );
    const docs = parseAllDocuments(await readFile(join(dir, 'kubeadm-config.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs[1].controlPlaneEndpoint).toBe('172.16.0.10:6443');
  });
});

describe('--skip groups in init --help and join --help', () => {
  /** The step ids a dry run plans, as JSON. */
  const planned = async (args: string[]): Promise<string[]> => {
    const r = await knit([...args, '--dry-run', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { steps: { id: string }[] }).steps.map((s) => s.id);
  };
  /** Every id any plan can hold (the string literals of the planners), and the old ids --skip still takes. */
  const knownIds = async (): Promise<Set<string>> => {
    const { STEP_ALIASES } = await import('../src/runner/skip.js');
    const files = ['src/plan/init.ts', 'src/plan/join.ts', 'src/crossvpc/plan.ts', 'src/cni/hybrid.ts'];
    const ids = files.flatMap((f) => [...readFileSync(join(repo, f), 'utf8').matchAll(/'([a-z]+\/[a-z-]+)'/g)].map((m) => m[1]!));
    return new Set([...ids, ...Object.values(STEP_ALIASES).flat()]);
  };
  const mentioned = (help: string): string[] => [...help.slice(help.indexOf('Steps for --skip')).matchAll(/(?<![\w./$-])[a-z]+\/[a-z-]+/g)].map((m) => m[0]);
  const groupLines = (help: string): string[] =>
    help.slice(help.indexOf('Steps for --skip')).split('\n').flatMap((l) => /^ {2}([a-z]+) {2,}/.exec(l)?.[1] ?? []);

  it('init --help names every step of every init plan and every group, and only ids knit has', async () => {
    const help = (await knit(['init', '--help'])).stdout;
    const ids = new Set((await Promise.all(CASES.map((c) => planned(['init', '-f', join(repo, 'test/cases', c)])))).flat());
    for (const id of ['preflight', 'kubeadm/config', 'kubeadm/init', 'kubeconfig', 'cni/crds', 'cni/apply', 'cni/annotate', 'crossvpc/map', 'wait/node-ready', 'wait/cni-rollout']) expect(ids).toContain(id);
    for (const id of ids) expect(help, id).toContain(id.includes('/') ? id : `  ${id} `);
    const groups = new Set([...ids].map((id) => id.split('/')[0]!));
    expect(new Set(groupLines(help))).toEqual(groups);
    const known = await knownIds();
    for (const id of mentioned(help)) expect(known, id).toContain(id);
    expect(help).toMatch(/wait +every wait after the CNI is applied: wait\/node-ready .*\n.*wait\/cni-rollout/);
  });

  it('join --help names every step of every join plan and every group, and only ids knit has', async () => {
    const help = (await knit(['join', '--help'])).stdout;
    const join_ = ['join', '--endpoint', '203.0.113.10:6443', '--token', 'abcdef.0123456789abcdef', '--ca-cert-hash', `sha256:${'a'.repeat(64)}`];
    const ids = new Set([
      ...(await planned([...join_, '-f', join(repo, 'test/cases/cross-vpc-flannel.yaml'), '--node-name', 'worker-1'])),
      ...(await planned([...join_, '-f', join(repo, 'test/cases/calico-bgp-rr.yaml'), '--node-name', 'cp-1', '--control-plane', '--certificate-key', 'b'.repeat(64)])),
    ]);
    for (const id of ['preflight', 'crossvpc/map', 'kubeadm/config', 'kubeadm/join', 'crossvpc/annotate', 'cni/annotate']) expect(ids).toContain(id);
    for (const id of ids) expect(help, id).toContain(id.includes('/') ? id : `  ${id} `);
    expect(new Set(groupLines(help))).toEqual(new Set([...ids].map((id) => id.split('/')[0]!)));
    const known = await knownIds();
    for (const id of mentioned(help)) expect(known, id).toContain(id);
  });
});

describe('--debug', () => {
  it('ships a source map; a failing command\'s stack names knit\'s TypeScript sources', async () => {
    expect(existsSync(join(repo, 'dist/knit.cjs.map'))).toBe(true);
    const args = ['render', '--advertise-address', '172.16.0.10', '--pod-cidr', '10.96.0.0/16'];
    const debug = await knit([...args, '--debug']);
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/^ {4}at loadSpec \(.*\/src\/spec\/load\.ts:\d+:\d+\)$/m);
    expect(debug.stderr).toMatch(/^ {4}at .*\(.*\/src\/cli\.ts:\d+:\d+\)$/m);
    expect(debug.stderr).not.toContain('dist/knit.cjs:');
    const plain = await knit(args);
    expect(plain.stderr).toBe('error: kubernetes.podSubnet (--pod-cidr): 10.96.0.0/16 overlaps kubernetes.serviceSubnet 10.96.0.0/12');
  });
});
