/**
 * Skips that say why. A test or suite that needs a tool, root or a kernel feature asks for it here
 * (needTools, needRoot, or a probe such as probeLabSupport) and is declared with `skipUnless(support)`
 * as its options: where support is missing it is skipped, and the reason travels in the task's meta
 * (`skipReason`, inherited by every test of a suite) to test/helpers/skip-reporter.ts, which prints
 * each reason, with the number of tests it skipped, at the end of the run.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestOptions } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test was skipped: set by skipUnless, printed by the skip reporter. */
    skipReason?: string;
  }
}

export interface Support {
  ok: boolean;
  reason?: string;
}

/** The Debian package of each tool the tests drive, for the reason's install hint. */
const PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  ss: 'iproute2',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  nft: 'nftables',
  sysctl: 'procps',
  modprobe: 'kmod',
  ping: 'iputils-ping',
  tmux: 'tmux',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  tcpdump: 'tcpdump',
  setpriv: 'util-linux',
  nsenter: 'util-linux',
  flock: 'util-linux',
  'cloud-init': 'cloud-init',
  sha256sum: 'coreutils',
};

/** The path of `tool` as a spawn would find it on PATH (an executable file), or undefined. */
export function onPath(tool: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, tool);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** ok when every tool is on PATH; otherwise names the missing ones and the packages that have them. */
export function needTools(tools: readonly string[]): Support {
  const missing = tools.filter((t) => onPath(t) === undefined);
  if (missing.length === 0) return { ok: true };
  const packages = [...new Set(missing.map((t) => PACKAGES[t] ?? t))];
  return { ok: false, reason: `needs ${missing.join(', ')}: not on PATH (apt-get install ${packages.join(' ')})` };
}

/** ok when running as root; `why` says what needs it. */
export const needRoot = (why: string): Support =>
  process.getuid?.() === 0 ? { ok: true } : { ok: false, reason: `needs root (${why})` };

/** The first support that is missing, or ok. */
export const allOf = (...supports: Support[]): Support => supports.find((s) => !s.ok) ?? { ok: true };

/** Options for describe/it: skipped, with the reason recorded for the skip reporter, unless supported. */
export function skipUnless(support: Support): TestOptions {
  return support.ok ? {} : { skip: true, meta: { skipReason: support.reason ?? 'not supported here' } };
}
