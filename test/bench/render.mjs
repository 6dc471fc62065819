/**
 * Benchmark: `knit render` of large specs (one VPC, addresses in 198.18.0.0/15, the benchmarking
 * range). The default render (the local node's files only) of 1,000 and 5,000 nodes, their ratio (the
 * work is linear when 5× the nodes cost well under 5× the time above a process start), the peak RSS of
 * the 5,000-node run (process.resourceUsage().maxRSS, read in the knit process itself by a preload),
 * and `--all-nodes --out DIR` of 5,000 nodes (every node's join config: 5,000 files, written one by one).
 * Alone: `node test/bench/render.mjs` (after `npm run build`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const knit = fileURLToPath(new URL('../../bin/knit.js', import.meta.url));
const RUNS = Number(process.env.BENCH_RENDER_RUNS ?? 5);
/** Goals from issue #16: the default render of 5,000 nodes within 5 s, linear in the node count. */
const GOAL_5000_S = 5;
const LINEAR_GOAL = 5;

const ip = (k) => `198.${18 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
function specJson(n) {
  const nodes = Array.from({ length: n }, (_, k) => ({ name: `node-${k + 1}`, role: k === 0 ? 'control-plane' : 'worker', privateIP: ip(k + 1), vpc: 'bench' }));
  return JSON.stringify({ kubernetes: { controlPlaneEndpoint: ip(1) }, nodes });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median wall time (s) of RUNS runs, and the largest peak RSS (MB) any of them reported. */
function timed(argv, dir) {
  const rssFile = join(dir, 'rss');
  const preload = join(dir, 'rss-preload.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`);
  const samples = [];
  let rssKb = 0;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    execFileSync('node', ['--require', preload, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    samples.push(performance.now() - t);
    rssKb = Math.max(rssKb, Number(readFileSync(rssFile, 'utf8')));
  }
  return { seconds: median(samples) / 1000, rssMb: rssKb / 1024 };
}

export async function benchRender() {
  const dir = mkdtempSync(join(tmpdir(), 'knit-bench-render-'));
  try {
    const file = (n) => {
      const f = join(dir, `spec-${n}.json`);
      writeFileSync(f, specJson(n));
      return f;
    };
    const start = timed(['-e', '0'], dir);
    const small = timed([knit, 'render', '-f', file(1000)], dir);
    const large = timed([knit, 'render', '-f', file(5000)], dir);
    // above the process start: what the nodes cost
    const ratio = (large.seconds - start.seconds) / (small.seconds - start.seconds);
    const out = join(dir, 'out');
    const all = timed([knit, 'render', '-f', join(dir, 'spec-5000.json'), '--all-nodes', '--out', out], dir);
    const written = readdirSync(out).length;
    return [
      { name: 'render 1,000 nodes (local node only)', seconds: small.seconds, note: `peak RSS ${small.rssMb.toFixed(0)} MB` },
      {
        name: 'render 5,000 nodes (local node only)',
        seconds: large.seconds,
        target: GOAL_5000_S,
        note: `peak RSS ${large.rssMb.toFixed(0)} MB; 5,000 vs 1,000 nodes above a node start: ${ratio.toFixed(2)}× (linear <= ${LINEAR_GOAL}: ${ratio <= LINEAR_GOAL ? 'ok' : 'OVER'})`,
      },
      // the linearity as a ratio row (bench.mjs prints it with its verdict)
      { name: 'render 5,000 / 1,000 nodes, above a node start', ms: (large.seconds - start.seconds) * 1000, ratio, target: LINEAR_GOAL, note: '(5 would be linear)' },
      { name: 'render 5,000 nodes --all-nodes --out DIR', seconds: all.seconds, note: `${written} files, peak RSS ${all.rssMb.toFixed(0)} MB` },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  for (const r of await benchRender()) console.log(r.name, r.ratio !== undefined ? `ratio ${r.ratio.toFixed(2)}` : `${(r.seconds * 1000).toFixed(0)} ms`, r.note ?? '');
