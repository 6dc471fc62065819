/**
 * `knit preflight` against a fake host: a temporary host root copied from test/fixtures/hostroot (swap
 * on, br_netfilter missing, ip_forward off, SELinux enforcing, a leftover Calico config) and a fake
 * kernel behind Exec that records every argv and refuses any it does not know. Nothing here touches
 * the machine's own files, modules or sysctls.
 */
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, lstat, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandContext } from '../src/command-support/context.js';
import { run, type PreflightOptions } from '../src/commands/preflight.js';
import { PreflightError, UsageError } from '../src/errors.js';
import type { Exec, ExecResult } from '../src/host/exec.js';
import { HostFiles } from '../src/host/files.js';
import { probeHost } from '../src/host/probe.js';
import { createOutput, type OutputFormat } from '../src/ui/output.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/hostroot', import.meta.url));
const SOCKET = '/var/run/containerd/containerd.sock';
const BRIDGE = 'net.bridge.bridge-nf-call-iptables';
/** Argv prefixes that only read; anything else a run executes changes the (fake) host. */
const READS = ['sysctl -e ', 'sysctl -n ', 'systemctl is-active ', 'kubeadm version', 'kubelet --version', 'kubectl version'];

/** The kernel and tools of the fake host: live state in memory and in the root's /proc and /sys. */
function fakeKernel(root: string) {
  const sysctls: Record<string, string> = { 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.conf.default.rp_filter': '1' };
  const calls: string[] = [];
  const restarts: string[] = [];
  const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });
  const exec: Exec = async (argv) => {
    const line = argv.join(' ');
    calls.push(line);
    const [cmd, flag, ...rest] = argv;
    if (cmd === 'sysctl' && flag === '-e') return ok(rest.filter((k) => k in sysctls).map((k) => `${k} = ${sysctls[k]}\n`).join(''));
    if (cmd === 'sysctl' && flag === '-n')
      return rest[0]! in sysctls ? ok(`${sysctls[rest[0]!]}\n`) : { exitCode: 255, stdout: '', stderr: `sysctl: cannot stat /proc/sys/${rest[0]}\n` };
    if (cmd === 'sysctl' && flag === '-w') {
      const [key, value] = rest[0]!.split('=') as [string, string];
      if (!(key in sysctls)) return { exitCode: 255, stdout: '', stderr: `sysctl: cannot stat ${key}\n` };
      sysctls[key] = value;
      return ok(`${key} = ${value}\n`);
    }
    switch (line) {
      case 'systemctl is-active firewalld':
        return { exitCode: 3, stdout: 'inactive\n', stderr: '' };
      case 'nft --version':
        return ok('nftables v1.0.6 (Lester Gooch #5)\n');
      case 'kubeadm version -o short':
        return ok('v1.34.2\n');
      case 'kubelet --version':
        return ok('Kubernetes v1.34.1\n');
      case 'kubectl version --client':
        return ok('Client Version: v1.34.2\nKustomize Version: v5.7.1\n');
      case 'swapoff -a':
        await writeFile(join(root, 'proc/swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
        return ok();
      case 'modprobe br_netfilter':
        await writeFile(join(root, 'proc/modules'), `br_netfilter 32768 0 - Live 0x0\n${await readFile(join(root, 'proc/modules'), 'utf8')}`);
        sysctls[BRIDGE] = '0'; // the module brings its sysctls; this kernel defaults them off
        return ok();
      case 'systemctl restart containerd':
        restarts.push(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8').catch(() => '')); // the config it came up with
        return ok();
      case 'setenforce 0':
        await writeFile(join(root, 'sys/fs/selinux/enforce'), '0\n');
        return ok();
    }
    throw new Error(`unexpected command: ${line}`);
  };
  const changes = () => calls.filter((c) => !READS.some((r) => c.startsWith(r)));
  return { exec, calls, changes, sysctls, restarts };
}

function fakeContext(root: string, exec: Exec, format: OutputFormat = 'text') {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const sink = (into: string[]) => new Writable({ write: (chunk, _enc, done) => (into.push(String(chunk)), done()) });
  const ctx: CommandContext = {
    out: createOutput({ format, stdout: sink(stdout), stderr: sink(stderr), env: { NO_COLOR: '1' } }),
    exec,
    files: new HostFiles(root),
    env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin' },
    hostname: 'node-1',
    interactive: false,
  };
  return { ctx, stdout: () => stdout.join(''), stderr: () => stderr.join('') };
}

/** Every path under the root with its type, mode and content: equal snapshots mean byte-identical trees. */
async function snapshot(root: string, opts: { files?: boolean } = {}): Promise<Record<string, string>> {
  // /proc and /sys stand for kernel state (modules, swap, SELinux mode), which undo does not claim to restore
  const skip = opts.files ? ['proc', 'sys'] : [];
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const rel = relative(root, path);
      if (skip.includes(rel)) continue;
      const s = await lstat(path);
      const mode = (s.mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out[`${rel}/`] = mode;
        await walk(path);
      } else out[rel] = `${mode} ${e.isFile() ? await readFile(path, 'utf8') : e.isSocket() ? '<socket>' : '<other>'}`;
    }
  };
  await walk(root);
  return out;
}

let root: string;
let server: Server;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'knit-pf-'));
  await cp(FIXTURE, root, { recursive: true });
  await chmod(join(root, 'etc/cni/net.d/calico-kubeconfig'), 0o600); // git keeps only the exec bit
  await mkdir(join(root, 'var/lib'), { recursive: true }); // as on any host: /var/lib/knit's parent exists
  await mkdir(join(root, 'var/run/containerd'), { recursive: true });
  server = createServer((c) => c.end());
  await new Promise<void>((resolve) => server.listen(join(root, SOCKET), resolve));
});
afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const preflight = async (opts: PreflightOptions, k = fakeKernel(root), format: OutputFormat = 'text') => {
  const c = fakeContext(root, k.exec, format);
  const outcome: { code?: number; error?: unknown } = await run(opts, c.ctx).then((code) => ({ code }), (error: unknown) => ({ error }));
  return { ...outcome, stdout: c.stdout(), stderr: c.stderr(), kernel: k };
};

describe('probes over a host root', () => {
  it('gather the facts from the fixture host and the (fake) tools', async () => {
    const k = fakeKernel(root);
    const facts = await probeHost({ files: new HostFiles(root), exec: k.exec, criSocket: `unix://${SOCKET}`, hostname: 'node-1', path: '/usr/sbin:/usr/bin', uid: 0 });
    expect(facts).toMatchObject({
      os: { id: 'alinux', prettyName: 'Alibaba Cloud Linux 3 (Soaring Falcon)' },
      kernelRelease: '5.10.134-16.al8.x86_64',
      cgroup: 'v2',
      cpus: 2,
      memoryMiB: 3765,
      swaps: [{ name: '/swapfile', sizeKiB: 2097148 }],
      modules: { br_netfilter: false, overlay: true, vxlan: true, ipip: false },
      sysctls: { 'net.ipv4.ip_forward': '0' },
      selinux: { enforcing: true },
      firewalld: 'inactive',
      cri: { socket: SOCKET, reachable: true },
      versions: { kubeadm: '1.34.2', kubelet: '1.34.1', kubectl: '1.34.2' },
      listening: [22, 80], // not 6443: that socket is an outgoing connection, not a listener
      cniConfigs: ['10-calico.conflist', 'calico-kubeconfig'],
    });
    expect(facts.binaries).toMatchObject({ ip: true, iptables: true, kubeadm: true, conntrack: false });
    expect(k.changes()).toEqual([]);
  });

  it('report a runtime socket nobody listens on', async () => {
    await new Promise((resolve) => server.close(resolve));
    const facts = await probeHost({ files: new HostFiles(root), exec: fakeKernel(root).exec, criSocket: `unix://${SOCKET}`, hostname: 'n', path: '' });
    expect(facts.cri).toEqual({ socket: SOCKET, reachable: false, detail: `${SOCKET} does not exist` });
  });
});

describe('knit preflight on the fixture host', () => {
  it('checks against the defaults without a spec, prints a table and fails with exit code 3', async () => {
    const r = await preflight({});
    expect(r.error).toBeInstanceOf(PreflightError);
    expect((r.error as PreflightError).exitCode).toBe(3);
    expect((r.error as Error).message).toBe(
      'preflight: 4 checks failed: modules/br_netfilter, sysctl/ip_forward, sysctl/bridge-nf-call-iptables, cni/leftover-config',
    );
    expect(r.stdout).toMatch(/^Preflight for a control-plane node: Kubernetes 1\.34\.2, CNI flannel \(vxlan\)$/m);
    expect(r.stdout).toMatch(/^ {2}WARN {2}swap\/off +swap is on \(\/swapfile, 2048 MiB\); \/etc\/fstab turns it on at boot/m);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}cni\/leftover-config .*10-calico\.conflist.*\[fixable\]$/m);
    expect(r.stdout).toContain('add --fix to fix 4 failing checks');
    expect(r.kernel.changes()).toEqual([]);
  });

  it('prints one JSON document with --output json', async () => {
    const r = await preflight({ ignore: ['all'] }, fakeKernel(root), 'json');
    expect(r).toMatchObject({ code: 0 });
    const doc = JSON.parse(r.stdout) as { role: string; cni: string; checks: { id: string; status: string; fixable: boolean; ignored?: boolean }[] };
    expect(doc).toMatchObject({ role: 'control-plane', cni: 'flannel', kubernetesVersion: '1.34.2' });
    expect(doc.checks.find((c) => c.id === 'sysctl/ip_forward')).toEqual({
      id: 'sysctl/ip_forward', status: 'fail', reason: expect.stringContaining('is 0, needs 1'), fixable: true, ignored: true,
    });
  });

  it('--fix --dry-run prints the fixes as a plan and changes nothing', async () => {
    const before = await snapshot(root);
    const r = await preflight({ fix: true, dryRun: true });
    // a dry run only shows what it would do: exit 0, though the host is still as it was
    expect(r.code).toBe(0);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toContain('[1/4] preflight/fix/modules/br_netfilter — Load kernel module br_netfilter, now and at boot');
    expect(r.stdout).toContain('      run modprobe br_netfilter');
    expect(r.stdout).toContain('      set sysctl net.ipv4.ip_forward=1');
    expect(r.stdout).toContain('      remove /etc/cni/net.d/10-calico.conflist');
    expect(r.stdout).not.toContain('swapoff'); // a warning: only --fix all touches it
    expect(r.kernel.changes()).toEqual([]);
    expect(await snapshot(root)).toEqual(before);
  });

  it('--fix fixes the failures only, checks again, and --undo restores every file byte for byte', async () => {
    const before = await snapshot(root, { files: true });
    const k = fakeKernel(root);
    const r = await preflight({ fix: true }, k);
    expect(r).toMatchObject({ code: 0 });
    expect(k.changes()).toEqual(['modprobe br_netfilter', 'sysctl -w net.ipv4.ip_forward=1', `sysctl -w ${BRIDGE}=1`]);
    expect(r.stdout).toMatch(/^Applied 4 fixes .*Checking again:$/m);
    expect(r.stdout).toMatch(/^ {2}PASS {2}modules\/br_netfilter/m);
    expect(r.stdout).toMatch(/^ {2}WARN {2}swap\/off/m); // warnings are left alone
    expect(r.stderr).toContain('[1/4] Load kernel module br_netfilter, now and at boot: done');
    expect(await readFile(join(root, 'etc/modules-load.d/knit.conf'), 'utf8')).toMatch(/\nbr_netfilter\noverlay\nvxlan\n$/);
    expect(await readFile(join(root, 'etc/sysctl.d/90-knit.conf'), 'utf8')).toMatch(/\nnet.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n$/);
    expect(await readFile(join(root, 'etc/fstab'), 'utf8')).toBe(await readFile(join(FIXTURE, 'etc/fstab'), 'utf8'));
    await expect(readFile(join(root, 'etc/cni/net.d/10-calico.conflist'))).rejects.toThrow(/ENOENT/);

    const u = await preflight({ undo: true }, k);
    expect(u).toMatchObject({ code: 0 });
    expect(u.stdout).toContain('restored sysctl net.ipv4.ip_forward = 0');
    expect(k.sysctls).toMatchObject({ 'net.ipv4.ip_forward': '0', [BRIDGE]: '0' });
    expect(await snapshot(root, { files: true })).toEqual(before);
  });

  it('--fix all fixes warnings too; a second --fix changes nothing; --undo restores the files', async () => {
    const before = await snapshot(root, { files: true });
    const k = fakeKernel(root);
    expect(await preflight({ fix: 'all' }, k)).toMatchObject({ code: 0 });
    // containerd's sandbox image is pause:3.10 where kubeadm 1.34 uses 3.10.1: a warning, fixed by --fix all
    expect(k.changes()).toEqual(['swapoff -a', 'modprobe br_netfilter', 'sysctl -w net.ipv4.ip_forward=1', `sysctl -w ${BRIDGE}=1`, 'setenforce 0', 'systemctl restart containerd']);
    expect(k.restarts).toEqual([expect.stringContaining('\n    sandbox_image = "registry.k8s.io/pause:3.10.1"\n')]);
    expect(await readFile(join(root, 'etc/fstab'), 'utf8')).toContain('\n#/swapfile ');
    expect(await readFile(join(root, 'etc/selinux/config'), 'utf8')).toMatch(/^SELINUX=permissive$/m);

    const fixed = await snapshot(root);
    const again = fakeKernel(root);
    Object.assign(again.sysctls, k.sysctls);
    const second = await preflight({ fix: 'all' }, again);
    expect(second).toMatchObject({ code: 0 });
    expect(second.stdout).toMatch(/^Nothing to fix\.$/m);
    expect(again.changes()).toEqual([]);
    expect(await snapshot(root)).toEqual(fixed);

    expect(await preflight({ undo: true }, k)).toMatchObject({ code: 0 });
    expect(await snapshot(root, { files: true })).toEqual(before);
    const nothing = await preflight({ undo: true }, k);
    expect(nothing.stdout).toContain('Nothing to undo');
  });

  it('--undo --dry-run lists what would be restored and changes nothing', async () => {
    const k = fakeKernel(root);
    await preflight({ fix: true }, k);
    const fixed = await snapshot(root);
    const r = await preflight({ undo: true, dryRun: true }, k);
    expect(r.stdout).toContain('  set sysctl net.ipv4.ip_forward=0');
    expect(r.stdout).toContain('  restore /etc/cni/net.d/10-calico.conflist');
    expect(r.stdout).toContain('  remove /etc/sysctl.d/90-knit.conf');
    expect(await snapshot(root)).toEqual(fixed);
  });

  it('--ignore takes check ids and groups: ignored failures are reported but pass the run', async () => {
    const r = await preflight({ ignore: ['modules', 'sysctl', 'cni/leftover-config'] });
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/^ {2}FAIL {2}sysctl\/ip_forward +.*\(ignored\)$/m);
    expect(r.stdout).toMatch(/4 failed \(4 ignored\)/);
  });

  it('takes role and CNI from the flags: a Calico worker', async () => {
    const r = await preflight({ cni: 'calico', role: 'worker', ignore: ['all'] });
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/^Preflight for a worker node: Kubernetes 1\.34\.2, CNI calico \(ipip\)$/m);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}modules\/ipip /m);
    expect(r.stdout).toMatch(/^ {2}PASS {2}cni\/leftover-config /m); // Calico's own files are no leftover
    expect(r.stdout).not.toContain('ports/6443');
  });

  it('takes version, CNI and role from --config, the node picked by --node-name', async () => {
    const config = fileURLToPath(new URL('./cases/calico-ha-v1beta3.yaml', import.meta.url));
    const r = await preflight({ config, nodeName: 'worker-bj-1', ignore: ['all'] });
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/^Preflight for a worker node: Kubernetes 1\.30\.6, CNI calico \(vxlan\)$/m);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}versions\/kubeadm +kubeadm 1\.34\.2 cannot install Kubernetes 1\.30\.6/m);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}binaries\/conntrack +conntrack is not on PATH/m); // needed before 1.32
    // its control planes are in other VPCs: the address map needs nftables
    expect(r.stdout).toMatch(/^ {2}PASS {2}crossvpc\/nft +nft 1\.0\.6 /m);
    expect(r.stdout).toMatch(/^ {2}FAIL {2}modules\/nf_tables +kernel module nf_tables is not loaded; knit's cross-VPC address map runs in nftables/m);
  });

  it('refuses unknown --ignore ids, --fix scopes, roles and CNIs, and --fix with --undo', async () => {
    expect((await preflight({ ignore: ['swap/of'] })).error).toBeInstanceOf(UsageError);
    expect((await preflight({ fix: 'warnings' })).error).toBeInstanceOf(UsageError);
    expect((await preflight({ fix: true, undo: true })).error).toBeInstanceOf(UsageError);
    expect((await preflight({ role: 'master' as 'worker' })).error).toBeInstanceOf(UsageError);
    expect(((await preflight({ cni: 'cilium' })).error as Error).message).toMatch(/^network\.plugin \(--cni\): unknown CNI "cilium"/);
  });
});

describe('containerd\'s sandbox image with a mirror (runtime/sandbox-image)', () => {
  const CN_PAUSE = 'registry.cn-hangzhou.aliyuncs.com/google_containers/pause:3.10.1';
  const CONFIG = 'etc/containerd/config.toml';
  /** containerd 2.x's config (version 3), importing drop-ins from conf.d. */
  const V3 = `version = 3
imports = ['/etc/containerd/conf.d/*.toml']

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = 'registry.k8s.io/pause:3.10'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
`;

  it('containerd 1.x: fails, --fix edits one line of config.toml and restarts containerd, a second --fix changes nothing, --undo restores it byte for byte', async () => {
    const original = await readFile(join(root, CONFIG), 'utf8');
    const before = await snapshot(root, { files: true });
    const r = await preflight({ mirror: 'cn', ignore: ['modules', 'sysctl', 'cni'] });
    expect((r.error as Error).message).toBe('preflight: 1 check failed: runtime/sandbox-image');
    expect(r.stdout).toMatch(/^ {2}FAIL {2}runtime\/sandbox-image +containerd's sandbox image is registry\.k8s\.io\/pause:3\.10 .*\[fixable\]$/m);

    const k = fakeKernel(root);
    const fixed = await preflight({ mirror: 'cn', fix: true, ignore: ['modules', 'sysctl', 'cni'] }, k);
    expect(fixed).toMatchObject({ code: 0 });
    expect(k.changes()).toEqual(['systemctl restart containerd']);
    const config = await readFile(join(root, CONFIG), 'utf8');
    expect(config).toBe(original.replace('sandbox_image = "registry.k8s.io/pause:3.10"', `sandbox_image = "${CN_PAUSE}"`));
    expect(k.restarts).toEqual([config]); // restarted after the file was written
    expect(fixed.stdout).toMatch(/^ {2}PASS {2}runtime\/sandbox-image /m);

    const again = fakeKernel(root);
    expect(await preflight({ mirror: 'cn', fix: true, ignore: ['modules', 'sysctl', 'cni'] }, again)).toMatchObject({ code: 0 });
    expect(again.changes()).toEqual([]);
    expect(await readFile(join(root, CONFIG), 'utf8')).toBe(config);

    const dry = await preflight({ undo: true, dryRun: true }, k);
    expect(dry.stdout).toContain(`  restore /${CONFIG}\n  run systemctl restart containerd`);
    const undone = await preflight({ undo: true }, k);
    expect(undone).toMatchObject({ code: 0 });
    expect(await readFile(join(root, CONFIG), 'utf8')).toBe(original);
    expect(k.restarts).toEqual([config, original]); // and containerd runs on the restored file
    expect(await snapshot(root, { files: true })).toEqual(before);
  });

  it('containerd 2.x importing conf.d: --fix writes a drop-in and leaves config.toml alone; --undo removes it', async () => {
    await writeFile(join(root, CONFIG), V3);
    const before = await snapshot(root, { files: true });
    const k = fakeKernel(root);
    expect(await preflight({ imageRegistry: 'registry.example.com:5000/mirror', fix: true, ignore: ['modules', 'sysctl', 'cni'] }, k)).toMatchObject({ code: 0 });
    expect(k.changes()).toEqual(['systemctl restart containerd']);
    expect(await readFile(join(root, CONFIG), 'utf8')).toBe(V3);
    expect(await readFile(join(root, 'etc/containerd/conf.d/90-knit-sandbox.toml'), 'utf8')).toContain(
      "[plugins.\"io.containerd.cri.v1.images\".pinned_images]\n  sandbox = \"registry.example.com:5000/mirror/pause:3.10.1\"\n",
    );
    // the probe reads the drop-in back: the check passes now
    const check = await preflight({ imageRegistry: 'registry.example.com:5000/mirror', ignore: ['modules', 'sysctl', 'cni'] });
    expect(check.stdout).toMatch(/^ {2}PASS {2}runtime\/sandbox-image +containerd runs pods on registry\.example\.com:5000\/mirror\/pause:3\.10\.1/m);

    expect(await preflight({ undo: true }, k)).toMatchObject({ code: 0 });
    expect(k.changes()).toEqual(['systemctl restart containerd', 'systemctl restart containerd']);
    expect(await snapshot(root, { files: true })).toEqual(before); // conf.d, which knit created, is gone too
  });
});
