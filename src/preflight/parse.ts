/** Parsers for the text the probes read (/proc files, tool output). Pure, so tests feed them strings. */
import type { SwapArea } from './types.js';

/** /etc/os-release: KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): { id: string; prettyName: string } {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/^([A-Z_]+)=(?:"([^"]*)"|'([^']*)'|(.*))$/gm)) fields.set(m[1]!, m[2] ?? m[3] ?? m[4] ?? '');
  const id = fields.get('ID') ?? 'linux';
  return { id, prettyName: fields.get('PRETTY_NAME') ?? `${fields.get('NAME') ?? id} ${fields.get('VERSION_ID') ?? ''}`.trim() };
}

/** `5.10.134-16.al8.x86_64` → { major: 5, minor: 10 } */
export function parseKernelRelease(release: string): { major: number; minor: number } | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** MemTotal from /proc/meminfo (kB there means KiB), in MiB as kubeadm counts it. */
export function parseMemTotalMiB(meminfo: string): number | undefined {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

/** Logical CPUs: one `processor : N` stanza each in /proc/cpuinfo (x86 and arm64 alike). */
export function countCpus(cpuinfo: string): number | undefined {
  const n = cpuinfo.match(/^processor\s*:/gm)?.length ?? 0;
  return n > 0 ? n : undefined;
}

/** /proc/swaps: a header line, then `name type size used priority`. */
export function parseSwaps(text: string): SwapArea[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && f[0] !== '')
    .map((f) => ({ name: f[0]!, sizeKiB: Number(f[2]) }));
}

/** Module names from /proc/modules (the first field of each line). */
export const parseProcModules = (text: string): Set<string> =>
  new Set(text.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));

/** Module names from modules.builtin (`kernel/net/bridge/br_netfilter.ko`). */
export const parseBuiltinModules = (text: string): Set<string> =>
  new Set(text.split('\n').map((l) => /([^/]+)\.ko(?:\.\w+)?$/.exec(l.trim())?.[1]).filter((x): x is string => x !== undefined));

const TCP_LISTEN = '0A';

/** Local ports of LISTEN sockets in /proc/net/tcp or tcp6 (`sl local_address rem_address st …`, hex). */
export function parseListeningPorts(text: string): number[] {
  const ports: number[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const port = f[1]?.split(':')[1];
    if (f[3] === TCP_LISTEN && port) ports.push(parseInt(port, 16));
  }
  return ports;
}

/** `sysctl KEY…` output (`key = value` lines); whitespace inside values normalized as `sysctl -n` readers do. */
export function parseSysctlOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^(\S+) = (.*)$/gm)) out[m[1]!] = m[2]!.trim().replace(/\s+/g, ' ');
  return out;
}

/** The first `x.y.z` (optionally `v`-prefixed) in a tool's version output. */
export const firstVersion = (text: string): string | undefined => /\bv?(\d+\.\d+\.\d+)/.exec(text)?.[1];

/** The policy of the FORWARD chain in `iptables -S FORWARD` output. */
export const parseForwardPolicy = (text: string): string | undefined => /^-P FORWARD (\S+)/m.exec(text)?.[1];
