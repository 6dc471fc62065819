/**
 * The one place that says in words what each effect kind does. Dry-run output and plan.txt are made
 * from the same effect data that `apply` executes, so they cannot drift apart.
 */
import { isSkipped } from './skip.js';
import type { Effect, Probe, Step, WaitTarget } from './types.js';

/** A POSIX shell word that is exactly `value`: single quotes, each `'` written as `'\''`. */
export const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;
/** Quote an argv element only where a shell reader would need it; the argv itself never meets a shell. */
export const quoteArg = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : shellQuote(a));
export const formatArgv = (argv: readonly string[]): string => argv.map(quoteArg).join(' ');

const describeWait = (t: WaitTarget): string => {
  switch (t.kind) {
    case 'node-ready':
      return `node ${t.node} to be Ready`;
    case 'rollout':
      return `${t.resource === 'daemonset' ? 'DaemonSet' : 'Deployment'} ${t.namespace}/${t.name} to roll out`;
    case 'crds-established':
      return `${t.names.length} CustomResourceDefinition${t.names.length === 1 ? '' : 's'} to be established`;
  }
};

/** Documents of a multi-document manifest (YAML or JSON ones), separated by `---` lines. */
const countObjects = (yaml: string): number => yaml.split(/^---[ \t]*$/m).filter((d) => /\S/.test(d.replace(/^\s*#.*$/gm, ''))).length;

const countLines = (s: string): number => s.split('\n').filter((l) => l.trim() !== '').length;

/** What an nft script does, counted from its commands: tables (re)created or deleted, elements added or deleted. */
function describeNftPayload(payload: string): string {
  const lines = payload.split('\n');
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
  const elementsOf = (re: RegExp) =>
    lines.filter((l) => re.test(l)).reduce((n, l) => n + (/\{(.*)\}/.exec(l)?.[1]?.split(',').filter((x) => x.trim()).length ?? 0), 0);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const created = count(/^table \S+ \S+ \{/);
  const parts = [
    created > 0 ? `${plural(created, 'table')} created or replaced, ${plural(elementsOf(/^\s*elements = /), 'element')}` : '',
    count(/^delete table /) > created ? `${plural(count(/^delete table /) - created, 'table')} deleted` : '',
    count(/^add element /) ? `${plural(elementsOf(/^add element /), 'element')} added` : '',
    count(/^delete element /) ? `${plural(elementsOf(/^delete element /), 'element')} deleted` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'nothing';
}

export function describeEffect(e: Effect): string {
  switch (e.kind) {
    case 'file':
      return `write ${e.path} (${Buffer.byteLength(e.content)} bytes${e.mode !== undefined ? `, mode ${e.mode.toString(8).padStart(4, '0')}` : ''})`;
    case 'remove':
      return `remove ${e.path}`;
    case 'copy':
      return `copy ${e.from} to ${e.to}${e.mode !== undefined ? ` (mode ${e.mode.toString(8).padStart(4, '0')})` : ''}`;
    case 'exec':
      return `run ${formatArgv(e.argv)}${e.stdin !== undefined ? ` (${countLines(e.stdin)} lines on stdin)` : ''}${e.logFile ? ` (log: ${e.logFile})` : ''}`;
    case 'sysctl':
      return `set sysctl ${e.key}=${e.value}`;
    case 'iptables': {
      const count = (op: string) => e.payload.split('\n').filter((l) => l.startsWith(`${op} `)).length;
      const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      const parts = [
        count('-A') + count('-I') > 0 || count('-D') + count('-X') === 0 ? plural(count('-A') + count('-I'), 'rule') : '',
        count('-D') ? `${plural(count('-D'), 'rule')} deleted` : '',
        count('-X') ? `${plural(count('-X'), 'chain')} deleted` : '',
      ].filter(Boolean);
      return `apply one iptables-restore --noflush transaction (${parts.join(', ')})`;
    }
    case 'nft':
      return `apply one nft transaction to table ${e.table} (${describeNftPayload(e.payload)})`;
    case 'kube-apply':
      return `kubectl apply --server-side ${e.name} (${countObjects(e.yaml)} objects)`;
    case 'kube-annotate':
      return `annotate node ${e.node} ${Object.entries(e.annotations).map(([k, v]) => (v === null ? `${k}-` : `${k}=${v}`)).join(' ')}`;
    case 'wait':
      return `wait up to ${e.timeoutS}s for ${describeWait(e.target)}`;
    case 'preflight':
      return `check this host for a ${e.role} (knit preflight); stop on a failed check`;
  }
}

export const describeProbe = (p: Probe): string =>
  p.kind === 'file-exists'
    ? `${p.path} exists`
    : p.kind === 'exec-ok'
      ? `\`${formatArgv(p.argv)}\` succeeds`
      : p.kind === 'apiserver-ready'
        ? `the API server of ${p.kubeconfig} is ready`
        : p.kind === 'kube-in-sync'
          ? `the cluster holds ${p.name} as rendered (kubectl diff --server-side)`
          : p.probes.map(describeProbe).join(' and ');

/** The plan as text: numbered steps, each effect on its own line. Used by --dry-run and plan.txt. */
export function formatPlan(title: string, steps: readonly Step[], skip: ReadonlySet<string> = new Set()): string {
  const lines = [title, ''];
  steps.forEach((s, i) => {
    const head = `[${i + 1}/${steps.length}] ${s.id} — ${s.title}`;
    if (isSkipped(s.id, skip)) return void lines.push(`${head} (skipped: --skip)`);
    lines.push(head);
    if (s.doneWhen) lines.push(`      already done when ${describeProbe(s.doneWhen)}`);
    for (const e of s.effects) lines.push(`      ${describeEffect(e)}`);
    if (s.note) lines.push(`      note: ${s.note}`);
  });
  return `${lines.join('\n')}\n`;
}
