/**
 * Preflight's vocabulary: what the probes found on the host (HostFacts), what a check concluded
 * (CheckResult), and what the checks are run against (PreflightTarget). Plain data, no I/O.
 */
import type { Effect } from '../runner/types.js';
import type { CniPlugin, Spec } from '../spec/schema.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

/** How knit can remediate a check: a titled list of effects, run as step `preflight/fix/<check id>`. */
export interface Fix {
  title: string;
  effects: Effect[];
  note?: string;
}

export interface CheckResult {
  /** Stable `group/name` id, named by `--ignore`. */
  id: string;
  status: CheckStatus;
  /** One line: what was found and, when not passing, why it matters. */
  reason: string;
  fix?: Fix;
  /** Set by `--ignore`: a failure that is reported but does not fail the run (or get fixed). */
  ignored?: boolean;
}

export type Role = 'control-plane' | 'worker';

/** The parts of the cluster spec preflight needs. A full `Spec` fits. */
export interface PreflightSpec {
  /** imageRepository: where kubeadm pulls from (registry.k8s.io when absent). */
  kubernetes: Pick<Spec['kubernetes'], 'version' | 'criSocket'> & Partial<Pick<Spec['kubernetes'], 'imageRepository'>>;
  network: Pick<Spec['network'], 'flannel' | 'calico' | 'canal'>;
}

export interface PreflightTarget {
  spec: PreflightSpec;
  role: Role;
  cni: CniPlugin;
  /** The node name when given explicitly (kubelet then registers under it, not under the hostname). */
  nodeName?: string;
  /** The node has peers outside its VPC: knit's cross-VPC address map (nftables) must load. */
  crossVpc?: boolean;
}

export interface SwapArea {
  name: string;
  sizeKiB: number;
}

/** Everything the checks look at, gathered by the probes (src/host/probe.ts) in one pass. */
export interface HostFacts {
  uid: number;
  hostname: string;
  os?: { id: string; prettyName: string };
  /** `uname -r`, from /proc/sys/kernel/osrelease. */
  kernelRelease?: string;
  /** v2 when /sys/fs/cgroup is the unified hierarchy (cgroup.controllers exists there). */
  cgroup: 'v1' | 'v2';
  cpus?: number;
  memoryMiB?: number;
  /** Active swap areas (/proc/swaps). */
  swaps: SwapArea[];
  /** /etc/fstab as it is (a fix rewrites it). */
  fstab?: string;
  /** Each module preflight knows of (KNOWN_MODULES): loaded or built into the kernel. */
  modules: Record<string, boolean>;
  /** Live values of KNOWN_SYSCTLS; absent when the key does not exist (e.g. br_netfilter not loaded). */
  sysctls: Record<string, string | undefined>;
  /** `nft --version`'s version, read only when a check needs it (cross-VPC); null when nft is not installed. */
  nftVersion?: string | null;
  /** The iptables FORWARD chain policy, read only when a check needs it (Terway). */
  forward?: {
    backend: 'nft' | 'legacy';
    policy: string;
    /** The iptables command of that backend (iptables-nft, iptables-legacy; plain iptables before 1.8); iptables-<backend> when absent. */
    command?: string;
  };
  /** `enforcing` is undefined when SELinux is not enabled in the kernel. */
  selinux: { enforcing?: boolean; config?: string };
  /** `systemctl is-active firewalld`; undefined when systemctl could not say. */
  firewalld?: string;
  cri: { socket: string; reachable: boolean; detail?: string };
  containerdConfig?: string;
  /** The files containerd's config imports (its `imports`, globs expanded), in containerd's order. */
  containerdImports?: ContainerdFile[];
  /** Each binary preflight knows of (KNOWN_BINARIES): found as an executable on PATH. */
  binaries: Record<string, boolean>;
  /** Versions (x.y.z) of kubeadm, kubelet and kubectl that are on PATH and report one. */
  versions: Partial<Record<KubeTool, string>>;
  /** TCP ports in LISTEN state (IPv4 and IPv6). */
  listening: number[];
  /** File names in /etc/cni/net.d. */
  cniConfigs: string[];
}

export interface ContainerdFile {
  path: string;
  content: string;
}

export type KubeTool = 'kubeadm' | 'kubelet' | 'kubectl';
