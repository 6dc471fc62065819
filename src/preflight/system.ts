/** The machine itself: privileges, OS, kernel, cgroups, CPU and memory, hostname. */
import { nodeSchema } from '../spec/schema.js';
import { parseKernelRelease } from './parse.js';
import { LIMITS, minorOf } from './requirements.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

export const rootCheck = (f: HostFacts): CheckResult =>
  f.uid === 0 ? pass('system/root', 'running as root') : fail('system/root', `running as uid ${f.uid}; knit changes the host and must run as root`);

export const osCheck = (f: HostFacts): CheckResult =>
  f.os ? pass('system/os', f.os.prettyName) : warn('system/os', '/etc/os-release is missing: cannot tell which distribution this is');

/** kubeadm's rule: the LTS kernels 5.4, 5.10 and 5.15, and anything from 6.0 on, are validated. */
export function kernelValidated(release: string): boolean | undefined {
  const v = parseKernelRelease(release);
  if (!v) return undefined;
  return v.major >= 6 || (v.major === 5 && [4, 10, 15].includes(v.minor));
}

export function kernelCheck(f: HostFacts): CheckResult {
  const id = 'kernel/version';
  if (!f.kernelRelease) return warn(id, 'cannot read the kernel version (/proc/sys/kernel/osrelease)');
  const ok = kernelValidated(f.kernelRelease);
  if (ok) return pass(id, `kernel ${f.kernelRelease}`);
  return warn(id, `kernel ${f.kernelRelease} is not one kubeadm validates (5.4, 5.10, 5.15 or 6.0 and later)`);
}

export function cgroupCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'cgroup/version';
  if (f.cgroup === 'v2') return pass(id, 'cgroup v2 (unified hierarchy)');
  const version = t.spec.kubernetes.version;
  const boot = 'boot with systemd.unified_cgroup_hierarchy=1 to switch to cgroup v2';
  return (minorOf(version) ?? 0) >= LIMITS.cgroupV1FailsFromMinor
    ? fail(id, `cgroup v1: the kubelet of Kubernetes ${version} refuses to start on it; ${boot}`)
    : warn(id, `cgroup v1 is deprecated and unsupported from Kubernetes 1.${LIMITS.cgroupV1FailsFromMinor}; ${boot}`);
}

/** kubeadm holds only control planes to a minimum size. */
export function resourceChecks(f: HostFacts, t: PreflightTarget): CheckResult[] {
  if (t.role !== 'control-plane') return [];
  const cpu =
    f.cpus === undefined
      ? warn('resources/cpu', 'cannot count CPUs (/proc/cpuinfo)')
      : f.cpus >= LIMITS.minCpus
        ? pass('resources/cpu', `${f.cpus} CPUs`)
        : fail('resources/cpu', `${f.cpus} CPU; a control plane needs at least ${LIMITS.minCpus}`);
  const mem =
    f.memoryMiB === undefined
      ? warn('resources/memory', 'cannot read the memory size (/proc/meminfo)')
      : f.memoryMiB >= LIMITS.minMemoryMiB
        ? pass('resources/memory', `${f.memoryMiB} MiB of memory`)
        : fail('resources/memory', `${f.memoryMiB} MiB of memory; a control plane needs at least ${LIMITS.minMemoryMiB} MiB`);
  return [cpu, mem];
}

/** kubelet registers under the lowercased hostname unless the node is given a name. */
export function hostnameCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'host/hostname';
  const name = f.hostname.toLowerCase();
  if (nodeSchema.shape.name.safeParse(name).success) return pass(id, `hostname ${name} is a valid node name`);
  const bad = `hostname ${JSON.stringify(f.hostname)} is not a valid DNS-1123 node name (a-z, 0-9, "-", "."; at most 63 characters)`;
  return t.nodeName
    ? warn(id, `${bad}; the node registers as ${t.nodeName}`)
    : fail(id, `${bad}; set one with \`hostnamectl set-hostname\` or pass --node-name`);
}
