/** The container runtime: answering on its CRI socket, and using the same cgroup driver as kubelet (systemd). */
import { PREFLIGHT_PATHS } from './requirements.js';
import { fail, pass, warn } from './result.js';
import type { CheckResult, HostFacts, PreflightTarget } from './types.js';

const runtimeName = (socket: string): string =>
  socket.includes('containerd') ? 'containerd' : socket.includes('crio') ? 'CRI-O' : 'the container runtime';

/** runc's cgroup driver in containerd's config.toml (any config version); containerd's default is cgroupfs. */
export function containerdCgroupDriver(config: string): 'systemd' | 'cgroupfs' {
  let section = '';
  for (const raw of config.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const header = /^\[+([^\]]+)\]+$/.exec(line);
    if (header) section = header[1]!.replace(/["'\s]/g, '');
    else if (section.endsWith('runtimes.runc.options')) {
      const m = /^SystemdCgroup\s*=\s*(true|false)$/.exec(line);
      if (m) return m[1] === 'true' ? 'systemd' : 'cgroupfs';
    }
  }
  return 'cgroupfs';
}

export function criSocketCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'runtime/cri-socket';
  const { criSocket } = t.spec.kubernetes;
  if (f.cri.reachable) return pass(id, `${runtimeName(criSocket)} answers on ${criSocket}`);
  return fail(id, `nothing answers on ${criSocket}${f.cri.detail ? ` (${f.cri.detail})` : ''}: install and start ${runtimeName(criSocket)}`);
}

export function cgroupDriverCheck(f: HostFacts, t: PreflightTarget): CheckResult {
  const id = 'runtime/cgroup-driver';
  const runtime = runtimeName(t.spec.kubernetes.criSocket);
  if (runtime !== 'containerd') return warn(id, `knit reads only containerd's cgroup driver: make sure ${runtime} uses systemd, like kubelet`);
  const path = PREFLIGHT_PATHS.containerdConfig;
  if (f.containerdConfig === undefined)
    return fail(id, `${path} is missing, so containerd uses cgroupfs but kubelet uses systemd: write \`containerd config default\` there and set SystemdCgroup = true`);
  if (containerdCgroupDriver(f.containerdConfig) === 'systemd') return pass(id, 'containerd and kubelet both use the systemd cgroup driver');
  return fail(id, `containerd uses cgroupfs but kubelet uses systemd: set SystemdCgroup = true under runtimes.runc.options in ${path} and restart containerd`);
}
