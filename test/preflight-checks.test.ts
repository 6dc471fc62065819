/**
 * Preflight's pure checks over fabricated host facts: the rules, per role and CNI, and the fixes they
 * plan (and, for WireGuard built into the kernel, the module probe over a fake host root).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandNotFoundError } from '../src/host/exec.js';
import { HostFiles } from '../src/host/files.js';
import { probeHost } from '../src/host/probe.js';
import { checkHost } from '../src/preflight/check.js';
import { planFixes } from '../src/preflight/fix.js';
import { applyIgnores, blockingFailures, fixHints, unknownIgnores } from '../src/preflight/outcome.js';
import {
  countCpus,
  firstVersion,
  parseBuiltinModules,
  parseForwardPolicy,
  parseListeningPorts,
  parseMemTotalMiB,
  parseOsRelease,
  parseSwaps,
  parseSysctlOutput,
} from '../src/preflight/parse.js';
import { KNOWN_BINARIES } from '../src/preflight/requirements.js';
import { containerdCgroupDriver } from '../src/preflight/runtime.js';
import { commentOutSwap } from '../src/preflight/swap.js';
import { kernelValidated } from '../src/preflight/system.js';
import { formatResults } from '../src/preflight/table.js';
import { skewProblem } from '../src/preflight/tools.js';
import type { CheckResult, HostFacts, PreflightTarget, Role } from '../src/preflight/types.js';
import { specSchema, type CniPlugin } from '../src/spec/schema.js';

const SYSTEMD_CONTAINERD = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
`;

const target = (o: { cni?: CniPlugin; role?: Role; version?: string; calicoMode?: string; flannelBackend?: string; nodeName?: string } = {}): PreflightTarget => {
  const spec = specSchema.parse({
    kubernetes: { version: o.version ?? '1.34.2', controlPlaneEndpoint: '203.0.113.10' },
    network: { plugin: o.cni ?? 'flannel', calico: { mode: o.calicoMode ?? 'ipip' }, flannel: { backend: o.flannelBackend ?? 'vxlan' } },
    nodes: [{ name: 'node-1', role: 'control-plane', privateIP: '10.0.0.10' }],
  });
  return { spec, role: o.role ?? 'control-plane', cni: spec.network.plugin, ...(o.nodeName ? { nodeName: o.nodeName } : {}) };
};

/** A host on which every check passes, for any role and CNI. */
const healthy = (over: Partial<HostFacts> = {}): HostFacts => ({
  uid: 0,
  hostname: 'node-1',
  os: { id: 'alinux', prettyName: 'Alibaba Cloud Linux 3 (Soaring Falcon)' },
  kernelRelease: '5.10.134-16.al8.x86_64',
  cgroup: 'v2',
  cpus: 4,
  memoryMiB: 7820,
  swaps: [],
  fstab: 'UUID=abc / ext4 defaults 1 1\n',
  modules: { br_netfilter: true, overlay: true, vxlan: true, ipip: true, wireguard: true },
  sysctls: {
    'net.ipv4.ip_forward': '1',
    'net.bridge.bridge-nf-call-iptables': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  },
  forward: { backend: 'nft', policy: 'ACCEPT' },
  selinux: {},
  firewalld: 'inactive',
  cri: { socket: '/var/run/containerd/containerd.sock', reachable: true },
  containerdConfig: SYSTEMD_CONTAINERD,
  binaries: Object.fromEntries(KNOWN_BINARIES.map((b) => [b, true])),
  versions: { kubeadm: '1.34.2', kubelet: '1.34.2', kubectl: '1.34.2' },
  listening: [22],
  cniConfigs: [],
  ...over,
});

const byId = (results: CheckResult[], id: string): CheckResult => {
  const r = results.find((x) => x.id === id);
  if (!r) throw new Error(`no check ${id} in ${results.map((x) => x.id).join(', ')}`);
  return r;
};
const check = (facts: HostFacts, id: string, t = target()) => byId(checkHost(facts, t), id);
const ids = (results: CheckResult[], prefix: string) => results.filter((r) => r.id.startsWith(prefix)).map((r) => r.id);

describe('a healthy host', () => {
  it.each([
    ['flannel', 'control-plane'],
    ['flannel', 'worker'],
    ['calico', 'control-plane'],
    ['terway', 'worker'],
  ] as const)('passes every check (%s, %s)', (cni, role) => {
    const results = checkHost(healthy(), target({ cni, role }));
    expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(new Set(results.map((r) => r.id)).size).toBe(results.length); // ids are unique
    expect(planFixes(results, 'all')).toEqual([]);
  });
});

describe('system checks', () => {
  it.each([
    ['5.4.0-150-generic', true],
    ['5.10.134-16.al8.x86_64', true],
    ['5.15.0-91-generic', true],
    ['6.1.0-18-amd64', true],
    ['6.18.44', true],
    ['4.19.91-27.al7.x86_64', false],
    ['3.10.0-1160.el7.x86_64', false],
    ['5.14.0-427.el9.x86_64', false],
    ['5.11.0', false],
  ])("kernel %s is validated by kubeadm's rule: %s", (release, ok) => {
    expect(kernelValidated(release)).toBe(ok);
    expect(check(healthy({ kernelRelease: release }), 'kernel/version').status).toBe(ok ? 'pass' : 'warn');
  });

  it('cgroup v1 warns before Kubernetes 1.35 and fails from 1.35 on', () => {
    expect(check(healthy({ cgroup: 'v1' }), 'cgroup/version', target({ version: '1.34.2' })).status).toBe('warn');
    const r = check(healthy({ cgroup: 'v1' }), 'cgroup/version', target({ version: '1.35.0' }));
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/refuses to start/);
    expect(check(healthy(), 'cgroup/version', target({ version: '1.35.0' })).status).toBe('pass');
  });

  it('holds only control planes to 2 CPUs and 1700 MiB', () => {
    const small = healthy({ cpus: 1, memoryMiB: 1600 });
    expect(check(small, 'resources/cpu').status).toBe('fail');
    expect(check(small, 'resources/memory').reason).toMatch(/1600 MiB.*at least 1700 MiB/);
    expect(check(healthy({ memoryMiB: 1700 }), 'resources/memory').status).toBe('pass');
    expect(ids(checkHost(small, target({ role: 'worker' })), 'resources/')).toEqual([]);
  });

  it('fails without root and for a hostname that is no valid node name (unless the node is named)', () => {
    expect(check(healthy({ uid: 1000 }), 'system/root').status).toBe('fail');
    expect(check(healthy({ hostname: 'iZbp1AbC' }), 'host/hostname').status).toBe('pass'); // kubelet lowercases it
    expect(check(healthy({ hostname: 'web_01' }), 'host/hostname').status).toBe('fail');
    expect(check(healthy({ hostname: 'web_01' }), 'host/hostname', target({ nodeName: 'web-01' })).status).toBe('warn');
  });
});

describe('swap', () => {
  const on = { swaps: [{ name: '/swapfile', sizeKiB: 2097148 }], fstab: 'UUID=a / ext4 defaults 1 1\n/swapfile none swap defaults 0 0\n' };

  it('fails on cgroup v1 and warns on cgroup v2; the fix turns it off now and at boot', () => {
    expect(check(healthy({ ...on, cgroup: 'v1' }), 'swap/off').status).toBe('fail');
    const r = check(healthy(on), 'swap/off');
    expect(r.status).toBe('warn');
    expect(r.reason).toContain('/swapfile, 2048 MiB');
    expect(r.fix!.effects).toEqual([
      { kind: 'exec', argv: ['swapoff', '-a'] },
      { kind: 'file', path: '/etc/fstab', content: 'UUID=a / ext4 defaults 1 1\n#/swapfile none swap defaults 0 0\n' },
    ]);
  });

  it('warns when swap is off but fstab turns it on at boot, and fixes only the file', () => {
    const r = check(healthy({ fstab: on.fstab }), 'swap/off');
    expect(r.status).toBe('warn');
    expect(r.fix!.effects.map((e) => e.kind)).toEqual(['file']);
  });

  it('comments out only active swap lines, byte for byte otherwise', () => {
    const fstab = '# /dev/vdb1 none swap sw 0 0\n/dev/vda1 / ext4 defaults 0 1\n\t/dev/vdc1\tnone\tswap\tsw\t0 0\n';
    expect(commentOutSwap(fstab)).toBe('# /dev/vdb1 none swap sw 0 0\n/dev/vda1 / ext4 defaults 0 1\n#\t/dev/vdc1\tnone\tswap\tsw\t0 0\n');
  });
});

describe('kernel modules and sysctls depend on the CNI', () => {
  it.each([
    [{ cni: 'flannel' }, ['br_netfilter', 'overlay', 'vxlan']],
    [{ cni: 'flannel', flannelBackend: 'host-gw' }, ['br_netfilter', 'overlay']],
    [{ cni: 'flannel', flannelBackend: 'wireguard' }, ['br_netfilter', 'overlay', 'wireguard']],
    [{ cni: 'calico', calicoMode: 'ipip' }, ['br_netfilter', 'overlay', 'ipip']],
    [{ cni: 'calico', calicoMode: 'crosssubnet' }, ['br_netfilter', 'overlay', 'ipip']],
    [{ cni: 'calico', calicoMode: 'vxlan' }, ['br_netfilter', 'overlay', 'vxlan']],
    [{ cni: 'calico', calicoMode: 'bgp' }, ['br_netfilter', 'overlay']],
    [{ cni: 'terway' }, ['br_netfilter', 'overlay']],
    [{ cni: 'canal' }, ['br_netfilter', 'overlay', 'vxlan']],
  ] as const)('%o needs modules %o', (t, modules) => {
    expect(ids(checkHost(healthy(), target(t)), 'modules/')).toEqual(modules.map((m) => `modules/${m}`));
  });

  it('a missing module fails; its fix loads it now (modprobe) and at boot (the whole modules-load.d file)', () => {
    const r = check(healthy({ modules: { br_netfilter: true, overlay: true } }), 'modules/vxlan');
    expect(r.status).toBe('fail');
    expect(r.fix!.effects).toEqual([
      { kind: 'file', path: '/etc/modules-load.d/knit.conf', content: expect.stringMatching(/\nbr_netfilter\noverlay\nvxlan\n$/) },
      { kind: 'exec', argv: ['modprobe', 'vxlan'] },
    ]);
  });

  describe("flannel's WireGuard backend needs WireGuard in the kernel", () => {
    const wireguard = target({ flannelBackend: 'wireguard' });
    const withoutWg = (kernelRelease: string) => healthy({ kernelRelease, modules: { br_netfilter: true, overlay: true } });

    it('on 5.6 and later, a missing module fails with `modprobe wireguard` as the fix', () => {
      const r = check(withoutWg('6.1.0-13-amd64'), 'modules/wireguard', wireguard);
      expect(r).toMatchObject({ status: 'fail', reason: "kernel module wireguard is not loaded; flannel's WireGuard backend needs it (in the kernel from 5.6: `modprobe wireguard`)" });
      expect(r.fix!.effects).toEqual([
        { kind: 'file', path: '/etc/modules-load.d/knit.conf', content: expect.stringMatching(/\nbr_netfilter\noverlay\nwireguard\n$/) },
        { kind: 'exec', argv: ['modprobe', 'wireguard'] },
      ]);
      expect(r.fix!.note).toBeUndefined();
      expect(check(withoutWg('5.6.0'), 'modules/wireguard', wireguard).reason).toMatch(/\(in the kernel from 5\.6: `modprobe wireguard`\)$/);
    });

    it('before 5.6, the reason names the way out: a 5.6+ kernel or a wireguard module for this one (modprobe stays the fix)', () => {
      for (const release of ['4.19.91-27.al7.x86_64', '5.4.0-150-generic']) {
        const r = check(withoutWg(release), 'modules/wireguard', wireguard);
        expect(r.status).toBe('fail');
        expect(r.reason).toBe(
          `kernel module wireguard is not loaded; flannel's WireGuard backend needs it, and kernel ${release} predates WireGuard (in the kernel from 5.6): ` +
            'install a 5.6+ kernel, or a wireguard module built for this one (wireguard-dkms, kmod-wireguard), then `modprobe wireguard`',
        );
        expect(r.fix).toMatchObject({ effects: [{ kind: 'file' }, { kind: 'exec', argv: ['modprobe', 'wireguard'] }], note: expect.stringMatching(/before 5\.6/) });
      }
    });

    it('passes on a 5.6+ kernel with WireGuard built in: modules.builtin counts, /proc/modules need not list it', async () => {
      const root = await mkdtemp(join(tmpdir(), 'knit-preflight-wg-'));
      try {
        const release = '6.1.0-13-amd64';
        const files = new HostFiles(root);
        await files.write('/proc/sys/kernel/osrelease', `${release}\n`);
        await files.write('/proc/modules', 'overlay 151552 0 - Live 0x0000000000000000\nbr_netfilter 32768 0 - Live 0x0000000000000000\n');
        await files.write(`/lib/modules/${release}/modules.builtin`, 'kernel/net/ipv4/udp_tunnel.ko\nkernel/drivers/net/wireguard/wireguard.ko\n');
        const notInstalled = async (argv: readonly string[]): Promise<never> => {
          throw new CommandNotFoundError(`${argv[0]}: command not found`);
        };
        const facts = await probeHost({ files, exec: notInstalled, criSocket: 'unix:///run/containerd/containerd.sock', hostname: 'node-1', path: '' });
        expect(facts.modules).toMatchObject({ wireguard: true, overlay: true, br_netfilter: true, vxlan: false });
        expect(check({ ...healthy(), modules: facts.modules, kernelRelease: facts.kernelRelease }, 'modules/wireguard', wireguard)).toMatchObject({
          status: 'pass',
          reason: 'wireguard is loaded',
        });
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });

  it('br_netfilter counts as present when its sysctls exist (built into the kernel)', () => {
    const facts = healthy({ modules: { overlay: true, vxlan: true } });
    expect(check(facts, 'modules/br_netfilter').status).toBe('pass');
    const { 'net.bridge.bridge-nf-call-iptables': _, ...noBridge } = facts.sysctls;
    const without = healthy({ modules: { overlay: true, vxlan: true }, sysctls: noBridge });
    expect(check(without, 'modules/br_netfilter').status).toBe('fail');
    const bridge = check(without, 'sysctl/bridge-nf-call-iptables');
    expect(bridge.status).toBe('fail');
    expect(bridge.reason).toMatch(/does not exist \(br_netfilter is not loaded\)/);
  });

  it('Terway adds rp_filter and the FORWARD policy', () => {
    expect(ids(checkHost(healthy(), target()), 'sysctl/')).toEqual(['sysctl/ip_forward', 'sysctl/bridge-nf-call-iptables']);
    expect(ids(checkHost(healthy(), target({ cni: 'terway' })), 'sysctl/')).toEqual(['sysctl/ip_forward', 'sysctl/bridge-nf-call-iptables', 'sysctl/rp_filter']);
    expect(ids(checkHost(healthy(), target()), 'iptables/')).toEqual([]);
    const facts = healthy({ sysctls: { ...healthy().sysctls, 'net.ipv4.conf.default.rp_filter': '1' }, forward: { backend: 'legacy', policy: 'DROP' } });
    const results = checkHost(facts, target({ cni: 'terway' }));
    const rp = byId(results, 'sysctl/rp_filter');
    expect(rp.status).toBe('fail');
    expect(rp.reason).toMatch(/^net.ipv4.conf.default.rp_filter is 1, needs 0/);
    expect(rp.fix!.effects.slice(1)).toEqual([
      { kind: 'sysctl', key: 'net.ipv4.conf.all.rp_filter', value: '0' },
      { kind: 'sysctl', key: 'net.ipv4.conf.default.rp_filter', value: '0' },
    ]);
    expect(byId(results, 'iptables/forward-policy').fix!.effects).toEqual([{ kind: 'exec', argv: ['iptables-legacy', '-P', 'FORWARD', 'ACCEPT'] }]);
  });

  it('every sysctl fix writes the same complete file, so fixing a subset leaves it whole', () => {
    const facts = healthy({ sysctls: { 'net.ipv4.ip_forward': '0' } });
    const fixes = checkHost(facts, target({ cni: 'terway' })).filter((r) => r.id.startsWith('sysctl/'));
    const files = fixes.map((r) => r.fix!.effects[0]);
    expect(new Set(files.map((f) => JSON.stringify(f))).size).toBe(1);
    expect(files[0]).toEqual({
      kind: 'file',
      path: '/etc/sysctl.d/90-knit.conf',
      content: expect.stringContaining('net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.default.rp_filter = 0\n'),
    });
  });
});

describe('ports and the firewall', () => {
  it('control planes need the control-plane ports free, workers the kubelet port', () => {
    expect(ids(checkHost(healthy(), target()), 'ports/')).toEqual(['ports/6443', 'ports/10250', 'ports/10257', 'ports/10259', 'ports/2379', 'ports/2380']);
    expect(ids(checkHost(healthy(), target({ role: 'worker' })), 'ports/')).toEqual(['ports/10250']);
    const r = check(healthy({ listening: [22, 6443] }), 'ports/6443');
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/kube-apiserver.*in use/);
  });

  it("an active firewalld warns, naming the ports the role and the CNI's datapath need", () => {
    const reason = (t: PreflightTarget) => check(healthy({ firewalld: 'active' }), 'firewalld/active', t).reason;
    expect(check(healthy({ firewalld: 'active' }), 'firewalld/active').status).toBe('warn');
    expect(reason(target())).toMatch(/6443\/tcp.*10250\/tcp.*8472\/udp \(VXLAN\)/);
    expect(reason(target({ cni: 'calico' }))).toMatch(/179\/tcp \(BGP\), IP protocol 4 \(IPIP\)/);
    expect(reason(target({ cni: 'calico', calicoMode: 'bgp' }))).not.toContain('IPIP');
    expect(reason(target({ role: 'worker' }))).not.toContain('6443');
    // canal: flannel's VXLAN only (felix runs without BGP)
    expect(reason(target({ cni: 'canal' }))).toMatch(/8472\/udp \(VXLAN\)/);
    expect(reason(target({ cni: 'canal' }))).not.toContain('179');
  });
});

describe('runtime', () => {
  it("reads runc's SystemdCgroup from containerd's config (v2 and v3 layouts, comments ignored)", () => {
    expect(containerdCgroupDriver(SYSTEMD_CONTAINERD)).toBe('systemd');
    expect(containerdCgroupDriver(`version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n`)).toBe('systemd');
    expect(containerdCgroupDriver(SYSTEMD_CONTAINERD.replace('  SystemdCgroup', '  # SystemdCgroup'))).toBe('cgroupfs');
    expect(containerdCgroupDriver(`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]\n  SystemdCgroup = true\n`)).toBe('cgroupfs');
  });

  it('fails on a cgroup driver mismatch, a missing config and an unreachable socket', () => {
    expect(check(healthy({ containerdConfig: undefined }), 'runtime/cgroup-driver').status).toBe('fail');
    expect(check(healthy({ containerdConfig: SYSTEMD_CONTAINERD.replace('true', 'false') }), 'runtime/cgroup-driver').status).toBe('fail');
    const r = check(healthy({ cri: { socket: '/var/run/containerd/containerd.sock', reachable: false, detail: 'connection refused' } }), 'runtime/cri-socket');
    expect(r.status).toBe('fail');
    expect(r.reason).toContain('connection refused');
  });
});

describe('binaries and the version skew policy', () => {
  it.each([
    ['kubeadm', '1.34.0', '1.34.2', true],
    ['kubeadm', '1.33.5', '1.34.2', false],
    ['kubeadm', '1.35.0', '1.34.2', false],
    ['kubelet', '1.34.2', '1.34.2', true],
    ['kubelet', '1.31.9', '1.34.2', true],
    ['kubelet', '1.30.0', '1.34.2', false],
    ['kubelet', '1.35.0', '1.34.2', false],
    ['kubectl', '1.33.1', '1.34.2', true],
    ['kubectl', '1.35.1', '1.34.2', true],
    ['kubectl', '1.32.4', '1.34.2', false],
  ] as const)('%s %s with Kubernetes %s fits: %s', (tool, version, cp, ok) => {
    expect(skewProblem(tool, version, cp) === undefined).toBe(ok);
  });

  it('kubeadm and kubelet out of skew fail, kubectl only warns; a missing kubectl fails only control planes', () => {
    const facts = healthy({ versions: { kubeadm: '1.33.1', kubelet: '1.35.0', kubectl: '1.31.0' } });
    const results = checkHost(facts, target());
    expect(['versions/kubeadm', 'versions/kubelet', 'versions/kubectl'].map((id) => byId(results, id).status)).toEqual(['fail', 'fail', 'warn']);
    const noKubectl = healthy({ binaries: { ...healthy().binaries, kubectl: false } });
    expect(check(noKubectl, 'versions/kubectl').status).toBe('fail');
    expect(check(noKubectl, 'versions/kubectl', target({ role: 'worker' })).status).toBe('warn');
  });

  it('needs conntrack only below 1.32; ethtool, socat and tc only warn', () => {
    expect(ids(checkHost(healthy(), target({ version: '1.31.4' })), 'binaries/')).toContain('binaries/conntrack');
    expect(ids(checkHost(healthy(), target({ version: '1.32.0' })), 'binaries/')).not.toContain('binaries/conntrack');
    const missing = healthy({ binaries: {} });
    const statuses = Object.fromEntries(checkHost(missing, target()).filter((r) => r.id.startsWith('binaries/')).map((r) => [r.id.slice(9), r.status]));
    expect(statuses).toEqual({ ip: 'fail', iptables: 'fail', mount: 'fail', nsenter: 'fail', ethtool: 'warn', socat: 'warn', tc: 'warn' });
  });
});

describe('leftover CNI configuration', () => {
  it("fails on another CNI's config (the leftover Calico trap) and removes it as the fix", () => {
    const r = check(healthy({ cniConfigs: ['10-calico.conflist', '10-flannel.conflist', 'calico-kubeconfig'] }), 'cni/leftover-config');
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(/10-calico.conflist, calico-kubeconfig.*take over from flannel/);
    expect(r.fix!.effects).toEqual([
      { kind: 'remove', path: '/etc/cni/net.d/10-calico.conflist' },
      { kind: 'remove', path: '/etc/cni/net.d/calico-kubeconfig' },
    ]);
  });

  it("accepts the chosen CNI's own files and only warns about configs it does not know", () => {
    expect(check(healthy({ cniConfigs: ['10-calico.conflist', 'calico-kubeconfig'] }), 'cni/leftover-config', target({ cni: 'calico' })).status).toBe('pass');
    expect(check(healthy({ cniConfigs: ['87-podman-bridge.conflist'] }), 'cni/leftover-config').status).toBe('warn');
  });

  it("canal's install-cni writes 10-canal.conflist and calico-kubeconfig: its own; Calico's conflist or flannel's is another CNI's", () => {
    expect(check(healthy({ cniConfigs: ['10-canal.conflist', 'calico-kubeconfig'] }), 'cni/leftover-config', target({ cni: 'canal' })).status).toBe('pass');
    const r = check(healthy({ cniConfigs: ['10-canal.conflist', '10-flannel.conflist', 'calico-kubeconfig'] }), 'cni/leftover-config', target({ cni: 'canal' }));
    expect([r.status, r.fix!.effects]).toEqual(['fail', [{ kind: 'remove', path: '/etc/cni/net.d/10-flannel.conflist' }]]);
    expect(check(healthy({ cniConfigs: ['10-canal.conflist'] }), 'cni/leftover-config', target({ cni: 'calico' })).status).toBe('fail');
  });
});

describe('SELinux', () => {
  it('warns when enforcing; the fix sets permissive now and in the config', () => {
    const config = '# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n';
    const r = check(healthy({ selinux: { enforcing: true, config } }), 'selinux/mode');
    expect(r.status).toBe('warn');
    expect(r.fix!.effects).toEqual([
      { kind: 'file', path: '/etc/selinux/config', content: '# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n' },
      { kind: 'exec', argv: ['setenforce', '0'] },
    ]);
    expect(check(healthy({ selinux: { enforcing: false, config } }), 'selinux/mode').fix!.effects.map((e) => e.kind)).toEqual(['file']);
    expect(check(healthy({ selinux: { enforcing: false, config: config.replace('enforcing', 'permissive') } }), 'selinux/mode').status).toBe('pass');
  });
});

describe('fixes, --ignore and the verdict', () => {
  const broken = healthy({
    swaps: [{ name: '/dev/vdb1', sizeKiB: 1024 }],
    modules: { overlay: true },
    sysctls: { 'net.ipv4.ip_forward': '0' },
    listening: [10250],
  });

  it('plans failures only by default, warnings too with scope all, in check order (modules before sysctls)', () => {
    const results = checkHost(broken, target());
    expect(planFixes(results).map((s) => s.id)).toEqual([
      'preflight/fix/modules/br_netfilter',
      'preflight/fix/modules/vxlan',
      'preflight/fix/sysctl/ip_forward',
      'preflight/fix/sysctl/bridge-nf-call-iptables',
    ]);
    expect(planFixes(results, 'all').map((s) => s.id)).toEqual(['preflight/fix/swap/off', ...planFixes(results).map((s) => s.id)]);
    expect(fixHints(results)).toEqual(['add --fix to fix 4 failing checks (--dry-run shows how first)', 'add --fix all to also fix 1 warning']);
  });

  it('--ignore takes ids, groups and all; ignored failures neither block nor get fixed', () => {
    const results = checkHost(broken, target());
    expect(blockingFailures(results).map((r) => r.id)).toContain('ports/10250');
    const ignored = applyIgnores(results, ['modules', 'ports/10250']);
    expect(blockingFailures(ignored).map((r) => r.id)).toEqual(['sysctl/ip_forward', 'sysctl/bridge-nf-call-iptables']);
    expect(planFixes(ignored).map((s) => s.id)).toEqual(['preflight/fix/sysctl/ip_forward', 'preflight/fix/sysctl/bridge-nf-call-iptables']);
    expect(blockingFailures(applyIgnores(results, ['all']))).toEqual([]);
    expect(unknownIgnores(results, ['all', 'ports', 'swap/of', 'nope'])).toEqual(['swap/of', 'nope']);
  });

  it('prints a table without colour codes unless colour is on', () => {
    const results = applyIgnores(checkHost(broken, target()), ['ports']);
    const plain = formatResults(target(), results, false);
    expect(plain).not.toMatch(/\x1b\[/);
    expect(plain).toMatch(/^ {2}FAIL {2}ports\/10250 +TCP port 10250 \(kubelet\) is in use.*\(ignored\)$/m);
    expect(plain).toMatch(/^ {2}FAIL {2}sysctl\/ip_forward +.*\[fixable\]$/m);
    expect(plain).toMatch(/checks: \d+ passed, 1 warning, 5 failed \(1 ignored\)/);
    expect(formatResults(target(), results, true)).toMatch(/\x1b\[/);
  });
});

describe('parsers', () => {
  it('reads LISTEN sockets only from /proc/net/tcp', () => {
    const tcp = `  sl  local_address rem_address   st
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000
   1: 0A00000A:D2F4 0A000001:192B 01 00000000:00000000
   2: 0100007F:0979 00000000:0000 0A 00000000:00000000
`;
    expect(parseListeningPorts(tcp)).toEqual([8080, 2425]);
  });

  it('reads /proc files and tool output', () => {
    expect(parseSwaps('Filename Type Size Used Priority\n/swapfile file 2097148 0 -2\n')).toEqual([{ name: '/swapfile', sizeKiB: 2097148 }]);
    expect(parseSwaps('Filename Type Size Used Priority\n')).toEqual([]);
    expect(parseMemTotalMiB('MemTotal:        3855412 kB\n')).toBe(3765);
    expect(countCpus('processor\t: 0\nmodel\t: x\n\nprocessor\t: 1\n')).toBe(2);
    expect(parseOsRelease('NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')).toEqual({ id: 'ubuntu', prettyName: 'Ubuntu 22.04.4 LTS' });
    expect(parseSysctlOutput('net.ipv4.ip_forward = 1\nnet.ipv4.tcp_rmem = 4096\t131072\t6291456\n')).toEqual({
      'net.ipv4.ip_forward': '1',
      'net.ipv4.tcp_rmem': '4096 131072 6291456',
    });
    expect(parseBuiltinModules('kernel/net/bridge/br_netfilter.ko\nkernel/fs/overlayfs/overlay.ko.xz\n')).toEqual(new Set(['br_netfilter', 'overlay']));
    expect(firstVersion('Kubernetes v1.34.2\n')).toBe('1.34.2');
    expect(firstVersion('Client Version: v1.33.1\nKustomize Version: v5.6.0\n')).toBe('1.33.1');
    expect(parseForwardPolicy('-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n')).toBe('DROP');
  });
});
