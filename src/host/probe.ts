/**
 * Preflight's probes: read-only questions to the host, asked all at once (Promise.all) and gathered
 * into HostFacts. Files are read under the host root (tests fake a host in a temporary directory);
 * processes run through Exec (tests fake them, or run them inside a network namespace). Live sysctls
 * are read with `sysctl`, not from /proc/sys, so that they follow Exec into a namespace.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { delimiter, posix } from 'node:path';
import { PATHS } from '../defaults.js';
import {
  countCpus,
  firstVersion,
  parseBuiltinModules,
  parseForwardPolicy,
  parseListeningPorts,
  parseMemTotalMiB,
  parseOsRelease,
  parseProcModules,
  parseSwaps,
  parseSysctlOutput,
} from '../preflight/parse.js';
import { KNOWN_BINARIES, KNOWN_MODULES, KNOWN_SYSCTLS, KUBE_TOOLS, PREFLIGHT_PATHS } from '../preflight/requirements.js';
import type { HostFacts, KubeTool } from '../preflight/types.js';
import type { Argv } from '../runner/types.js';
import { CommandNotFoundError, type Exec, type ExecResult } from './exec.js';
import { readContainerdImports } from './containerd.js';
import type { HostFiles } from './files.js';

export interface ProbeOptions {
  files: HostFiles;
  exec: Exec;
  /** spec.kubernetes.criSocket, e.g. unix:///var/run/containerd/containerd.sock (a path under the root). */
  criSocket: string;
  hostname: string;
  /** Directories searched for binaries, each under the host root, `:`-separated; default $PATH. */
  path?: string;
  uid?: number;
  /** Also read the iptables FORWARD policy (only Terway needs it; it costs a few processes). */
  forwardPolicy?: boolean;
  /** Also read nft's version (only nodes with cross-VPC peers need it). */
  nft?: boolean;
  socketTimeoutMs?: number;
}

const VERSION_ARGV: Record<KubeTool, Argv> = {
  kubeadm: ['kubeadm', 'version', '-o', 'short'],
  kubelet: ['kubelet', '--version'],
  kubectl: ['kubectl', 'version', '--client'],
};

/** A process's result, or undefined when its program is not installed. */
async function tryExec(exec: Exec, argv: Argv): Promise<ExecResult | undefined> {
  try {
    return await exec(argv);
  } catch (e) {
    if (e instanceof CommandNotFoundError) return undefined;
    throw e;
  }
}

const isExecutable = (path: string): Promise<boolean> =>
  access(path, constants.X_OK).then(() => stat(path).then((s) => s.isFile()), () => false);

async function findBinaries(files: HostFiles, path: string): Promise<Record<string, boolean>> {
  const dirs = path.split(delimiter).filter((d) => d.startsWith('/'));
  const found = await Promise.all(
    KNOWN_BINARIES.map(async (name) => (await Promise.all(dirs.map((d) => isExecutable(files.path(posix.join(d, name)))))).includes(true)),
  );
  return Object.fromEntries(KNOWN_BINARIES.map((name, i) => [name, found[i]!]));
}

async function readVersions(exec: Exec, binaries: Record<string, boolean>): Promise<HostFacts['versions']> {
  const tools = KUBE_TOOLS.filter((t) => binaries[t]);
  const outputs = await Promise.all(tools.map((t) => tryExec(exec, VERSION_ARGV[t])));
  return Object.fromEntries(tools.flatMap((t, i) => {
    const v = outputs[i]?.exitCode === 0 ? firstVersion(outputs[i]!.stdout) : undefined;
    return v ? [[t, v]] : [];
  }));
}

async function readModules(files: HostFiles, kernelRelease: string | undefined): Promise<Record<string, boolean>> {
  const [loaded, builtin, inSys] = await Promise.all([
    files.read('/proc/modules').then((t) => parseProcModules(t ?? '')),
    (kernelRelease ? files.read(`/lib/modules/${kernelRelease}/modules.builtin`) : Promise.resolve(undefined)).then((t) => parseBuiltinModules(t ?? '')),
    Promise.all(KNOWN_MODULES.map((m) => files.exists(`/sys/module/${m}`))),
  ]);
  return Object.fromEntries(KNOWN_MODULES.map((m, i) => [m, loaded.has(m) || builtin.has(m) || inSys[i]!]));
}

async function readSysctls(exec: Exec): Promise<Record<string, string>> {
  // -e: keys that do not exist (bridge ones without br_netfilter) are left out instead of failing the rest
  const r = await tryExec(exec, ['sysctl', '-e', ...KNOWN_SYSCTLS]);
  return r ? parseSysctlOutput(r.stdout) : {};
}

async function readNftVersion(exec: Exec): Promise<string | null> {
  const r = await tryExec(exec, ['nft', '--version']);
  // "nftables v1.0.6 (Lester Gooch #5)"; 0.9.x prints two or three numbers
  return r?.exitCode === 0 ? (/\bv(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout)?.[1] ?? null) : null;
}

async function readForward(exec: Exec): Promise<HostFacts['forward']> {
  const { detectIptables } = await import('./iptables.js');
  const { name: backend, command } = await detectIptables(exec);
  const r = await tryExec(exec, [command, '-S', 'FORWARD']);
  const policy = r?.exitCode === 0 ? parseForwardPolicy(r.stdout) : undefined;
  return policy ? { backend, command, policy } : undefined;
}

/** Whether something accepts a connection on the runtime's unix socket. */
function connectCri(files: HostFiles, criSocket: string, timeoutMs: number): Promise<HostFacts['cri']> {
  const socket = criSocket.replace(/^unix:\/\//, '');
  if (!socket.startsWith('/')) return Promise.resolve({ socket: criSocket, reachable: false, detail: 'knit can check only unix sockets' });
  return new Promise((resolve) => {
    const conn = createConnection({ path: files.path(socket) });
    const done = (reachable: boolean, detail?: string) => {
      conn.destroy();
      resolve(detail ? { socket, reachable, detail } : { socket, reachable });
    };
    conn.setTimeout(timeoutMs, () => done(false, `no answer within ${timeoutMs} ms`));
    conn.once('connect', () => done(true));
    conn.once('error', (e: NodeJS.ErrnoException) =>
      done(false, e.code === 'ENOENT' ? `${socket} does not exist` : e.code === 'ECONNREFUSED' ? 'connection refused' : (e.code ?? e.message)));
  });
}

async function listCniConfigs(files: HostFiles): Promise<string[]> {
  return readdir(files.path(PATHS.cniConfDir)).then((names) => names.sort(), () => []);
}

export async function probeHost(o: ProbeOptions): Promise<HostFacts> {
  const { files, exec } = o;
  const kernelRelease = files.read('/proc/sys/kernel/osrelease').then((t) => t?.trim() || undefined);
  const binaries = findBinaries(files, o.path ?? process.env.PATH ?? '');
  const [osRelease, release, cgroupV2, cpuinfo, meminfo, swaps, fstab, modules, sysctls, forward, nftVersion, enforce, selinuxConfig, firewalld, cri, containerdConfig, bins, versions, tcp, tcp6, cniConfigs] =
    await Promise.all([
      files.read('/etc/os-release').then((t) => t ?? files.read('/usr/lib/os-release')),
      kernelRelease,
      files.exists('/sys/fs/cgroup/cgroup.controllers'),
      files.read('/proc/cpuinfo'),
      files.read('/proc/meminfo'),
      files.read('/proc/swaps'),
      files.read(PREFLIGHT_PATHS.fstab),
      kernelRelease.then((r) => readModules(files, r)),
      readSysctls(exec),
      o.forwardPolicy ? readForward(exec) : undefined,
      o.nft ? readNftVersion(exec) : undefined,
      files.read('/sys/fs/selinux/enforce'),
      files.read(PREFLIGHT_PATHS.selinuxConfig),
      tryExec(exec, ['systemctl', 'is-active', 'firewalld']),
      connectCri(files, o.criSocket, o.socketTimeoutMs ?? 1000),
      files.read(PREFLIGHT_PATHS.containerdConfig).then(async (config) => ({ config, imports: await readContainerdImports(files, config) })),
      binaries,
      binaries.then((b) => readVersions(exec, b)),
      files.read('/proc/net/tcp'),
      files.read('/proc/net/tcp6'),
      listCniConfigs(files),
    ]);
  return {
    uid: o.uid ?? process.getuid?.() ?? 0,
    hostname: o.hostname,
    ...(osRelease !== undefined ? { os: parseOsRelease(osRelease) } : {}),
    ...(release !== undefined ? { kernelRelease: release } : {}),
    cgroup: cgroupV2 ? 'v2' : 'v1',
    cpus: cpuinfo !== undefined ? countCpus(cpuinfo) : undefined,
    memoryMiB: meminfo !== undefined ? parseMemTotalMiB(meminfo) : undefined,
    swaps: swaps !== undefined ? parseSwaps(swaps) : [],
    fstab,
    modules,
    sysctls,
    forward,
    ...(nftVersion !== undefined ? { nftVersion } : {}),
    selinux: { enforcing: enforce === undefined ? undefined : enforce.trim() === '1', config: selinuxConfig },
    firewalld: firewalld?.stdout.trim().split('\n')[0] || undefined,
    cri,
    containerdConfig: containerdConfig.config,
    ...(containerdConfig.imports.length ? { containerdImports: containerdConfig.imports } : {}),
    binaries: bins,
    versions,
    listening: [...new Set([...parseListeningPorts(tcp ?? ''), ...parseListeningPorts(tcp6 ?? '')])].sort((a, b) => a - b),
    cniConfigs,
  };
}
