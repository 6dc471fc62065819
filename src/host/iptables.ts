/**
 * iptables adapter. Hosts run either the nf_tables or the legacy backend; rules written to the wrong
 * one are invisible to the other. Like Kubernetes' iptables-wrapper, knit uses the backend that already
 * holds the most rules (kubelet and kube-proxy have written there), falling back to what `iptables`
 * itself reports.
 */
import { NAT_TABLE, parseLegacyNat, type LegacyNatState } from '../crossvpc/legacy.js';
import type { Argv } from '../runner/types.js';
import type { Exec } from './exec.js';

export type IptablesBackendName = 'nft' | 'legacy';

const countRules = async (exec: Exec, save: string): Promise<number> => {
  try {
    const r = await exec([save, '-t', 'nat']);
    return r.exitCode === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('-A ')).length : -1;
  } catch {
    return -1; // that backend's tools are not installed
  }
};

const backendCache = new WeakMap<Exec, Promise<IptablesBackendName>>();

export function detectIptablesBackend(exec: Exec): Promise<IptablesBackendName> {
  let cached = backendCache.get(exec);
  if (!cached) {
    cached = (async () => {
      const [nft, legacy] = await Promise.all([countRules(exec, 'iptables-nft-save'), countRules(exec, 'iptables-legacy-save')]);
      if (nft > 0 || legacy > 0) return legacy > nft ? 'legacy' : 'nft';
      const v = await exec(['iptables', '--version']).catch(() => undefined);
      return v?.stdout.includes('legacy') ? 'legacy' : 'nft';
    })();
    backendCache.set(exec, cached);
  }
  return cached;
}

export async function iptablesRestoreArgv(exec: Exec): Promise<Argv> {
  return [`iptables-${await detectIptablesBackend(exec)}-restore`, '--noflush'];
}

export async function iptablesSave(exec: Exec, table = 'nat'): Promise<string> {
  const r = await exec([`iptables-${await detectIptablesBackend(exec)}-save`, '-t', table]);
  if (r.exitCode !== 0) throw new Error(`iptables-save -t ${table} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The lines of iptables-save that belong to the given chains (their rules and the jumps into them). */
export async function iptablesSaveChains(exec: Exec, chains: readonly string[], table = 'nat'): Promise<string> {
  const names = new Set(chains);
  return (await iptablesSave(exec, table))
    .split('\n')
    .filter((l) => {
      const m = /^(?::(\S+)|-A (\S+)(?:.* -j (\S+))?)/.exec(l);
      return m !== null && (names.has(m[1] ?? '') || names.has(m[2] ?? '') || names.has(m[3] ?? ''));
    })
    .map((l) => l.replace(/\[\d+:\d+\]$/, '')) // packet counters change on their own
    .join('\n');
}

/** The iptables nat chains of earlier knit versions and the jumps into them, as the live table has them. */
export async function readLegacyNat(exec: Exec): Promise<LegacyNatState> {
  return parseLegacyNat(await iptablesSave(exec, NAT_TABLE));
}

/** The tables and chains an iptables-restore payload touches (declares, or adds/deletes rules in). */
export function touchedChains(payload: string): Map<string, Set<string>> {
  const touched = new Map<string, Set<string>>();
  let chains: Set<string> | undefined;
  for (const line of payload.split('\n')) {
    const table = /^\*(\S+)/.exec(line)?.[1];
    if (table) touched.set(table, (chains = touched.get(table) ?? new Set()));
    const m = /^(?::(\S+)|-[ADIRFXZ] (\S+))/.exec(line);
    if (m && chains) chains.add((m[1] ?? m[2])!);
  }
  return touched;
}

/** What a payload can change, as the host has it now: compare before and after to know if it did. */
export async function snapshotTouched(exec: Exec, payload: string): Promise<string> {
  const parts = await Promise.all([...touchedChains(payload)].map(async ([table, chains]) => `*${table}\n${await iptablesSaveChains(exec, [...chains], table)}`));
  return parts.join('\n');
}
