/** Keeps the boundary honest: planning and rendering code does no I/O and loads no heavy adapter. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', 'src');
const PURE = ['spec', 'plan', 'runner', 'kubeadm', 'render', 'crossvpc', 'preflight', 'cni', 'verify', 'netcheck', 'doctor'];
/** The cloud adapter's pure half: Terway's pod budget, the cloud checks, the RAM policy. */
const PURE_FILES = ['cloud/alicloud/max-pods.ts', 'cloud/alicloud/checks.ts', 'cloud/alicloud/ram-policy.ts', 'cloud/alicloud/security-groups.ts'];
const FORBIDDEN = [/^node:(fs|child_process|net|http|https|dgram)/, /^(fs|child_process)$/, /^execa$/, /^@alicloud\//, /^@inquirer\//, /\/(host|cluster|cloud)\//];

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

const imports = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);

describe('architecture', () => {
  const pureFiles = [...PURE.flatMap((d) => { try { return walk(join(src, d)); } catch { return []; } }), ...PURE_FILES.map((f) => join(src, f))];
  it('has pure code to check', () => expect(pureFiles.length).toBeGreaterThan(5));
  it.each(pureFiles.map((f) => relative(src, f)))('%s does no I/O', (file) => {
    const bad = imports(join(src, file)).filter((i) => FORBIDDEN.some((re) => re.test(i)));
    expect(bad).toEqual([]);
  });
  it('src/commands holds the verbs only (a file per command or sub-command of the CLI); their shared glue lives in src/command-support', () => {
    const cli = readFileSync(join(src, 'cli.ts'), 'utf8');
    // the wizard is what a bare `knit` (or `init --interactive`) runs
    const verbs = new Set(['wizard', ...[...cli.matchAll(/\.command\('([a-z-]+)'\)/g)].map((m) => m[1]!)]);
    const files = readdirSync(join(src, 'commands')).map((f) => f.replace(/\.ts$/, ''));
    expect(files.filter((f) => !verbs.has(f) && !f.split('-').every((part) => verbs.has(part)))).toEqual([]);
    expect(files.length).toBeGreaterThan(8);
  });
  it('the CLI entry loads only commander and option definitions up front', () => {
    const staticImports = [...readFileSync(join(src, 'cli.ts'), 'utf8').matchAll(/^import (?!type)[^'"]*from '([^']+)'/gm)].map((m) => m[1]);
    expect(staticImports.sort()).toEqual(['./command-support/options.js', 'commander', 'node:fs']);
  });
});
