/**
 * Benchmark: render the cross-VPC payload for 1000 peers and apply it with iptables-restore --noflush
 * in a throwaway network namespace. Imports the built code: run `npx tsc -p .` first.
 * Alone: `node test/bench/crossvpc.mjs`.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { renderCrossVpcRules } from '../../dist/lib/crossvpc/rules.js';
import { createExec } from '../../dist/lib/host/exec.js';
import { iptablesRestoreArgv, readCrossVpcState } from '../../dist/lib/host/iptables.js';
import { specSchema } from '../../dist/lib/spec/schema.js';

const PEERS = 1000;

/** The i-th address (1-based) of a block given as its first two octets, e.g. 198.18 (198.18.0.0/15). */
const nth = (firstTwo, i) => `${firstTwo}.${i >> 8}.${i & 255}`;

function thousandPeerSpec() {
  const peers = Array.from({ length: PEERS }, (_, k) => ({
    name: `peer-${String(k + 1).padStart(4, '0')}`,
    privateIP: nth('10.1', k + 1),
    publicIP: nth('198.18', k + 1), // RFC 2544 benchmarking range
    vpc: 'vpc-b',
  }));
  return specSchema.parse({
    kubernetes: { controlPlaneEndpoint: '203.0.113.10' },
    nodes: [{ name: 'local', role: 'control-plane', privateIP: '10.0.0.10', publicIP: '203.0.113.10', vpc: 'vpc-a' }, ...peers],
  });
}

const seconds = (since) => (performance.now() - since) / 1000;

export async function benchCrossVpc() {
  const name = `crossvpc: apply ${PEERS} peers (iptables-restore --noflush)`;
  if (process.getuid?.() !== 0) return { name, seconds: Number.NaN, skipped: 'needs root (ip netns)' };
  const host = createExec();
  const ns = `knit-bench-${randomBytes(3).toString('hex')}`;
  const added = await host(['ip', 'netns', 'add', ns]);
  if (added.exitCode !== 0) return { name, seconds: Number.NaN, skipped: `ip netns add failed: ${added.stderr.trim()}` };
  try {
    const exec = createExec({ prefix: ['ip', 'netns', 'exec', ns] });
    const renderStart = performance.now();
    const spec = thousandPeerSpec();
    const payload = renderCrossVpcRules(spec, 'local');
    const renderSeconds = seconds(renderStart);
    const argv = await iptablesRestoreArgv(exec);
    const start = performance.now();
    const r = await exec(argv, { stdin: payload });
    const applySeconds = seconds(start);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
    const state = await readCrossVpcState(exec);
    const rules = Object.values(state.chains).flat().length;
    if (rules !== 2 * PEERS || state.jumps.length !== 3) throw new Error(`applied ${rules} rules and ${state.jumps.length} jumps`);
    // a re-apply, as `knit crossvpc apply` does it: the jumps reconciled against the live table
    const reapplyStart = performance.now();
    const again = await exec(argv, { stdin: renderCrossVpcRules(spec, 'local', state) });
    const reapplySeconds = seconds(reapplyStart);
    if (again.exitCode !== 0) throw new Error(`re-apply failed: ${again.stderr}`);
    if (JSON.stringify(await readCrossVpcState(exec)) !== JSON.stringify(state)) throw new Error('re-apply changed the table');
    return { name, seconds: applySeconds, target: 0.5, renderSeconds, reapplySeconds, rules, note: `${rules} rules; re-apply ${(reapplySeconds * 1000).toFixed(1)} ms` };
  } finally {
    await host(['ip', 'netns', 'del', ns]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await benchCrossVpc());
