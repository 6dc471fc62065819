/**
 * iptables adapter. Hosts run either the nf_tables or the legacy backend; rules written to the wrong
 * one are invisible to the other. Like Kubernetes' iptables-wrapper, knit uses the backend that already
 * holds the most rules (kubelet and kube-proxy have written there), falling back to what `iptables`
 * itself reports. iptables before 1.8 (CentOS 7's 1.4.21) has no -nft/-legacy variants at all: only
 * plain `iptables`, `iptables-save` and `iptables-restore`, which are the legacy backend.
 */
import { NAT_TABLE, parseLegacyNat, type LegacyNatState } from '../crossvpc/legacy.js';
import type { Argv } from '../runner/types.js';
import { CommandNotFoundError, type Exec } from './exec.js';

export type IptablesBackendName = 'nft' | 'legacy';

export interface IptablesBackend {
  name: IptablesBackendName;
  /** Its `iptables` command (`-save`/`-restore` are named after it): iptables-nft, iptables-legacy, or plain iptables. */
  command: string;
}

/** Rules in a backend's nat table; -1 when it cannot say (not root), `missing` when its tools are not installed. */
const countRules = async (exec: Exec, save: string): Promise<number | 'missing'> => {
  try {
    const r = await exec([save, '-t', 'nat']);
    return r.exitCode === 0 ? r.stdout.split('\n').filter((l) => l.startsWith('-A ')).length : -1;
  } catch (e) {
    return e instanceof CommandNotFoundError ? 'missing' : -1;
  }
};

/** `iptables --version`: "iptables v1.8.9 (nf_tables)", "iptables v1.8.9 (legacy)", or "iptables v1.4.21" (legacy only). */
const backendOfVersion = (stdout: string | undefined): IptablesBackendName => (stdout?.includes('nf_tables') ? 'nft' : 'legacy');

const backendCache = new WeakMap<Exec, Promise<IptablesBackend>>();

export function detectIptables(exec: Exec): Promise<IptablesBackend> {
  let cached = backendCache.get(exec);
  if (!cached) {
    cached = (async (): Promise<IptablesBackend> => {
      const [nft, legacy] = await Promise.all([countRules(exec, 'iptables-nft-save'), countRules(exec, 'iptables-legacy-save')]);
      const variant = (name: IptablesBackendName): IptablesBackend => ({ name, command: `iptables-${name}` });
      const n = nft === 'missing' ? -1 : nft;
      const l = legacy === 'missing' ? -1 : legacy;
      if (n > 0 || l > 0) return variant(l > n ? 'legacy' : 'nft');
      const version = (await exec(['iptables', '--version']).catch(() => undefined))?.stdout;
      // no variants (iptables < 1.8): plain iptables is the only tool there is
      if (nft === 'missing' && legacy === 'missing') return { name: backendOfVersion(version), command: 'iptables' };
      if (nft === 'missing' || legacy === 'missing') return variant(nft === 'missing' ? 'legacy' : 'nft');
      return variant(version?.includes('legacy') ? 'legacy' : 'nft');
    })();
    backendCache.set(exec, cached);
  }
  return cached;
}

export async function iptablesRestoreArgv(exec: Exec): Promise<Argv> {
  return [`${(await detectIptables(exec)).command}-restore`, '--noflush'];
}

/** What to do when an iptables tool is missing (the package is `iptables` on Debian, Ubuntu, RHEL and Alibaba Cloud Linux). */
export const IPTABLES_INSTALL_HINT = 'install iptables (apt-get install iptables, or dnf/yum install iptables)';

export async function iptablesSave(exec: Exec, table = 'nat'): Promise<string> {
  const r = await exec([`${(await detectIptables(exec)).command}-save`, '-t', table]).catch((e: unknown) => {
    throw e instanceof CommandNotFoundError ? new CommandNotFoundError(`${e.message}; ${IPTABLES_INSTALL_HINT}`) : e;
  });
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
