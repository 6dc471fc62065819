/**
 * Benchmark: `knit crossvpc apply` in a throwaway network namespace. The nft transaction alone (the whole
 * table) with 1,000, 5,000 and 10,000 peers; the whole command (first apply, then an unchanged re-apply)
 * with 1,000 and 4,999 peers (a spec of 5,000 nodes), as ratios to `node -e 0` started the same way (`ip netns exec`), in the same
 * run. A spec holds at most Kubernetes' 5,000 nodes, so the 10,000-peer table is built from its addresses
 * directly (the agent's path: peers from the cluster's Nodes, no spec).
 * Imports the built code: `npm run bench` builds it. Alone: `node test/bench/crossvpc.mjs`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nftOptions } from '../../dist/lib/crossvpc/plan.js';
import { parseNftTable, renderNftTable } from '../../dist/lib/crossvpc/nft.js';
import { specSchema } from '../../dist/lib/spec/schema.js';

const knit = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));
/** Peers of the local node: the largest is a spec of Kubernetes' 5,000 nodes. */
const SIZES = [1000, 4999];
const TRANSACTION_SIZES = [1000, 5000, 10000];
const RUNS = Number(process.env.BENCH_CROSSVPC_RUNS ?? 5);
/** Goals from the cross-VPC data-path issue: ratios of the whole command, and the transaction at 10,000. */
const GOALS = { 1000: 3, 4999: 10 };
const TRANSACTION_GOAL_S = 0.3;

/** The k-th address (1-based) of a /16-or-larger block given by its first octets. */
const nth = (a, b, k) => `${a}.${b + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;

function specYaml(peers) {
  const lines = ['kubernetes: { controlPlaneEndpoint: 203.0.113.10 }', 'nodes:', '  - { name: local, role: control-plane, privateIP: 10.0.0.10, publicIP: 203.0.113.10, vpc: vpc-a }'];
  for (let k = 1; k <= peers; k++)
    // 198.18.0.0/15: the benchmarking range
    lines.push(`  - { name: peer-${String(k).padStart(5, '0')}, privateIP: ${nth(10, 1, k)}, publicIP: ${nth(198, 18, k)}, vpc: vpc-b }`);
  return `${lines.join('\n')}\n`;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function timed(argv, { input, before } = {}) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    before?.();
    const t = performance.now();
    execFileSync(argv[0], argv.slice(1), { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    samples.push(performance.now() - t);
  }
  return median(samples) / 1000;
}

export async function benchCrossVpc() {
  const name = 'crossvpc apply';
  if (process.getuid?.() !== 0) return { name, seconds: Number.NaN, skipped: 'needs root (ip netns)' };
  const ns = `knit-bench-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'knit-bench-crossvpc-'));
  const inNs = (...argv) => ['ip', 'netns', 'exec', ns, ...argv];
  const sh = (argv, input) => execFileSync(argv[0], argv.slice(1), { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    sh(['ip', 'netns', 'add', ns]);
  } catch (e) {
    return { name, seconds: Number.NaN, skipped: `ip netns add failed: ${e.message.split('\n')[0]}` };
  }
  const results = [];
  try {
    const baseline = timed(inNs('node', '-e', '0'));
    const dropTable = () => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'ip', 'knit'], { stdio: 'ignore' });
    const tryDrop = () => { try { dropTable(); } catch { /* absent */ } };
    const options = nftOptions(specSchema.parse((await import('yaml')).parse(specYaml(1))));
    for (const peers of TRANSACTION_SIZES) {
      const want = { peers: [], nodes: ['10.0.0.10', '203.0.113.10'] };
      for (let k = 1; k <= peers; k++) {
        const peer = { name: `peer-${k}`, privateIP: nth(10, 1, k), publicIP: nth(198, 18, k) };
        want.peers.push(peer);
        want.nodes.push(peer.privateIP, peer.publicIP);
      }
      tryDrop();
      const transaction = timed(inNs('nft', '-f', '-'), { input: renderNftTable(want, options), before: tryDrop });
      const loaded = parseNftTable(sh(inNs('nft', '-j', 'list', 'table', 'ip', 'knit')));
      if (loaded.maps.toPublic.size !== peers) throw new Error(`the table holds ${loaded.maps.toPublic.size} peers, not ${peers}`);
      results.push({ name: `crossvpc: nft transaction, ${peers} peers`, seconds: transaction, ...(peers === 10000 ? { target: TRANSACTION_GOAL_S } : {}) });
    }
    for (const peers of SIZES) {
      const file = join(dir, `spec-${peers}.yaml`);
      writeFileSync(file, specYaml(peers));
      // the same spec as JSON (what a script that generates one writes): parsed natively
      const jsonFile = join(dir, `spec-${peers}.json`);
      writeFileSync(jsonFile, JSON.stringify((await import('yaml')).parse(specYaml(peers))));
      const root = join(dir, `root-${peers}`);
      const applyWith = (spec) => inNs('env', `KNIT_HOST_ROOT=${root}`, 'node', knit, 'crossvpc', 'apply', '-f', spec, '--node-name', 'local', '--skip', 'crossvpc/boot');
      const apply = applyWith(file);
      const fresh = () => (tryDrop(), rmSync(join(root, 'etc'), { recursive: true, force: true }));
      fresh();
      sh(apply); // warms knit's code cache for this command
      const firstJson = timed(applyWith(jsonFile), { before: fresh });
      const first = timed(apply, { before: fresh });
      const before = sh(inNs('nft', '-j', 'list', 'table', 'ip', 'knit'));
      const again = timed(apply);
      if (sh(inNs('nft', '-j', 'list', 'table', 'ip', 'knit')) !== before) throw new Error('an unchanged re-apply changed the table');
      const ratio = (s) => (s / baseline).toFixed(2);
      results.push(
        { name: `crossvpc apply, ${peers} peers, first`, seconds: first, note: `ratio ${ratio(first)} to node -e 0 in the netns (${(baseline * 1000).toFixed(0)} ms; goal <= ${GOALS[peers]}) ${first / baseline <= GOALS[peers] ? 'ok' : 'OVER'}` },
        { name: `crossvpc apply, ${peers} peers, first, JSON spec`, seconds: firstJson, note: `ratio ${ratio(firstJson)} (goal <= ${GOALS[peers]}) ${firstJson / baseline <= GOALS[peers] ? 'ok' : 'OVER'}` },
        { name: `crossvpc apply, ${peers} peers, unchanged`, seconds: again, note: `ratio ${ratio(again)} (goal <= ${GOALS[peers]}) ${again / baseline <= GOALS[peers] ? 'ok' : 'OVER'}` },
      );
    }
    return results;
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await benchCrossVpc());
