/**
 * What Kubernetes and the chosen CNI need from a host, by role and CNI: kernel modules, sysctls, free
 * ports, firewall openings, binaries. Also the files preflight's fixes write and the limits it holds
 * the host to (kubeadm's own numbers).
 */
import { formatNeed, PLUGINS } from '../cni/index.js';
import { KUBERNETES } from '../defaults.js';
import { parseVersion } from '../spec/schema.js';
import type { KubeTool, PreflightTarget } from './types.js';

export const PREFLIGHT_PATHS = {
  /** Modules loaded at boot by systemd-modules-load. */
  modulesLoad: '/etc/modules-load.d/knit.conf',
  /** Sysctls applied at boot by systemd-sysctl; 90 sorts after the distribution's 50-default.conf. */
  sysctl: '/etc/sysctl.d/90-knit.conf',
  fstab: '/etc/fstab',
  selinuxConfig: '/etc/selinux/config',
  containerdConfig: '/etc/containerd/config.toml',
} as const;

export const LIMITS = {
  /** kubeadm's NumCPU and Mem checks for control planes. */
  minCpus: 2,
  minMemoryMiB: 1700,
  /** Kubernetes 1.35's kubelet refuses to start on cgroup v1. */
  cgroupV1FailsFromMinor: 35,
  /** kube-proxy stopped needing conntrack on PATH in 1.32. */
  conntrackUntilMinor: 32,
  /** Version skew policy: kubelet up to 3 minors older than the control plane, kubectl ±1. */
  kubeletMaxOlderMinors: 3,
  kubectlMaxSkewMinors: 1,
} as const;

export const minorOf = (version: string): number | undefined => parseVersion(version)?.minor;

/** Kubernetes' own kernel-module needs and each CNI mode's tunnel device. */
const MODULE_PURPOSE: Record<string, string> = {
  br_netfilter: 'bridged pod traffic must pass through iptables',
  overlay: "containerd's overlayfs snapshotter needs it",
  vxlan: 'the VXLAN overlay needs it',
  ipip: "Calico's IP-in-IP tunnel needs it",
  wireguard: "flannel's WireGuard backend needs it",
  nf_tables: "knit's cross-VPC address map runs in nftables",
};
export const KNOWN_MODULES = Object.keys(MODULE_PURPOSE);
/** The first kernel with WireGuard in it (built in or as the `wireguard` module). */
export const WIREGUARD_SINCE = { major: 5, minor: 6 } as const;
export const modulePurpose = (name: string): string => MODULE_PURPOSE[name] ?? 'the chosen CNI needs it';

function tunnelModules(t: PreflightTarget): string[] {
  const { flannel, calico } = t.spec.network;
  if (t.cni === 'flannel') return flannel.backend === 'vxlan' ? ['vxlan'] : flannel.backend === 'wireguard' ? ['wireguard'] : [];
  if (t.cni === 'calico') return calico.mode === 'vxlan' ? ['vxlan'] : calico.mode === 'bgp' ? [] : ['ipip'];
  if (t.cni === 'canal') return ['vxlan']; // flannel's VXLAN; felix only programs policy
  return []; // Terway gives pods ENI addresses: no tunnel
}

export const requiredModules = (t: PreflightTarget): string[] => ['br_netfilter', 'overlay', ...tunnelModules(t), ...(t.crossVpc ? ['nf_tables'] : [])];

/** The oldest nft that has everything knit's map uses (maps, payload mangling, `tcp option maxseg size set`). */
export const MIN_NFT_VERSION = { major: 0, minor: 9 } as const;

export const BRIDGE_NF_CALL_IPTABLES = 'net.bridge.bridge-nf-call-iptables';

export interface SysctlGroup {
  /** Check id. */
  id: string;
  values: { key: string; value: string }[];
  why: string;
}

const SYSCTL_GROUPS: (SysctlGroup & { cni?: PreflightTarget['cni'] })[] = [
  { id: 'sysctl/ip_forward', values: [{ key: 'net.ipv4.ip_forward', value: '1' }], why: 'nodes must route pod traffic' },
  { id: 'sysctl/bridge-nf-call-iptables', values: [{ key: BRIDGE_NF_CALL_IPTABLES, value: '1' }], why: 'bridged pod traffic must pass through iptables (services, policies)' },
  {
    id: 'sysctl/rp_filter',
    cni: 'terway',
    values: [{ key: 'net.ipv4.conf.all.rp_filter', value: '0' }, { key: 'net.ipv4.conf.default.rp_filter', value: '0' }],
    why: 'Terway routes pod replies out of a different ENI than they came in on',
  },
];

export const KNOWN_SYSCTLS = SYSCTL_GROUPS.flatMap((g) => g.values.map((v) => v.key));
export const sysctlGroups = (t: PreflightTarget): SysctlGroup[] => SYSCTL_GROUPS.filter((g) => g.cni === undefined || g.cni === t.cni);

/** What listens on each port a node's components bind. */
const PORT_OWNERS: Record<number, string> = {
  [KUBERNETES.apiServerPort]: 'kube-apiserver',
  10250: 'kubelet',
  10257: 'kube-controller-manager',
  10259: 'kube-scheduler',
  2379: 'etcd',
  2380: 'etcd',
};
export const portOwner = (port: number): string => PORT_OWNERS[port] ?? 'Kubernetes';

export const requiredFreePorts = (t: PreflightTarget): number[] =>
  t.role === 'control-plane' ? [KUBERNETES.apiServerPort, 10250, 10257, 10259, 2379, 2380] : [10250];

/** Openings a host firewall must allow between nodes, for the role and the CNI's datapath. */
export function firewallOpenings(t: PreflightTarget): string[] {
  const base = t.role === 'control-plane'
    ? [`${KUBERNETES.apiServerPort}/tcp`, '2379-2380/tcp', '10250/tcp', '10257/tcp', '10259/tcp']
    : ['10250/tcp', '30000-32767/tcp'];
  return [...base, ...PLUGINS[t.cni].needs(t.spec.network).map(formatNeed)];
}

export interface BinaryNeed {
  name: string;
  /** false: kubeadm only warns when it is missing. */
  required: boolean;
}

/** kubeadm's own PATH checks (cmd/kubeadm/app/preflight: addExecChecks). */
export function requiredBinaries(t: PreflightTarget): BinaryNeed[] {
  const minor = minorOf(t.spec.kubernetes.version) ?? KUBERNETES.maxMinor;
  return [
    ...(minor < LIMITS.conntrackUntilMinor ? ['conntrack'] : []),
    'ip', 'iptables', 'mount', 'nsenter',
  ].map((name) => ({ name, required: true })).concat(['ethtool', 'socat', 'tc'].map((name) => ({ name, required: false })));
}

export const KUBE_TOOLS: KubeTool[] = ['kubeadm', 'kubelet', 'kubectl'];
export const KNOWN_BINARIES = ['conntrack', 'ip', 'iptables', 'mount', 'nsenter', 'ethtool', 'socat', 'tc', ...KUBE_TOOLS];
