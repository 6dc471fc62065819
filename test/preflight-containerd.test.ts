/**
 * containerd's sandbox (pause) image against kubeadm's: the per-minor pause tags, the TOML edit that
 * keeps an operator's file byte for byte but for one value, and the check's fix per containerd config
 * version (drop-in for 2.x importing conf.d, targeted edit otherwise). Where containerd is installed
 * (Debian: apt-get install containerd), `containerd config dump` confirms containerd reads the edit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { CONTAINERD } from '../src/defaults.js';
import { expectedSandboxImage, sandboxImageCheck } from '../src/preflight/containerd.js';
import { setTomlString } from '../src/preflight/toml-edit.js';
import type { ContainerdFile, HostFacts, PreflightTarget } from '../src/preflight/types.js';
import { specSchema } from '../src/spec/schema.js';
import { needTools, onPath, skipUnless } from './helpers/skip.js';

const CN = 'registry.cn-hangzhou.aliyuncs.com/google_containers';

/** containerd 1.x as `containerd config default` writes it (abridged), with the operator's systemd cgroups. */
const V2 = `disabled_plugins = []
imports = []
oom_score = 0
version = 2

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    enable_selinux = false
    sandbox_image = "registry.k8s.io/pause:3.6" # the distribution's default
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
`;

/** containerd 2.x (config version 3) importing conf.d, as `containerd config default` spells it. */
const V3 = `version = 3
root = '/var/lib/containerd'
imports = ['/etc/containerd/conf.d/*.toml']

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'

    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    SystemdCgroup = true
`;

const target = (extra: Record<string, unknown> = {}, version = '1.34.2', criSocket?: string): PreflightTarget => {
  const spec = specSchema.parse({
    kubernetes: { version, controlPlaneEndpoint: '10.0.0.10', ...(criSocket ? { criSocket } : {}) },
    nodes: [{ name: 'n', role: 'control-plane', privateIP: '10.0.0.10' }],
    ...extra,
  });
  return { spec, role: 'control-plane', cni: 'flannel' };
};

const facts = (containerdConfig: string | undefined, containerdImports?: ContainerdFile[]): HostFacts =>
  ({ containerdConfig, ...(containerdImports ? { containerdImports } : {}) }) as HostFacts;

const changedLines = (a: string, b: string) => {
  const x = a.split('\n');
  const y = b.split('\n');
  return { removed: x.filter((l) => !y.includes(l)), added: y.filter((l) => !x.includes(l)) };
};

describe("kubeadm's pause image", () => {
  it.each([
    ['1.28.15', '3.9'], ['1.29.0', '3.9'], ['1.30.6', '3.9'], ['1.31.0', '3.10'], ['1.32.4', '3.10'], ['1.33.5', '3.10'], ['1.34.2', '3.10.1'], ['1.35.0', '3.10.1'],
  ])('Kubernetes %s uses pause:%s', (version, tag) => {
    expect(expectedSandboxImage(version, 'registry.k8s.io')).toBe(`registry.k8s.io/pause:${tag}`);
    expect(expectedSandboxImage(version, CN)).toBe(`${CN}/pause:${tag}`);
  });
});

describe('setTomlString: one value changed, every other byte kept', () => {
  const cri = ['plugins', 'io.containerd.grpc.v1.cri', 'sandbox_image'];
  const pinned = ['plugins', 'io.containerd.cri.v1.images', 'pinned_images', 'sandbox'];

  it('replaces the value in place, keeping indentation and the comment after it', () => {
    const out = setTomlString(V2, cri, `${CN}/pause:3.10.1`)!;
    expect(changedLines(V2, out)).toEqual({
      removed: ['    sandbox_image = "registry.k8s.io/pause:3.6" # the distribution\'s default'],
      added: [`    sandbox_image = "${CN}/pause:3.10.1" # the distribution's default`],
    });
  });

  it('finds the key under quoted (single or double) table names in version 3', () => {
    const out = setTomlString(V3, pinned, `${CN}/pause:3.10.1`)!;
    expect(changedLines(V3, out)).toEqual({ removed: ["      sandbox = 'registry.k8s.io/pause:3.10'"], added: [`      sandbox = "${CN}/pause:3.10.1"`] });
  });

  it('adds the key under its table when the table has none, or the table at the end', () => {
    const noKey = V2.replace(/\n.*sandbox_image.*\n/, '\n');
    const added = setTomlString(noKey, cri, 'r/pause:3.10')!;
    expect(added).toBe(noKey.replace('[plugins."io.containerd.grpc.v1.cri"]\n', '[plugins."io.containerd.grpc.v1.cri"]\n    sandbox_image = "r/pause:3.10"\n'));
    const bare = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true';
    const appended = setTomlString(bare, cri, 'r/pause:3.10')!;
    expect(appended).toBe(`${bare}\n\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "r/pause:3.10"\n`);
    expect((parse(appended) as { plugins: Record<string, { sandbox_image?: string; containerd: unknown }> }).plugins['io.containerd.grpc.v1.cri']).toMatchObject({
      sandbox_image: 'r/pause:3.10',
      containerd: { runtimes: { runc: { options: { SystemdCgroup: true } } } },
    });
  });

  it('a dotted key inside a table is found too', () => {
    const text = "version = 3\n[plugins.'io.containerd.cri.v1.images']\n  pinned_images.sandbox = 'a/pause:1'\n";
    expect(setTomlString(text, pinned, 'b/pause:2')).toBe("version = 3\n[plugins.'io.containerd.cri.v1.images']\n  pinned_images.sandbox = \"b/pause:2\"\n");
  });

  it('offers no edit it cannot make safely (invalid TOML, an inline table) and is not fooled by a multi-line string', () => {
    expect(setTomlString('version = 2\n[plugins\n', cri, 'r/pause:1')).toBeUndefined();
    expect(setTomlString("version = 3\n[plugins.'io.containerd.cri.v1.images']\n  pinned_images = { sandbox = 'a' }\n", pinned, 'b')).toBeUndefined();
    const tricky = 'version = 2\nnote = """\n[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "x"\n"""\n';
    // the lines inside the string are text, not TOML: the string stays as it was and the real table is added
    expect(setTomlString(tricky, cri, 'r/pause:1')).toBe(`${tricky}\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "r/pause:1"\n`);
  });
});

describe('runtime/sandbox-image', () => {
  const check = (f: HostFacts, t: PreflightTarget) => sandboxImageCheck(f, t)[0]!;

  it('passes when containerd runs pods on the pause image kubeadm uses', () => {
    expect(check(facts(V2.replace('registry.k8s.io/pause:3.6', 'registry.k8s.io/pause:3.10.1')), target())).toMatchObject({ status: 'pass' });
    expect(check(facts(V3.replace("'registry.k8s.io/pause:3.10'", `'${CN}/pause:3.10'`)), target({ mirror: 'cn' }, '1.31.0'))).toMatchObject({ status: 'pass' });
  });

  it('passes on containerd defaults with the default registry; is no check for CRI-O', () => {
    expect(check(facts(undefined), target())).toMatchObject({ status: 'pass' });
    expect(check(facts('version = 2\n'), target())).toMatchObject({ status: 'pass' });
    expect(sandboxImageCheck(facts(V2), target({}, '1.34.2', 'unix:///var/run/crio/crio.sock'))).toEqual([]);
  });

  it('warns (fixable with --fix all) when only the tag differs, as kubeadm does', () => {
    const r = check(facts(V2), target());
    expect(r).toMatchObject({ status: 'warn', reason: expect.stringContaining('registry.k8s.io/pause:3.6') });
    expect(r.fix?.effects.map((e) => e.kind)).toEqual(['file', 'exec']);
  });

  it('fails with a mirror or private registry (containerd would pull from registry.k8s.io), fixed by editing config.toml (containerd 1.x)', () => {
    for (const [extra, repo] of [[{ mirror: 'cn' }, CN], [{ imageRegistry: 'registry.example.com:5000/mirror' }, 'registry.example.com:5000/mirror']] as const) {
      const r = check(facts(V2), target(extra));
      expect(r.status).toBe('fail');
      expect(r.reason).toContain(`needs ${repo}/pause:3.10.1`);
      expect(r.fix!.effects).toEqual([
        { kind: 'file', path: CONTAINERD.config, content: V2.replace('registry.k8s.io/pause:3.6', `${repo}/pause:3.10.1`) },
        { kind: 'exec', argv: ['systemctl', 'restart', 'containerd'] },
      ]);
    }
  });

  it('containerd 1.x importing conf.d still gets config.toml edited: a 1.x drop-in would replace the whole CRI section', () => {
    const v2 = V2.replace('imports = []', 'imports = ["/etc/containerd/conf.d/*.toml"]');
    expect(check(facts(v2, []), target({ mirror: 'cn' })).fix!.effects[0]).toMatchObject({ kind: 'file', path: CONTAINERD.config });
  });

  it('containerd 2.x importing conf.d gets a drop-in; without the import, a targeted edit', () => {
    const dropIn = check(facts(V3, []), target({ mirror: 'cn' })).fix!.effects[0] as { path: string; content: string };
    expect(dropIn.path).toBe(CONTAINERD.dropIn);
    expect(parse(dropIn.content)).toEqual({ version: 3, plugins: { 'io.containerd.cri.v1.images': { pinned_images: { sandbox: `${CN}/pause:3.10.1` } } } });
    const noImports = V3.replace("imports = ['/etc/containerd/conf.d/*.toml']\n", '');
    expect(check(facts(noImports), target({ mirror: 'cn' })).fix!.effects[0]).toEqual({
      kind: 'file', path: CONTAINERD.config, content: noImports.replace("sandbox = 'registry.k8s.io/pause:3.10'", `sandbox = "${CN}/pause:3.10.1"`),
    });
  });

  it('reads imported files (the last one setting the image wins) and edits the winner when it comes after knit\'s drop-in', () => {
    const other = { path: '/etc/containerd/conf.d/99-site.toml', content: "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'harbor.example.com/pause:3.10.1'\n" };
    const r = check(facts(V3, [other]), target({ mirror: 'cn' }));
    expect(r).toMatchObject({ status: 'fail', reason: expect.stringContaining(`harbor.example.com/pause:3.10.1 (${other.path} (imported by ${CONTAINERD.config}))`) });
    expect(r.fix!.effects[0]).toEqual({ kind: 'file', path: other.path, content: other.content.replace("'harbor.example.com/pause:3.10.1'", `"${CN}/pause:3.10.1"`) });
  });

  it('without config.toml: a minimal version 2 config (read by 1.x, migrated by 2.x)', () => {
    const r = check(facts(undefined), target({ mirror: 'cn' }));
    expect(r).toMatchObject({ status: 'fail', reason: expect.stringContaining('built-in sandbox image registry.k8s.io/pause') });
    const file = r.fix!.effects[0] as { path: string; content: string };
    expect(file.path).toBe(CONTAINERD.config);
    expect(parse(file.content)).toEqual({ version: 2, plugins: { 'io.containerd.grpc.v1.cri': { sandbox_image: `${CN}/pause:3.10.1` } } });
  });

  it('warns without a fix on a config that does not parse; fails without a fix when no safe edit exists', () => {
    expect(check(facts('version = 2\n[plugins\n'), target({ mirror: 'cn' }))).toMatchObject({ status: 'warn', reason: expect.stringContaining('is not valid TOML') });
    const inline = 'version = 2\n[plugins]\n  "io.containerd.grpc.v1.cri" = { sandbox_image = "registry.k8s.io/pause:3.10" }\n';
    const r = check(facts(inline), target({ mirror: 'cn' }));
    expect(r.status).toBe('fail');
    expect(r.fix).toBeUndefined();
    expect(r.reason).toContain(`set plugins."io.containerd.grpc.v1.cri".sandbox_image = "${CN}/pause:3.10.1" in ${CONTAINERD.config}`);
  });
});

const containerd = onPath('containerd');
describe('containerd reads the edited config (containerd config dump)', skipUnless(needTools(['containerd'])), () => {
  const dump = (config: string) => execFileSync(containerd!, ['--config', config, 'config', 'dump'], { encoding: 'utf8' });

  it('a fixed containerd 1.x config keeps its other settings and has kubeadm\'s pause image', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'knit-containerd-'));
    try {
      const fixed = (check: ReturnType<typeof sandboxImageCheck>[number]) => (check.fix!.effects[0] as { content: string }).content;
      for (const [name, text] of [['edited.toml', fixed(sandboxImageCheck(facts(V2), target({ mirror: 'cn' }))[0]!)], ['minimal.toml', fixed(sandboxImageCheck(facts(undefined), target({ mirror: 'cn' }))[0]!)]] as const) {
        await writeFile(join(dir, name), text);
        const out = dump(join(dir, name));
        expect(out).toContain(`sandbox_image = "${CN}/pause:3.10.1"`);
        if (name === 'edited.toml') expect(out).toMatch(/SystemdCgroup = true/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
